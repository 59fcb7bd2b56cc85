"""The licence library (电子证照库) as a catalog resource of the node, in the base classification 电子证照, so that
department systems apply for it and query it under a grant like any other resource."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from govshare.audit.services import record_event
from govshare.catalog.choices import ShareMode, ShareType, UpdateCycle
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, create_resource
from govshare.core.errors import Conflict, PermissionDenied
from govshare.licences.models import LicenceLibrary
from govshare.licences.services.common import is_data_office, is_platform
from govshare.organizations.models import Department, Node

LIBRARY_CLASSIFICATION = "105"  # 基础信息资源 / 电子证照信息
LIBRARY_NAME = "电子证照库"
LIBRARY_ITEMS = [
    ItemSpec(name="持证主体代码", element_code="DE0051", is_key=True),
    ItemSpec(name="持证主体名称", element_code="DE0052", required=True),
    ItemSpec(name="证照类型代码", element_code="DE0053", required=True),
    ItemSpec(name="证照名称", element_code="DE0032", required=True),
    ItemSpec(name="证照编号", element_code="DE0031", required=True),
    ItemSpec(name="发证机关", element_code="DE0035"),
    ItemSpec(name="发证日期", element_code="DE0033"),
    ItemSpec(name="有效期至", element_code="DE0034"),
    ItemSpec(name="照面信息", element_code="DE0054"),
]


def library_of(node_id: Any) -> LicenceLibrary | None:
    return LicenceLibrary.objects.select_related("resource").filter(node_id=node_id).first()


def ensure_licence_resource(*, actor: Any, node: Node) -> Resource:
    """The node's licence library resource, created and published on first call (data office; idempotent).

    The provider is the node's data office department (the library is run by the 数据主管部门)."""
    if not is_platform(actor) and not is_data_office(actor, node.pk):
        raise PermissionDenied("只有本节点数据主管部门可以建立电子证照库 (data office only)")
    existing = library_of(node.pk)
    if existing is not None:
        return existing.resource
    office = getattr(actor, "department", None) if not is_platform(actor) else None
    office = office or Department.objects.filter(node=node, is_data_office=True, active=True).order_by("name").first()
    if office is None:
        raise Conflict("本节点没有数据主管部门 (the node has no data office department)")
    fields = ResourceFields(
        name=LIBRARY_NAME, classification_code=LIBRARY_CLASSIFICATION,
        summary="本节点签发和归集的电子证照（一次生成、多方复用、一库管理、互认共享）；部门系统按持证主体代码一号申请查询有效证照，"
                "每次用证记录办件编号和事项编码。",
        share_type=ShareType.CONDITIONAL, share_condition="用于办理政务服务事项，须提供办件编号和事项编码",
        share_modes=[ShareMode.API], update_cycle=UpdateCycle.REALTIME, tags=["电子证照", "一号申请"])
    with transaction.atomic():
        locked = Node.objects.select_for_update().get(pk=node.pk)
        again = library_of(locked.pk)
        if again is not None:
            return again.resource
        # The catalog's own actor rules know provider staff and the data office of the node; the library is
        # created by the platform on the data office's behalf, and this app's event names the real actor.
        resource = create_resource(actor=None, provider=office, fields=fields, items=LIBRARY_ITEMS)
        resource = apply_action(actor=None, resource=resource, action="submit")
        publisher = actor if not is_platform(actor) else None
        resource = apply_action(actor=publisher, resource=resource, action="publish")
        LicenceLibrary.objects.create(node=locked, resource=resource)
        record_event(actor=actor, action="licences.library_created", target_type="resource",
                     target_id=str(resource.pk), data={"code": resource.code, "node": locked.code})
    return resource
