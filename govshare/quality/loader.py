"""Build the rule evaluator of a dataset from the database: its published columns (with their data elements),
the configured rules that apply to it, and the GB/T 2260 region table. Reads only."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from govshare.catalog.models import Resource
from govshare.datasets.models import Dataset
from govshare.datasets.validation import columns_for
from govshare.organizations.models import Region
from govshare.quality.models import QualityRule
from govshare.quality.rules import ColumnInfo, ConfiguredRule, Evaluator, Regions, rule_specs


def columns_of(resource: Resource) -> list[ColumnInfo]:
    """The published items of a resource as the engine sees them."""
    return [ColumnInfo(column_name=c.column_name, data_type=c.data_type, length=c.length, required=c.required,
                       is_key=c.is_key, element_code=c.element_code, validator=c.validator, pattern=c.pattern,
                       enum_values=tuple(c.enum_values)) for c in columns_for(resource)]


def configured_rules(dataset: Dataset, columns: list[ColumnInfo]) -> list[ConfiguredRule]:
    elements = {c.element_code for c in columns if c.element_code}
    qs = (QualityRule.objects.filter(node_id=dataset.node_id, active=True)
          .filter(Q(element__code__in=elements) | Q(resource_id=dataset.resource_id))
          .select_related("element").order_by("created_at"))
    return [ConfiguredRule(rule_id=str(r.pk), kind=r.kind, params=r.params,
                           element_code=r.element.code if r.element else "", column=r.column_name,
                           message=r.message) for r in qs]


def regions() -> Regions:
    rows = list(Region.objects.values_list("code", "current"))
    return Regions(known=frozenset(c for c, _ in rows), current=frozenset(c for c, cur in rows if cur))


def evaluator_for(dataset: Dataset, *, today: dt.date | None = None) -> Evaluator:
    resource = Resource.objects.select_related("published_version").get(pk=dataset.resource_id)
    columns = columns_of(resource)
    return Evaluator(rule_specs(columns, configured_rules(dataset, columns)), today=today or timezone.localdate(),
                     regions=regions())
