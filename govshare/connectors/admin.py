from django.contrib import admin

from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.core.admin import ReadOnlyAdmin


@admin.register(SourceConnector)
class SourceConnectorAdmin(ReadOnlyAdmin):
    list_display = ("name", "engine", "host", "status", "next_pull_at", "consecutive_failures")
    exclude = ("password_enc", "source_query", "watermark")


@admin.register(ConnectorRun)
class ConnectorRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "connector", "kind", "status", "started_at", "rows_read")
    exclude = ("report", "progress")  # sample keys are identifiers: only the providing department reads them
