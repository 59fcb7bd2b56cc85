"""The control-plane REST API under /api/v1/ (django-ninja). Apps contribute routers."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from govshare.accounts.api import router as accounts_router
from govshare.audit.api import router as audit_router
from govshare.baselibs.api import router as baselibs_router
from govshare.catalog.api import router as catalog_router
from govshare.catalog.api_io import router as catalog_io_router
from govshare.catalog.api_search import router as catalog_search_router
from govshare.connectors.api import router as connectors_router
from govshare.core.api import SessionUserAuth, install_error_handlers
from govshare.datasets.api import router as datasets_router
from govshare.exchange.api import router as exchange_router
from govshare.exchange.dataplane.openapi import extend_openapi
from govshare.licences.api import router as licences_router
from govshare.organizations.api import router as organizations_router
from govshare.quality.api import router as quality_router
from govshare.registry.api import router as registry_router
from govshare.stats.api import router as stats_router
from govshare.subscriptions.api import router as subscriptions_router


class GovshareAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
                           ) -> OpenAPISchema:  # the lean data plane (/dp/v1/) is described too
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        extend_openapi(schema)
        return schema


api = GovshareAPI(
    title="govshare API",
    version="1",
    description=(
        "政务信息资源共享交换平台 control-plane API. Every 4xx/5xx answers with the envelope "
        '`{"ok": false, "error": {"code", "message", "details"}}`. Lists use opaque cursors.'
    ),
    auth=SessionUserAuth(),
    urls_namespace="api-v1",
)
install_error_handlers(api)
api.add_router("/auth", accounts_router)
api.add_router("/org", organizations_router)
api.add_router("/registry", registry_router)
api.add_router("/catalog", catalog_router)
api.add_router("/catalog", catalog_search_router)
api.add_router("/catalog", catalog_io_router)
api.add_router("/datasets", datasets_router)
api.add_router("/exchange", exchange_router)
api.add_router("/audit", audit_router)
api.add_router("/connectors", connectors_router)
api.add_router("/subscriptions", subscriptions_router)
api.add_router("/quality", quality_router)
api.add_router("/baselibs", baselibs_router)
api.add_router("/licences", licences_router)
api.add_router("/stats", stats_router)
