from __future__ import annotations

from django.db.models import QuerySet

from govshare.organizations.models import Department, Node, Region


def departments_visible_to(user: object) -> QuerySet[Department]:
    """Department names and codes are directory data: every signed-in user may list them."""
    return Department.objects.select_related("node", "region").filter(active=True)


def nodes() -> QuerySet[Node]:
    return Node.objects.select_related("parent", "region")


def region_exists(code: str) -> bool:
    return Region.objects.filter(code=code).exists()
