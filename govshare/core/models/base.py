from __future__ import annotations

import uuid

from django.db import models


class BaseModel(models.Model):
    """UUID primary key plus creation and update times."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class NodeOwnedModel(BaseModel):
    """A record owned by one node of the province–city–county tree.

    The node is referenced by model label so that ``core`` imports no app.
    """

    node = models.ForeignKey("organizations.Node", on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True
