"""Permission-checked reads for the audit portal pages that :mod:`govshare.audit.selectors` does not offer:
the sealed blocks of the chain and the stored summary of a verification run (auditors only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from govshare.audit.models import AuditBlock, VerificationRun
from govshare.audit.selectors import require_auditor


def blocks_for(user: Any) -> QuerySet[AuditBlock]:
    """The sealed blocks, oldest first (the chain's order); the event tags are left out (binary, large)."""
    require_auditor(user)
    return AuditBlock.objects.defer("tags").order_by("number")


def verification_summary(user: Any, run_id: Any) -> dict[str, Any]:
    """The report kept with a verification run (``VerifyReport.as_dict``, at most 20 problems listed)."""
    require_auditor(user)
    summary = VerificationRun.objects.filter(pk=run_id).values_list("summary", flat=True).first()
    return summary if isinstance(summary, dict) else {}
