"""The OpenAPI document stays true: two request/response schemas never share a component name (django-ninja
keys components by class name, so a clash silently shows one app's schema on the other's endpoints)."""

from __future__ import annotations

from collections import defaultdict

from ninja import Schema

from govshare.api import api


def _schema_classes() -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    stack: list[type] = list(Schema.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("govshare."):
            seen[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    return seen


def test_no_two_schemas_share_a_component_name() -> None:
    api.get_openapi_schema()  # imports every router's schemas
    clashes = {name: sorted(where) for name, where in _schema_classes().items() if len(where) > 1}
    assert clashes == {}
