"""Catalog import (目录导入): see ``importer`` for the decisions and ``layout`` for the workbook."""

from govshare.catalog.importer.importer import import_catalog
from govshare.catalog.importer.summary import ImportRejected, ImportSummary, Rejection

__all__ = ["ImportRejected", "ImportSummary", "Rejection", "import_catalog"]
