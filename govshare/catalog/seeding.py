"""Load the shipped classification tree and the data-element dictionary seed. Idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from govshare.audit.services import record_event
from govshare.catalog.models import Classification, DataElement

DATA = Path(__file__).resolve().parent / "data"


def load_classifications(*, actor: Any, path: Path = DATA / "classification.json") -> int:
    doc = json.loads(path.read_text(encoding="utf-8"))
    added = 0
    with transaction.atomic():
        existing = set(Classification.objects.values_list("code", flat=True))
        for row in doc["classifications"]:  # parents come before children in the file
            if row["code"] in existing:
                continue
            Classification.objects.create(code=row["code"], segment=row["segment"], name=row["name"],
                                          category=row["category"], level=row["level"],
                                          parent_id=row["parent"])
            added += 1
        if added:
            record_event(actor=actor, action="catalog.classifications_loaded", target_type="classification",
                         data={"added": added, "source": doc["source"]})
    return added


def load_data_elements(*, actor: Any, path: Path = DATA / "data_elements.json") -> int:
    doc = json.loads(path.read_text(encoding="utf-8"))
    added = 0
    with transaction.atomic():
        existing = set(DataElement.objects.values_list("code", flat=True))
        created: dict[str, DataElement] = {}
        for row in doc["elements"]:
            if row["code"] in existing:
                continue
            fields = {k: v for k, v in row.items() if k != "correlated_with"}
            created[row["code"]] = DataElement.objects.create(**fields)
            added += 1
        for row in doc["elements"]:
            if row["code"] in created and row["correlated_with"]:
                created[row["code"]].correlated_with.set(
                    DataElement.objects.filter(code__in=row["correlated_with"]))
        if added:
            record_event(actor=actor, action="catalog.data_elements_loaded", target_type="data_element",
                         data={"added": added, "source": doc["source"]})
    return added


def seed_catalog(*, actor: Any) -> tuple[int, int]:
    return load_classifications(actor=actor), load_data_elements(actor=actor)
