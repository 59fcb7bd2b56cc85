from __future__ import annotations

import pytest
from django.test import Client

from govshare.api import api

pytestmark = pytest.mark.django_db


def test_openapi_lists_every_route_and_the_error_envelope() -> None:
    resp = Client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    full = "/api/v1" + (prefix.rstrip("/") + "/" + path.lstrip("/")).rstrip("/")
                    full = "/api/v1/" + full.split("/api/v1/", 1)[1].lstrip("/")
                    assert (method, full) in documented or (method, full + "/") in documented, (method, full)
    assert doc["info"]["title"] == "govshare API"


def test_unknown_api_path_is_404() -> None:
    assert Client().get("/api/v1/nope").status_code == 404
