"""Portal pages of the exchange (共享交换): applications and review inboxes, decisions, grants and suspensions.
Thin: reads through ``selectors`` / ``selectors_pages``, writes through ``services``."""

from govshare.exchange.views.applications import application, application_action, apply, inbox_view, my_applications
from govshare.exchange.views.decisions import decide, guard_override, refuse
from govshare.exchange.views.grants import (
    grant_detail,
    grant_list,
    grant_revoke,
    grant_suspend,
    suspension_create,
    suspension_lift,
    suspension_list,
)

__all__ = [
    "application", "application_action", "apply", "decide", "grant_detail", "grant_list", "grant_revoke",
    "grant_suspend", "guard_override", "inbox_view", "my_applications", "refuse", "suspension_create",
    "suspension_lift", "suspension_list",
]
