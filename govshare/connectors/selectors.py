"""Permission-checked reads of connectors. Only the providing department (its provider staff and department
administrator) sees a connector, its runs and their reports; for everyone else it does not exist (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from govshare.accounts.choices import Role
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.core.errors import NotFound

PROVIDER_SIDE = (Role.PROVIDER, Role.DEPT_ADMIN)


def connectors_visible_to(user: Any) -> QuerySet[SourceConnector]:
    qs = SourceConnector.objects.select_related("dataset", "dataset__resource")
    if getattr(user, "role", None) in PROVIDER_SIDE and getattr(user, "department_id", None):
        return qs.filter(dataset__resource__provider_id=user.department_id)
    return qs.none()


def visible_connector(user: Any, connector_id: Any) -> SourceConnector:
    connector = connectors_visible_to(user).filter(pk=connector_id).first()
    if connector is None:
        raise NotFound("连接器不存在 (connector not found)")
    return connector


def runs_of(user: Any, connector: SourceConnector) -> QuerySet[ConnectorRun]:
    """The connector's runs (empty unless the connector is visible to the user; checked in the same query)."""
    return ConnectorRun.objects.filter(connector=connector, connector__in=connectors_visible_to(user).values("pk"))
