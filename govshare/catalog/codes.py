"""信息资源代码: 分类码 (类 1 digit, 项 2, 目 3, 细目 variable) + 顺序码, prefixed with the node's prefix so
that codes are unique across the province–city–county tree. Provinces refine the layout, so the
format is a setting (``GOVSHARE['RESOURCE_CODE_FORMAT']``) applied to the stored segments."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from govshare.catalog.models import Classification, CodeSequence
from govshare.organizations.models import Node


def format_resource_code(*, prefix: str, segments: dict[str, str], seq: int, fmt: str | None = None) -> str:
    template = fmt or settings.GOVSHARE["RESOURCE_CODE_FORMAT"]
    return template.format(prefix=prefix, seq=seq, **segments)


def next_sequence(node: Node, classification: Classification) -> int:
    """Take the next 顺序码 for (node, classification). Must run inside the caller's transaction."""
    assert transaction.get_connection().in_atomic_block
    CodeSequence.objects.get_or_create(node=node, classification=classification)
    counter = CodeSequence.objects.select_for_update().get(node=node, classification=classification)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last
