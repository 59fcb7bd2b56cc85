"""Portal pages of source connectors (前置库), through django.test.Client: create with the allowlist error beside
the host field, the password never in the page HTML, run now only makes the run due (the worker runs it), the
list with the last pull and the last reconciliation report, scope (404), list query counts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.conftest import client_for
from govshare.connectors.dispatch import dispatch
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.tests.conftest import connect_source
from govshare.connectors.tests.sources import COLUMN_MAP, person

pytestmark = pytest.mark.django_db

SECRET = "Qzk-Page-Password-5531"


def form_data(dataset: Any, src: Any, **over: Any) -> dict[str, Any]:
    endpoint = {k: ("" if v is None else v) for k, v in src.endpoint().items()}
    return {"dataset_id": str(dataset.pk), "name": "户籍前置库", **endpoint, "source_table": src.table,
            "column_map": "\n".join(f"{s} = {t}" for s, t in COLUMN_MAP.items()), "key_column": "sfzh",
            "incremental_column": "gxsj", "incremental_type": "timestamp", "overlap_seconds": "300",
            "page_size": "100", "verify": "on", **over}


def errors_of(html: str, field: str) -> str:
    found = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def test_a_host_off_the_allowlist_is_refused_beside_the_field(dataset: Any, provider: Any) -> None:
    c = client_for(provider)
    page = c.post("/connectors/new/", {
        "dataset_id": str(dataset.pk), "name": "户籍前置库", "engine": "postgresql", "host": "10.9.8.7",
        "port": "5432", "database": "qzk", "user": "gs_reader", "password": SECRET, "source_table": "jh.rk_jbxx",
        "incremental_type": "timestamp", "overlap_seconds": "300", "page_size": "100", "verify": "on"})
    html = page.content.decode()
    assert page.status_code == 200 and errors_of(html, "host"), html
    assert SECRET not in html  # not even echoed back into the refused form
    assert not SourceConnector.objects.exists()


def test_create_with_password_never_shown_then_edit(make_source: Any, dataset: Any, provider: Any,
                                                    allow_local: Any) -> None:
    src = make_source("postgresql").create(person(n) for n in range(1, 6))
    c = client_for(provider)
    created = c.post("/connectors/new/", form_data(dataset, src, password=SECRET))
    assert created.status_code == 302, errors_of(created.content.decode(), "host") or created.content.decode()
    connector = SourceConnector.objects.get()
    assert connector.password_enc and SECRET not in connector.password_enc
    for url in ("/connectors/", f"/connectors/{connector.pk}/", f"/connectors/{connector.pk}/edit/"):
        html = c.get(url).content.decode()
        assert SECRET not in html and "pg-Conn-Secret" not in html, url
    edit = c.get(f"/connectors/{connector.pk}/edit/").content.decode()
    assert 'name="password"' in edit and "已设置密码" in edit
    # an edit that fails (unknown source table) re-renders without the password typed
    bad = c.post(f"/connectors/{connector.pk}/edit/", {**form_data(dataset, src, password="New-Pass-9"),
                                                        "source_table": "no_such_table"})
    html = bad.content.decode()
    assert bad.status_code == 200 and errors_of(html, "source_table") and "New-Pass-9" not in html
    # a blank password keeps the stored one
    before = connector.password_enc
    kept = c.post(f"/connectors/{connector.pk}/edit/", form_data(dataset, src, password="", name="户籍库（改）"))
    assert kept.status_code == 302
    connector.refresh_from_db()
    assert connector.name == "户籍库（改）" and connector.password_enc == before


def test_run_now_enqueues_and_the_list_shows_the_last_pull_and_reconciliation(
        make_source: Any, dataset: Any, provider: Any, allow_local: Any) -> None:
    src = make_source("sqlite").create(person(n) for n in range(1, 9))
    connector = connect_source(src, dataset, provider)
    SourceConnector.objects.filter(pk=connector.pk).update(next_pull_at=timezone.now() + timezone.timedelta(days=1))
    c = client_for(provider)
    assert c.post(f"/connectors/{connector.pk}/run_pull/").status_code == 302
    connector.refresh_from_db()
    assert connector.run_requested and connector.next_pull_at <= timezone.now()
    assert not ConnectorRun.objects.exists()  # only made due: nothing ran inside the request
    dispatch(budget_seconds=30)
    pull = ConnectorRun.objects.get(kind="pull")
    assert (pull.status, pull.inserted) == ("succeeded", 8)

    src.delete([person(1)[0]])  # a deletion only a reconciliation sees
    assert c.post(f"/connectors/{connector.pk}/run_reconcile/").status_code == 302
    dispatch(budget_seconds=30)
    rec = ConnectorRun.objects.get(kind="reconcile")
    assert rec.status == "succeeded" and rec.deleted == 1
    listing = c.get("/connectors/").content.decode()
    assert f"/connectors/{connector.pk}/runs/{pull.pk}/" in listing
    assert f"/connectors/{connector.pk}/runs/{rec.pk}/" in listing and "0 / 0 / 1 / 0" in listing
    report = c.get(f"/connectors/{connector.pk}/runs/{rec.pk}/").content.decode()
    assert person(1)[0] in report  # the sample key, for the providing department only
    csv = c.get(f"/connectors/{connector.pk}/?format=csv").content.decode("utf-8-sig")
    assert "源端已删" in csv and person(1)[0] not in csv  # the export carries counts only

    assert c.post(f"/connectors/{connector.pk}/pause/").status_code == 302
    refused = c.post(f"/connectors/{connector.pk}/run_pull/", follow=True).content.decode()
    assert "已暂停" in refused


def test_other_departments_get_404(make_source: Any, dataset: Any, provider: Any, allow_local: Any,
                                   consumer: Any, data_office: Any) -> None:
    src = make_source("sqlite").create(person(n) for n in range(1, 3))
    connector = connect_source(src, dataset, provider)
    other = testing.user(Role.PROVIDER, dept=testing.department(dataset.node, name="市民政局"))
    c = client_for(other)
    assert c.get(f"/connectors/{connector.pk}/").status_code == 404
    assert c.get(f"/connectors/{connector.pk}/edit/").status_code == 404
    assert c.post(f"/connectors/{connector.pk}/run_pull/").status_code == 404
    assert connector.name not in c.get("/connectors/").content.decode()
    assert client_for(consumer).get("/connectors/").status_code == 403
    assert client_for(data_office).get(f"/connectors/{connector.pk}/").status_code == 403


def test_list_queries_do_not_grow_with_connectors(make_source: Any, dataset: Any, provider: Any, allow_local: Any,
                                                  django_assert_max_num_queries: Any) -> None:
    src = make_source("sqlite").create(person(n) for n in range(1, 4))
    made = [connect_source(src, dataset, provider, name=f"前置库{n}") for n in range(4)]
    for connector in made:
        ConnectorRun.objects.create(connector=connector, kind="pull", status="succeeded", inserted=3)
        ConnectorRun.objects.create(connector=connector, kind="reconcile", status="succeeded", deleted=1,
                                    report={"drifted": {"count": 2, "sample_keys": []}})
    c = client_for(provider)
    c.get("/connectors/")
    with django_assert_max_num_queries(8):
        html = c.get("/connectors/").content.decode()
    assert all(f"前置库{n}" in html for n in range(4)) and html.count("0 / 0 / 1 / 2") == 4
