"""``GSF1``: the framed SM4-GCM format of encrypted file deliveries (Django-free; the client uses it too).

Layout::

    "GSF1"                                   4 bytes, magic
    frame 0, frame 1, ..., frame n           n >= 0; each frame:
        length                               4 bytes, unsigned big-endian: the size of what follows
        nonce || ciphertext || tag           12 + len(plaintext) + 16 bytes, SM4-GCM (RFC 8998)

Frame *i* is encrypted under the file's 16-byte SM4 key with associated data ``"GSF1" || u64be(i) || u8(final)``
where ``final`` is 1 for the last frame only, so reordering, dropping or cutting frames fails authentication.
Plaintext frames are at most ``DATAPLANE_FILE_CHUNK_BYTES`` (64 KiB) long; the last one may be empty. The key
travels in the ``X-GS-Wrapped-Key`` header: hex of SM2 encryption (``C1 || C3 || C2``) under the calling
system's public key.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from govshare.core.crypto.sm4 import sm4_decrypt, sm4_encrypt

MAGIC = b"GSF1"


def _aad(index: int, final: bool) -> bytes:
    return MAGIC + struct.pack(">QB", index, 1 if final else 0)


def encrypt_frames(key: bytes, chunks: Iterable[bytes], frame_bytes: int) -> Iterator[bytes]:
    """Encrypt a stream of plaintext chunks into ``GSF1`` (yields the magic, then one frame at a time)."""
    yield MAGIC
    pending = b""
    index = 0
    for chunk in chunks:
        pending += chunk
        while len(pending) > frame_bytes:
            sealed = sm4_encrypt(key, pending[:frame_bytes], associated_data=_aad(index, False))
            yield struct.pack(">I", len(sealed)) + sealed
            pending = pending[frame_bytes:]
            index += 1
    sealed = sm4_encrypt(key, pending, associated_data=_aad(index, True))
    yield struct.pack(">I", len(sealed)) + sealed


def decrypt_frames(key: bytes, blob: bytes) -> bytes:
    """Inverse of :func:`encrypt_frames`. Raises ``ValueError`` for a malformed or truncated file and
    :class:`govshare.core.crypto.DecryptionError` for a tampered one."""
    if not blob.startswith(MAGIC):
        raise ValueError("not a GSF1 file")
    pos, index, out = len(MAGIC), 0, []
    while True:
        if pos + 4 > len(blob):
            raise ValueError("GSF1 file is truncated")
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        sealed = blob[pos + 4:pos + 4 + length]
        if len(sealed) != length:
            raise ValueError("GSF1 frame is truncated")
        pos += 4 + length
        final = pos == len(blob)
        out.append(sm4_decrypt(key, sealed, associated_data=_aad(index, final)))
        if final:
            return b"".join(out)
        index += 1
