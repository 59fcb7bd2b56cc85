"""The node's SM2 checkpoint key (DESIGN.md §3 "National cryptography", §4 "Keys and secrets at rest").

Created on the first seal with the platform's SM2 provider. The private key is stored as an envelope
token (:func:`govshare.core.crypto.encrypt_secret`, purpose ``node_sm2``): SM4 under a data key wrapped
by the KEK, which lives outside the database. Whoever holds only the database cannot sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.audit.chain import checkpoint_message, key_id_for
from govshare.audit.models import NodeKey
from govshare.core.crypto import decrypt_secret, encrypt_secret, get_sm2_provider, normalize_public_key

KEY_PURPOSE = "node_sm2"
DEFAULT_NODE_CODE = "local"


def node_code() -> str:
    """This node's code (setting ``GOVSHARE['NODE_CODE']``), ``local`` when not configured."""
    code = str(getattr(settings, "GOVSHARE", {}).get("NODE_CODE") or "").strip()
    return code or DEFAULT_NODE_CODE


@dataclass(frozen=True)
class Signer:
    key_id: str
    node_code: str
    public_key: str
    _private_key: str

    def sign(self, last_seq: int, head_hex: str) -> str:
        message = checkpoint_message(self.node_code, last_seq, head_hex)
        return get_sm2_provider().sign(self._private_key, self.public_key, message).hex()


def active_key(code: str | None = None) -> NodeKey | None:
    return NodeKey.objects.filter(node_code=code or node_code(), active=True).first()


def get_or_create_key(code: str | None = None) -> NodeKey:
    """The node's active key, generating it on first use (concurrent first uses agree on one key)."""
    code = code or node_code()
    for _ in range(3):
        key = active_key(code)
        if key is not None:
            return key
        private_hex, public_hex = get_sm2_provider().generate_keypair()
        public_hex = normalize_public_key(public_hex)
        token = encrypt_secret(private_hex, purpose=KEY_PURPOSE)
        try:
            with transaction.atomic():
                return NodeKey.objects.create(
                    key_id=key_id_for(public_hex), node_code=code, public_key=public_hex, private_key=token,
                    created_at=timezone.now(), active=True,
                )
        except IntegrityError:
            continue  # another sealer created the node's key at the same moment: use theirs
    raise RuntimeError("无法创建节点签名密钥 (could not create the node signing key)")


def signer(code: str | None = None) -> Signer:
    key = get_or_create_key(code)
    private_hex = decrypt_secret(key.private_key, purpose=KEY_PURPOSE).decode("ascii")
    return Signer(key_id=key.key_id, node_code=key.node_code, public_key=key.public_key, _private_key=private_hex)


def database_public_keys() -> dict[str, str]:
    """key_id -> public key hex, for every node key in the database (active or not)."""
    return {k.key_id: k.public_key for k in NodeKey.objects.all()}
