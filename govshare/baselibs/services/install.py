"""Installing a base library on a node (安装基础库) and asking for a fusion run.

Installing creates the library as a catalog resource (基础信息资源, 有条件共享; items from the definition's data
elements, the key field marked ``is_key``), submits and publishes it, mounts it, and records the bindings of
every field: exactly one authoritative source column (一数一源) and any cross-check source columns (多元校核).
The resource is created and submitted by the platform on the data office's behalf (the data office is not a
providing department); the data office publishes it; the ``baselib.installed`` event names the installer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.baselibs.choices import LibraryKind, SourceRole
from govshare.baselibs.conf import FUSE_JOB, is_data_office_of, is_platform, user_or_none
from govshare.baselibs.definitions import DefinitionError, LibraryDef, check_against_catalog, get_definition
from govshare.baselibs.models import BaseLibrary, LibrarySource
from govshare.catalog.choices import DataType, ResourceFormat, ShareMode, ShareType
from govshare.catalog.models import DataElement
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, create_resource
from govshare.core import periodic
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.datasets.services import mount_resource
from govshare.datasets.validation import Column, columns_for
from govshare.organizations.models import Department, Node

SHARE_CONDITION = ("基础库数据按一数一源融合自各权威来源部门，仅供经授权的部门在履职范围内核验和查询，"
                   "调用须注明办件编号或事项编码。")


@dataclass(frozen=True)
class Binding:
    field: str
    role: str
    position: int
    dataset: Dataset
    column: str
    match_column: str


def require_installer(actor: Any, node: Node) -> None:
    """The node's data office (数据主管部门), or the platform itself."""
    if not (is_platform(actor) or is_data_office_of(actor, node.pk)):
        raise PermissionDenied("只有本节点的数据主管部门可以安装基础库和发起融合 (the node's data office only)")


def _ref(raw: Any) -> tuple[Any, str, str | None]:
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) in (2, 3):
        dataset, column = raw[0], raw[1]
        match = raw[2] if len(raw) == 3 else None
        return dataset, str(column or ""), (str(match) if match else None)
    raise TypeError("a source is (dataset, column) or (dataset, column, match_column)")


class _Checker:
    def __init__(self, defn: LibraryDef, node: Node) -> None:
        self.defn = defn
        self.node = node
        self.errors: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self._columns: dict[Any, dict[str, Column]] = {}
        self.bindings: list[Binding] = []

    def error(self, where: str, reason: str) -> None:
        self.errors.append({"field": where, "reason": reason})

    def columns(self, dataset: Dataset) -> dict[str, Column]:
        if dataset.pk not in self._columns:
            self._columns[dataset.pk] = {c.column_name: c for c in columns_for(dataset.resource)}
        return self._columns[dataset.pk]

    def binding(self, where: str, column_name: str, role: str, position: int, raw: Any) -> Binding | None:
        f = self.defn.field(column_name)
        try:
            dataset, column, match = _ref(raw)
        except TypeError:
            self.error(where, "来源应为 (数据集, 列名) 或 (数据集, 列名, 关联列) (a source is (dataset, column[, "
                              "match_column]))")
            return None
        if not isinstance(dataset, Dataset):
            self.error(where, "来源数据集无效 (not a dataset)")
            return None
        resource = dataset.resource
        if dataset.node_id != self.node.pk:
            self.error(where, "来源数据集须属于本节点 (the source dataset must belong to the library's node)")
            return None
        if not resource.is_listed or resource.published_version is None:
            self.error(where, f"来源资源 {resource.code} 未发布或已撤销 (the source resource is not listed)")
            return None
        cols = self.columns(dataset)
        col = cols.get(column)
        if col is None:
            self.error(where, f"数据集 {resource.code} 没有列 {column} (no such column)")
            return None
        if col.element_code != f.element:
            self.error(where, f"列 {column} 的数据元 {col.element_code} 与字段 {f.name} 的数据元 {f.element} 不同 "
                              f"(the source column must carry the field's data element)")
        match = match or dataset.key_column
        mcol = cols.get(match)
        key_element = self.defn.key_field.element
        if mcol is None:
            self.error(where, f"数据集 {resource.code} 没有关联列 {match} (no such match column)")
            return None
        if mcol.element_code != key_element:
            self.error(where, f"数据集 {resource.code} 的关联列 {match} 须承载基础库主键的数据元 {key_element} "
                              f"(the source must carry the library key: its key column, or a match column)")
        if match != dataset.key_column and not f.multi:
            self.error(where, f"只有多值字段可以按非主键列 {match} 归集 (only a multi-valued field may group "
                              f"source records by a non-key column)")
        if column_name == self.defn.key and (match != dataset.key_column or column != dataset.key_column):
            self.error(where, "主键字段的权威来源须是该数据集的主键列 (the key field's source must be the dataset's "
                              "key column)")
        expected = f.authoritative if role == SourceRole.AUTHORITATIVE else None
        dept = resource.provider.name
        if expected and not self.defn.role_matches(expected, dept):
            self.warnings.append(f"{column_name}: 权威来源 {dept} 看起来不是定义中的 {expected} "
                                 f"(the authoritative department does not look like {expected})")
        b = Binding(field=column_name, role=role, position=position, dataset=dataset, column=column,
                    match_column=match)
        self.bindings.append(b)
        return b

    def check(self, sources: Mapping[str, Any]) -> None:
        known = set(self.defn.columns)
        for name in sorted(set(sources) - known):
            self.error(f"sources.{name}", f"定义中没有字段 {name} (no such field in the definition)")
        for f in self.defn.fields:
            spec = sources.get(f.column)
            where = f"sources.{f.column}"
            if not isinstance(spec, Mapping) or spec.get("authoritative") is None:
                self.error(where, f"一数一源：字段 {f.name} 须有且只有一个权威来源 "
                                  f"(exactly one authoritative source per field)")
                continue
            unknown = set(spec) - {"authoritative", "cross_checks"}
            if unknown:
                self.error(where, f"未知属性 {', '.join(sorted(unknown))} (unknown attribute)")
            auth_raw = spec["authoritative"]
            if isinstance(auth_raw, list | tuple) and auth_raw and isinstance(auth_raw[0], list | tuple):
                self.error(f"{where}.authoritative", "一数一源：权威来源只能有一个，其他来源请作为校核来源 "
                                                     "(exactly one authoritative source; others are cross-checks)")
                continue
            auth = self.binding(f"{where}.authoritative", f.column, SourceRole.AUTHORITATIVE, 0, auth_raw)
            cross = spec.get("cross_checks") or []
            if f.column == self.defn.key and cross:
                self.error(f"{where}.cross_checks", "主键字段没有校核来源 (the key field has no cross-checks)")
                continue
            seen: set[tuple[Any, str]] = set()
            for n, raw in enumerate(cross):
                b = self.binding(f"{where}.cross_checks[{n}]", f.column, SourceRole.CROSS_CHECK, n, raw)
                if b is None:
                    continue
                if auth is not None and b.dataset.pk == auth.dataset.pk:
                    self.error(f"{where}.cross_checks[{n}]", "校核来源须是另一个数据集 (a cross-check must come "
                                                             "from another dataset than the authoritative source)")
                if (b.dataset.pk, b.column) in seen:
                    self.error(f"{where}.cross_checks[{n}]", "校核来源重复 (duplicate cross-check)")
                seen.add((b.dataset.pk, b.column))


def _items(defn: LibraryDef) -> list[ItemSpec]:
    elements = {e.code: e for e in DataElement.objects.filter(code__in=[f.element for f in defn.fields])}
    items = []
    for f in defn.fields:
        element = elements[f.element]
        # A multi-valued field stores its items joined: text, whatever the element's own type.
        data_type = DataType.STRING if f.multi and element.data_type != DataType.STRING else None
        items.append(ItemSpec(name=f.name, element_code=f.element, column_name=f.column, data_type=data_type,
                              length=f.length, required=f.required, is_key=f.column == defn.key))
    return items


def install_library(
    *,
    actor: Any,
    node: Node,
    code: str,
    sources: Mapping[str, Mapping[str, Any]],
    provider_department: Department,
) -> BaseLibrary:
    """Install the base library ``code`` on ``node``, provided by ``provider_department`` (usually the data
    office's own department), with ``sources``: ``{field: {"authoritative": (dataset, column),
    "cross_checks": [(dataset, column), ...]}}`` — a source may add a third element, the source column that
    holds the library key when it is not the dataset's key (a grouped source of a multi-valued field).
    The first fusion run is due at once (the periodic job runs it)."""
    require_installer(actor, node)
    defn = get_definition(code)
    if defn is None:
        raise ValidationFailed(f"没有基础库定义 {code} (no such base-library definition)", field="code")
    if defn.kind != LibraryKind.FUSION:
        raise ValidationFailed("电子证照库由电子证照模块维护，不经融合安装 (the licence library is kept by the "
                               "licences module and is not installed for fusion)", field="code")
    problems = check_against_catalog(defn)
    if problems:
        raise ValidationFailed(str(DefinitionError(problems)), field="code", details={"problems": problems})
    if provider_department.node_id != node.pk:
        raise ValidationFailed("提供部门须属于本节点 (the providing department must belong to the node)",
                               field="provider_department")
    if not isinstance(sources, Mapping):
        raise ValidationFailed("sources 应为 {字段: {authoritative, cross_checks}} (sources must be a mapping)",
                               field="sources")
    checker = _Checker(defn, node)
    checker.check(sources)
    if checker.errors:
        first = checker.errors[0]
        raise ValidationFailed(f"{first['field']}: {first['reason']}", field=first["field"], errors=checker.errors)
    with transaction.atomic():
        if BaseLibrary.objects.filter(node=node, code=code).exists():
            raise Conflict(f"本节点已安装基础库 {defn.name} (the library is already installed on this node)")
        fields = ResourceFields(
            name=defn.name, classification_code=defn.classification, summary=defn.summary,
            share_type=ShareType.CONDITIONAL, share_condition=SHARE_CONDITION,
            share_modes=[ShareMode.API, ShareMode.TABLE], formats=[ResourceFormat.DATABASE],
            update_cycle=defn.update_cycle, tags=["基础库", defn.code])
        resource = create_resource(actor=None, provider=provider_department, fields=fields, items=_items(defn))
        resource = apply_action(actor=None, resource=resource, action="submit")
        resource = apply_action(actor=None if is_platform(actor) else actor, resource=resource, action="publish")
        dataset = mount_resource(actor=None, resource=resource)
        now = timezone.now()
        library = BaseLibrary.objects.create(
            node=node, code=defn.code, name=defn.name, definition=defn.snapshot(), resource=resource,
            dataset=dataset, due=True, due_full=True, due_at=now, installed_by=user_or_none(actor))
        LibrarySource.objects.bulk_create([
            LibrarySource(library=library, field=b.field, role=b.role, position=b.position, dataset=b.dataset,
                          column=b.column, match_column=b.match_column)
            for b in checker.bindings])
        record_event(actor=actor, action="baselib.installed", target_type="base_library", target_id=str(library.pk),
                     data={"code": defn.code, "resource": resource.code, "dataset": str(dataset.pk),
                           "provider": str(provider_department.pk), "warnings": checker.warnings,
                           "sources": [{"field": b.field, "role": b.role, "dataset": str(b.dataset.pk),
                                        "column": b.column, "match_column": b.match_column}
                                       for b in checker.bindings]})
        periodic.kick_on_commit(FUSE_JOB)
    return library


def request_run(*, actor: Any, library: BaseLibrary, full: bool = False) -> BaseLibrary:
    """"Run now" (立即融合): mark the library due; the periodic job runs it after this commits."""
    require_installer(actor, library.node)
    with transaction.atomic():
        locked = BaseLibrary.objects.select_for_update().get(pk=library.pk)
        locked.due = True
        locked.due_full = locked.due_full or full
        locked.due_at = timezone.now()
        locked.save(update_fields=["due", "due_full", "due_at", "updated_at"])
        record_event(actor=actor, action="baselib.run_requested", target_type="base_library",
                     target_id=str(locked.pk), data={"code": locked.code, "full": full})
        periodic.kick_on_commit(FUSE_JOB)
    return locked
