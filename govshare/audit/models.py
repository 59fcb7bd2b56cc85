"""The audit log. Only ``govshare.audit`` writes it (DESIGN.md §4 "Audit log").

- :class:`AuditEvent`: one row per event; the primary key ``seq`` is the sequence number.
- :class:`AuditKeyRef`: the HMAC of each key a data-plane call looked up ("who looked up this person").
- :class:`AuditBlock`: a sealed, signed block of the hash chain over the events.
- :class:`NodeKey`: the node's SM2 signing key for checkpoints (private key envelope-encrypted).
- :class:`VerificationRun`: the outcome of each ``govshare audit verify``.

Events, key refs, blocks and verification runs are append-only: database triggers refuse UPDATE and
DELETE (migration 0003, :mod:`govshare.audit.triggers`). A database administrator can drop a trigger,
which is why the blocks form a signed hash chain whose heads are also kept outside the database.
"""

from __future__ import annotations

from django.db import models

from govshare.audit.choices import ActorType, Result


class AuditEvent(models.Model):
    # The primary key is the sequence number: gaps and a cut-off tail are detectable by it.
    seq = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, db_index=True)
    actor_label = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    node_code = models.CharField(max_length=64, blank=True)
    department_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=128, blank=True, db_index=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.OK)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id}"


class AuditKeyRef(models.Model):
    """``key_hmac`` (blind index, purpose ``audit_key``) of a key looked up by event ``seq``.

    Derived from ``AuditEvent.data["key_hmacs"]`` and written in the same transaction, so that
    "who looked up this person" is one indexed lookup on both backends. The composite primary key
    (key_hmac, seq) is that index.
    """

    pk = models.CompositePrimaryKey("key_hmac", "seq")
    key_hmac = models.CharField(max_length=64)
    seq = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.key_hmac[:12]}… @ #{self.seq}"


class AuditBlock(models.Model):
    """A sealed block: the events with seq in [first_seq, last_seq] except the ``gaps``, hashed in seq order.

    ``head`` = fold of SM3(prev ‖ SM3(canonical(event))) starting from ``prev_head`` (hex). ``gaps`` lists
    the sequence numbers in the range that had no row when the block was sealed (rolled-back
    transactions on PostgreSQL), as ``[[start, end], ...]``. ``tags`` holds the first 8 bytes of each
    covered event's digest, in order, so that verification can name the first changed event.
    ``signature`` is SM2 (DER, hex) over ``govshare-audit-checkpoint|node|last_seq|head``.
    """

    number = models.PositiveBigIntegerField(primary_key=True)
    node_code = models.CharField(max_length=64)
    first_seq = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(unique=True)
    count = models.PositiveIntegerField()
    gaps = models.JSONField(default=list, blank=True)
    tags = models.BinaryField()
    prev_head = models.CharField(max_length=64)
    head = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    signature = models.TextField()
    key_id = models.CharField(max_length=32)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"block {self.number}: seq {self.first_seq}-{self.last_seq} ({self.count})"


class NodeKey(models.Model):
    """The node's SM2 key pair for audit checkpoints. The private key is an envelope token (purpose
    ``node_sm2``), never the key itself. At most one key per node is active."""

    key_id = models.CharField(max_length=32, primary_key=True)
    node_code = models.CharField(max_length=64)
    public_key = models.CharField(max_length=130)
    private_key = models.TextField()
    created_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["node_code"], condition=models.Q(active=True), name="audit_nodekey_one_active_per_node"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.node_code})"


class VerificationRun(models.Model):
    """One run of the chain verification (``govshare audit verify``), for the status page."""

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    key_source = models.CharField(max_length=16)
    sealed_last_seq = models.BigIntegerField(null=True)
    events_checked = models.BigIntegerField(default=0)
    first_bad_seq = models.BigIntegerField(null=True)
    problem_count = models.PositiveIntegerField(default=0)
    run_by = models.CharField(max_length=200, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"verification {self.id} ({'ok' if self.ok else 'problems'})"
