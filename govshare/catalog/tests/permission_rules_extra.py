"""Permission rules for the catalog routers mounted beside ``catalog.api`` (search, import/export)."""

from __future__ import annotations

import json
from typing import Any

from govshare.accounts.choices import Role
from govshare.catalog.tests.test_permission_matrix import Rule, World, signed_in

IMPORTERS = {Role.DATA_OFFICE, Role.DEPT_ADMIN, Role.PROVIDER}


def import_request(w: World) -> tuple[str, str, dict[str, Any]]:
    rows = [{"信息资源名称": "矩阵测试资源", "信息资源提供方": w.draft.provider.name, "更新周期": "每月"}]
    return ("post", "/api/v1/catalog/import",
            {"__multipart__": {"file": ("catalog.json", json.dumps(rows, ensure_ascii=False).encode())}})


def import_expect(role: str | None, in_scope: bool) -> int:
    if role is None:
        return 401
    if role not in IMPORTERS:
        return 403
    # In scope the row names the importer's own department (or one on the data office's node);
    # out of scope it names a department the importer may not import for: the whole batch is rejected.
    return 200 if in_scope else 422


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/search"): (lambda w: ("get", "/api/v1/catalog/search?q=资源", None), signed_in(200)),
    ("GET", "/search.csv"): (lambda w: ("get", "/api/v1/catalog/search.csv?q=资源", None), signed_in(200)),
    ("GET", "/search.json"): (lambda w: ("get", "/api/v1/catalog/search.json?q=资源", None), signed_in(200)),
    ("POST", "/import"): (import_request, import_expect),
    ("GET", "/export.xlsx"): (lambda w: ("get", "/api/v1/catalog/export.xlsx", None), signed_in(200)),
    ("GET", "/export.csv"): (lambda w: ("get", "/api/v1/catalog/export.csv", None), signed_in(200)),
    ("GET", "/export-items.csv"): (lambda w: ("get", "/api/v1/catalog/export-items.csv", None), signed_in(200)),
    ("GET", "/export.zip"): (lambda w: ("get", "/api/v1/catalog/export.zip", None), signed_in(200)),
}
