"""Immutable version snapshots, their diffs, and detection of tightening (stricter sharing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from govshare.catalog.choices import OpenType, ShareType
from govshare.catalog.models import DataItem, Resource

SNAPSHOT_FIELDS = (
    "code", "name", "category", "summary", "formats", "share_type", "share_condition", "share_modes",
    "no_share_basis", "open_type", "open_condition", "update_cycle", "related_codes", "secrecy",
    "sensitivity", "tags",
)
ITEM_FIELDS = ("name", "column_name", "data_type", "length", "sensitivity", "required", "is_key")

# Stricter is larger.
SHARE_STRICTNESS = {ShareType.UNCONDITIONAL: 0, ShareType.CONDITIONAL: 1, ShareType.NONE: 2}
OPEN_STRICTNESS = {OpenType.UNCONDITIONAL: 0, OpenType.CONDITIONAL: 1, OpenType.NONE: 2}


def snapshot(resource: Resource, items: Sequence[DataItem]) -> dict[str, Any]:
    snap: dict[str, Any] = {f: getattr(resource, f) for f in SNAPSHOT_FIELDS}
    snap["classification_code"] = resource.classification_id
    snap["provider"] = {"id": str(resource.provider_id), "name": resource.provider.name,
                        "uscc": resource.provider.uscc}
    src = resource.source_department
    snap["source_department"] = {"id": str(src.pk), "name": src.name, "uscc": src.uscc} if src else None
    snap["items"] = [
        {**{f: getattr(i, f) for f in ITEM_FIELDS}, "element_code": i.element.code} for i in items
    ]
    return snap


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Field changes as ``{field: [old, new]}`` plus items added, removed and changed (by column)."""
    fields = {k: [old.get(k), new.get(k)] for k in sorted((set(old) | set(new)) - {"items"})
              if old.get(k) != new.get(k)}
    old_items = {i["column_name"]: i for i in old.get("items", [])}
    new_items = {i["column_name"]: i for i in new.get("items", [])}
    changed = {}
    for col in sorted(set(old_items) & set(new_items)):
        delta = {k: [old_items[col].get(k), new_items[col].get(k)]
                 for k in sorted(set(old_items[col]) | set(new_items[col]))
                 if old_items[col].get(k) != new_items[col].get(k)}
        if delta:
            changed[col] = delta
    return {
        "fields": fields,
        "items_added": sorted(set(new_items) - set(old_items)),
        "items_removed": sorted(set(old_items) - set(new_items)),
        "items_changed": changed,
    }


def tightening_reasons(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Why the new version shares less than the old one (empty when it does not), and removed columns."""
    reasons: list[str] = []
    if SHARE_STRICTNESS.get(new["share_type"], 0) > SHARE_STRICTNESS.get(old["share_type"], 0):
        reasons.append(f"share_type:{old['share_type']}->{new['share_type']}")
    if OPEN_STRICTNESS.get(new["open_type"], 0) > OPEN_STRICTNESS.get(old["open_type"], 0):
        reasons.append(f"open_type:{old['open_type']}->{new['open_type']}")
    dropped_modes = sorted(set(old.get("share_modes", [])) - set(new.get("share_modes", [])))
    if dropped_modes:
        reasons.append(f"share_modes_removed:{','.join(dropped_modes)}")
    if new["sensitivity"] > old["sensitivity"]:
        reasons.append(f"sensitivity:L{old['sensitivity']}->L{new['sensitivity']}")
    old_items = {i["column_name"]: i for i in old.get("items", [])}
    new_items = {i["column_name"]: i for i in new.get("items", [])}
    removed = sorted(set(old_items) - set(new_items))
    if removed:
        reasons.append(f"items_removed:{','.join(removed)}")
    for col in sorted(set(old_items) & set(new_items)):
        if new_items[col]["sensitivity"] > old_items[col]["sensitivity"]:
            reasons.append(f"item_sensitivity:{col}:L{old_items[col]['sensitivity']}"
                           f"->L{new_items[col]['sensitivity']}")
    return reasons, removed
