"""Writes of the base libraries: installing a library (``install``), the fusion job (``fusion``) with its
discrepancies (``discrepancies``) and grouped-source index (``grouping``). Every function takes keyword-only
arguments and an explicit ``actor`` and writes its audit events in the same transaction as its changes."""

from govshare.baselibs.services.fusion import fuse, fuse_due, libraries_due
from govshare.baselibs.services.install import install_library, request_run, require_installer

__all__ = ["fuse", "fuse_due", "install_library", "libraries_due", "request_run", "require_installer"]
