"""Reads the catalog pages need beyond ``selectors``: the lifecycle actions a user may run, versions and
their diffs, the review history, masked sample rows and the data-plane call examples of one resource.

Every function takes a resource the caller already got from ``selectors.resources_visible_to`` (the
pages answer 404 before they get here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db.models import QuerySet

from govshare.accounts.choices import Role
from govshare.catalog import workflow
from govshare.catalog.choices import LifecycleAction, Sensitivity
from govshare.catalog.models import DataElement, Resource, ResourceVersion, ReviewRecord
from govshare.catalog.versions import diff_snapshots
from govshare.core.errors import ValidationFailed
from govshare.core.masking import MaskError, mask

SAMPLE_ROWS = 5
MASKED_FROM = Sensitivity.L3  # items at or above this level never show in clear on a page


@dataclass(frozen=True)
class ActionButton:
    action: str
    label: str
    needs_reason: bool
    by: str  # workflow.PROVIDER or workflow.DATA_OFFICE


def may_act(user: Any, resource: Resource, by: str) -> bool:
    """The same authority rule as ``services.apply_action``: the provider side of the providing
    department, or the data office of the resource's node."""
    role = getattr(user, "role", None)
    if by == workflow.PROVIDER:
        return role in (Role.PROVIDER, Role.DEPT_ADMIN) and user.department_id == resource.provider_id
    if by == workflow.DATA_OFFICE:
        return role == Role.DATA_OFFICE and user.node_id == resource.node_id
    return False


def actions_for(user: Any, resource: Resource) -> list[ActionButton]:
    """The lifecycle actions of ``workflow.TRANSITIONS`` this user may run on the resource now."""
    out = []
    for action in workflow.allowed_actions(resource.status):
        step = workflow.transition(resource.status, action)
        if step is not None and may_act(user, resource, step.by):
            out.append(ActionButton(str(action), str(LifecycleAction(action).label), step.needs_reason, step.by))
    return out


def is_provider_side(user: Any, resource: Resource) -> bool:
    return may_act(user, resource, workflow.PROVIDER)


def versions_of(resource: Resource) -> QuerySet[ResourceVersion]:
    return resource.versions.select_related("published_by").order_by("number")


def version_diff(resource: Resource, from_number: int, to_number: int) -> dict[str, Any]:
    """``versions.diff_snapshots`` between two published versions (the same answer as the API's diff)."""
    found = {v.number: v for v in resource.versions.filter(number__in=[from_number, to_number])}
    for n, name in ((from_number, "from"), (to_number, "to")):
        if n not in found:
            raise ValidationFailed(f"版本 {n} 不存在 (no such version)", field=name)
    return diff_snapshots(found[from_number].snapshot, found[to_number].snapshot)


def reviews_of(resource: Resource) -> QuerySet[ReviewRecord]:
    return resource.reviews.select_related("actor").order_by("created_at")


# ---------------------------------------------------------------------------------------------
# Data items with their data elements
# ---------------------------------------------------------------------------------------------


def items_with_elements(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``selectors.detail`` with their data element (one query)."""
    elements = {e.code: e for e in DataElement.objects.filter(code__in=[i["element_code"] for i in items])}
    out = []
    for i in items:
        el = elements.get(i["element_code"])
        out.append({**i, "element": el,
                    "sensitivity_label": Sensitivity(i["sensitivity"]).label
                    if i["sensitivity"] in Sensitivity.values else i["sensitivity"]})
    return out


def published_items(resource: Resource) -> list[dict[str, Any]]:
    """The items of the published version (what grants and the data plane use); none before publication."""
    if resource.published_version is None:
        return []
    return list(resource.published_version.snapshot.get("items", []))


# ---------------------------------------------------------------------------------------------
# Masked sample rows (provider side only; L3/L4 items always masked)
# ---------------------------------------------------------------------------------------------


def _masker(element: DataElement | None) -> Any:
    """The data element's own mask (``full`` when it names none), as the data plane applies it."""
    kind = element.mask_kind if element is not None and element.mask_kind not in ("", "none") else "full"
    params = element.mask_params if element is not None and kind != "full" else {}

    def apply(value: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return mask(kind, str(value), params)
        except MaskError:
            return mask("full", str(value))

    return apply


def masked_rows(resource: Resource, rows: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[list[Any]]]:
    """Headers and cells of ``rows`` (records of the live dataset) in the published items' order, with every
    item at L3 or above masked by its data element's mask."""
    assert resource.published_version is not None
    items = list(resource.published_version.snapshot.get("items", []))
    elements = {e.code: e for e in DataElement.objects.filter(code__in=[i["element_code"] for i in items])}
    heads, maskers = [], []
    for i in items:
        masked = int(i.get("sensitivity") or 1) >= MASKED_FROM
        heads.append({"name": i["name"], "column": i["column_name"], "masked": masked})
        maskers.append(_masker(elements.get(i["element_code"])) if masked else None)
    cells = [[(m(r["data"].get(h["column"])) if m else r["data"].get(h["column"]))
              for h, m in zip(heads, maskers, strict=True)] for r in rows]
    return heads, cells


# ---------------------------------------------------------------------------------------------
# How to call it (数据面调用示例)
# ---------------------------------------------------------------------------------------------


def call_examples(resource: Resource, items: list[dict[str, Any]], base_url: str) -> dict[str, str]:
    """curl examples of the data plane (query, verify, file) for this resource, using its code and items."""
    key = next((i for i in items if i.get("is_key")), items[0] if items else None)
    others = [i for i in items if i is not key][:2]
    key_value = f"<{key['name']}>" if key else "<KEY>"
    query_body = {"resource": resource.code, "keys": [key_value],
                  "items": [i["column_name"] for i in items][:5]}
    verify_body = {"resource": resource.code, "key": key_value,
                   "claims": {i["column_name"]: f"<{i['name']}>" for i in others}}
    level = max([int(i.get("sensitivity") or 1) for i in items], default=1)
    extra = ""
    if level >= Sensitivity.L3:
        extra = ("  -H 'X-GS-Operator: <经办人, percent-encoded>' -H 'X-GS-Case-Number: <办件编号>' \\\n"
                 "  -H 'X-GS-Item-Code: <事项编码>' -H 'X-GS-Purpose: <用途, percent-encoded>' \\\n")
    if level >= Sensitivity.L4:
        extra += "  -H \"X-GS-SM2-Signature: $SM2_SIG\" \\\n"

    def curl(path: str, body: dict[str, Any]) -> str:
        payload = json.dumps(body, ensure_ascii=False)
        return (
            f"BODY='{payload}'\n"
            "TS=$(date +%s); NONCE=$(openssl rand -hex 16)\n"
            "BODY_SM3=$(printf '%s' \"$BODY\" | openssl dgst -sm3 | awk '{print $NF}')\n"
            f"SIG=$(printf 'POST\\n{path}\\n\\n%s\\n%s\\n%s' \"$BODY_SM3\" \"$TS\" \"$NONCE\" "
            "| openssl dgst -sm3 -hmac \"$APP_SECRET\" | awk '{print $NF}')\n"
            f"curl -sS {base_url}{path} -H 'Content-Type: application/json' \\\n"
            "  -H \"X-GS-AppKey: $APP_KEY\" -H \"X-GS-Timestamp: $TS\" -H \"X-GS-Nonce: $NONCE\" "
            "-H \"X-GS-Signature: $SIG\" \\\n"
            f"{extra}"
            "  --data-binary \"$BODY\""
        )

    claims = ", ".join(f'"{i["column_name"]}": "…"' for i in others)
    python = (
        "from govshare.client import GovshareClient\n\n"
        f'gs = GovshareClient("{base_url}", APP_KEY, APP_SECRET'
        + (', operator="…", case_number="…", item_code="…", purpose="…"' if level >= Sensitivity.L3 else "")
        + ")\n"
        f'gs.query("{resource.code}", keys=["{key_value}"])\n'
        f'gs.verify("{resource.code}", "{key_value}", {{{claims}}})\n'
        f'f = gs.file("{resource.code}", "csv")'
    )
    return {"query": curl("/dp/v1/query", query_body), "verify": curl("/dp/v1/verify", verify_body),
            "python": python, "file_path": f"/dp/v1/file?resource={quote(resource.code, safe='')}&format=csv"}
