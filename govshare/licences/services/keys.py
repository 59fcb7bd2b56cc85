"""Department signing keys: creation, node certification, rotation, and checking a key's certification.

The node key is the audit checkpoint key (:mod:`govshare.audit.keys`, one per node, created on first use):
it signs (department code, key id, public key, valid_from, node) of every department key. A retired key keeps
its public key and certification, so licences it signed still verify after a rotation.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.chain import key_id_for as node_key_id_for
from govshare.audit.keys import KEY_PURPOSE as NODE_KEY_PURPOSE
from govshare.audit.keys import get_or_create_key
from govshare.audit.models import NodeKey
from govshare.audit.services import record_event
from govshare.core.crypto import (
    CryptoError,
    decrypt_secret,
    encrypt_secret,
    get_sm2_provider,
    normalize_public_key,
    sm3_hex,
)
from govshare.core.errors import PermissionDenied
from govshare.licences.models import SigningKey
from govshare.licences.payload import key_certificate_message, whole_seconds
from govshare.organizations.models import Department

KEY_PURPOSE = "licence_sm2"


def key_id_for(public_hex: str) -> str:
    """``lk-`` + the first 16 hex of SM3(public key hex)."""
    return "lk-" + sm3_hex(normalize_public_key(public_hex).encode("ascii"))[:16]


def may_manage_keys(actor: Any, department: Department) -> bool:
    """The department's own administrator, or the security administrator of its node."""
    role = getattr(actor, "role", None)
    if role == Role.DEPT_ADMIN:
        return bool(actor.department_id == department.pk)
    return role == Role.SEC_ADMIN and actor.node_id == department.node_id


def _node_sign(message: bytes) -> tuple[str, str, str]:
    """Sign with the node key: (node code, node key id, hex signature)."""
    node_key = get_or_create_key()
    private_hex = decrypt_secret(node_key.private_key, purpose=NODE_KEY_PURPOSE).decode("ascii")
    signature = get_sm2_provider().sign(private_hex, node_key.public_key, message)
    return node_key.node_code, node_key.key_id, signature.hex()


def _new_key(department: Department) -> SigningKey:
    private_hex, public_hex = get_sm2_provider().generate_keypair()
    public_hex = normalize_public_key(public_hex)
    key_id = key_id_for(public_hex)
    valid_from = whole_seconds(timezone.now())
    node_code = get_or_create_key().node_code
    message = key_certificate_message(department_code=department.uscc, key_id=key_id, public_key=public_hex,
                                      valid_from=valid_from, node_code=node_code)
    node_code, node_key_id, certification = _node_sign(message)
    return SigningKey.objects.create(
        department=department, key_id=key_id, public_key=public_hex,
        private_key=encrypt_secret(private_hex, purpose=KEY_PURPOSE), valid_from=valid_from, active=True,
        node_code=node_code, node_key_id=node_key_id, certification=certification)


def active_key(department: Department) -> SigningKey:
    """The department's active key (row-locked), created and certified on first use. Needs a transaction."""
    # Locked, so that a rotation cannot retire the key between this read and the signature.
    key = SigningKey.objects.select_for_update().filter(department=department, active=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            key = _new_key(department)
            record_event(actor="licences", action="licences.key_created", target_type="licence_key",
                         target_id=key.key_id, data={"department": str(department.pk), "key_id": key.key_id,
                                                     "node_key_id": key.node_key_id})
            return key
    except IntegrityError:  # another transaction created the department's first key at the same moment
        return SigningKey.objects.get(department=department, active=True)


def rotate_key(*, actor: Any, department: Department) -> SigningKey:
    """Retire the department's active key and create a new one. Licences signed before still verify."""
    if actor is not None and not isinstance(actor, str) and not may_manage_keys(actor, department):
        raise PermissionDenied("只有本部门管理员或安全管理员可以轮换签名密钥 (department admin or sec admin only)")
    with transaction.atomic():
        Department.objects.select_for_update().filter(pk=department.pk).first()
        previous = SigningKey.objects.filter(department=department, active=True).first()
        if previous is not None:
            SigningKey.objects.filter(pk=previous.pk).update(active=False, retired_at=timezone.now())
        key = _new_key(department)
        record_event(actor=actor, action="licences.key_rotated", target_type="licence_key", target_id=key.key_id,
                     data={"department": str(department.pk), "key_id": key.key_id,
                           "retired": previous.key_id if previous else None, "node_key_id": key.node_key_id})
    return key


def signing_material(key: SigningKey) -> str:
    """The private key of an active key, decrypted for one signature."""
    return decrypt_secret(key.private_key, purpose=KEY_PURPOSE).decode("ascii")


@functools.lru_cache(maxsize=4096)
def _certified(node_public: str, message: bytes, certification: str) -> bool:
    try:
        return get_sm2_provider().verify(node_public, message, bytes.fromhex(certification))
    except (ValueError, CryptoError):
        return False


_node_keys: dict[str, str] = {}


def _node_public_key(key_id: str) -> str | None:
    """A node key's public key by id. Cached: the id is derived from the public key (audit.chain.key_id_for)."""
    cached = _node_keys.get(key_id)
    if cached is not None:
        return cached
    public = NodeKey.objects.filter(key_id=key_id).values_list("public_key", flat=True).first()
    if not public:
        return None
    try:
        if node_key_id_for(public) != key_id:
            return None
    except CryptoError:
        return None
    _node_keys[key_id] = public
    return public


def certification_holds(key: SigningKey, department_code: str) -> bool:
    """Whether the node key certified exactly this (department, key id, public key, valid_from, node)."""
    node_public = _node_public_key(key.node_key_id)
    if not node_public:
        return False
    try:
        if key_id_for(key.public_key) != key.key_id:
            return False
        message = key_certificate_message(department_code=department_code, key_id=key.key_id,
                                          public_key=key.public_key, valid_from=key.valid_from,
                                          node_code=key.node_code)
    except CryptoError:
        return False
    return _certified(node_public, message, key.certification)
