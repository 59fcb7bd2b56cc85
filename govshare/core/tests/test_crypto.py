"""Tests for govshare.core.crypto: SM3, SM4, SM2 providers (cross-library) and envelope encryption.

Only the envelope tests (class ``TestEnvelope``) use the database. Tests that need tongsuopy are skipped
where it is not installed (it ships an x86_64 wheel only); the gmssl side always runs.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm3 as gmssl_sm3
from gmssl.sm2 import CryptSM2
from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.core.crypto import sm2 as sm2_module
from govshare.core.crypto import sm4 as sm4_module
from govshare.core.crypto.errors import (
    CryptoConfigurationError,
    DecryptionError,
    InvalidKeyError,
    UnknownKeyError,
)
from govshare.core.crypto.sm2 import (
    GmsslSm2,
    Sm2Provider,
    ciphertext_from_asn1,
    ciphertext_to_asn1,
    get_sm2_provider,
    normalize_private_key,
    normalize_public_key,
    provider_name,
    reset_sm2_provider,
    set_sm2_provider,
    signature_from_raw,
    signature_to_raw,
    sm2_z,
)
from govshare.core.crypto.sm3 import (
    hkdf_sm3,
    hmac_sm3,
    hmac_sm3_hex,
    hmac_sm3_verify,
    sm3_digest,
    sm3_hasher,
    sm3_hex,
)
from govshare.core.crypto.sm4 import (
    SM4_OVERHEAD,
    generate_sm4_key,
    sm4_decrypt,
    sm4_encrypt,
    sm4_gcm_available,
)

# ==================================================================================================
# SM3
# ==================================================================================================

# GB/T 32905-2016 Appendix A: example 1 ("abc") and example 2 (64 bytes "abcd" * 16).
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_standard_vectors() -> None:
    assert sm3_hex(b"abc") == SM3_ABC
    assert sm3_digest(b"abc") == bytes.fromhex(SM3_ABC)
    assert sm3_hex(b"abcd" * 16) == SM3_ABCD16
    assert len(sm3_digest(b"")) == 32


def test_sm3_str_is_hashed_as_utf8() -> None:
    assert sm3_hex("abc") == SM3_ABC
    assert sm3_hex("潮州") == sm3_hex("潮州".encode())


def test_sm3_incremental_equals_one_shot() -> None:
    hasher = sm3_hasher()
    for chunk in (b"ab", b"cd" * 31, b"abcd"):
        hasher.update(chunk)
    assert hasher.finalize().hex() == sm3_hex(b"ab" + b"cd" * 31 + b"abcd")


def _gmssl_sm3(data: bytes) -> bytes:
    # gmssl's pure-Python SM3 appends padding to the list it is given: always pass a fresh list.
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(data)))


def _oracle_hmac_sm3(key: bytes, data: bytes) -> bytes:
    """RFC 2104 HMAC written out by hand over gmssl's independent SM3 implementation."""
    block = 64
    if len(key) > block:
        key = _gmssl_sm3(key)
    key = key.ljust(block, b"\x00")
    inner = _gmssl_sm3(bytes(b ^ 0x36 for b in key) + data)
    return _gmssl_sm3(bytes(b ^ 0x5C for b in key) + inner)


def test_gmssl_oracle_itself_matches_the_standard() -> None:
    assert _gmssl_sm3(b"abc").hex() == SM3_ABC
    assert _gmssl_sm3(b"abcd" * 16).hex() == SM3_ABCD16


@pytest.mark.parametrize("key_len", [1, 16, 63, 64, 65, 131])
def test_hmac_sm3_matches_rfc2104_oracle_at_key_length_edges(key_len: int) -> None:
    key = bytes(range(1, key_len + 1))
    data = b"GET\n/api/v1/verify\n\n1735689600\nnonce-1"
    assert hmac_sm3(key, data) == _oracle_hmac_sm3(key, data)
    assert hmac_sm3_hex(key, data) == _oracle_hmac_sm3(key, data).hex()


@settings(max_examples=40, deadline=None)
@given(key=st.binary(min_size=1, max_size=150), data=st.binary(max_size=300))
def test_hmac_sm3_matches_oracle_property(key: bytes, data: bytes) -> None:
    assert hmac_sm3(key, data) == _oracle_hmac_sm3(key, data)


def test_hmac_sm3_verify() -> None:
    key = b"app-secret-0123456789"
    mac = hmac_sm3(key, b"payload")
    assert hmac_sm3_verify(key, b"payload", mac)
    assert hmac_sm3_verify(key, b"payload", mac.hex())
    assert hmac_sm3_verify(key, b"payload", mac.hex().upper())
    assert not hmac_sm3_verify(key, b"payload!", mac)
    assert not hmac_sm3_verify(b"other-key", b"payload", mac)
    assert not hmac_sm3_verify(key, b"payload", mac[:-1])
    assert not hmac_sm3_verify(key, b"payload", mac + b"\x00")
    assert not hmac_sm3_verify(key, b"payload", "zz" * 32)
    assert not hmac_sm3_verify(key, b"payload", "ä" * 64)
    assert not hmac_sm3_verify(key, b"payload", "")


def test_hmac_sm3_rejects_empty_or_text_keys() -> None:
    with pytest.raises(ValueError, match="empty"):
        hmac_sm3(b"", b"x")
    with pytest.raises(TypeError):
        hmac_sm3("00ff", b"x")  # type: ignore[arg-type]


def test_hkdf_sm3_separates_uses() -> None:
    master = bytes(16)
    a = hkdf_sm3(master, info=b"govshare/a")
    assert a == hkdf_sm3(master, info=b"govshare/a")
    assert a != hkdf_sm3(master, info=b"govshare/b")
    assert len(a) == 32
    assert len(hkdf_sm3(master, info=b"x", length=16)) == 16
    with pytest.raises(ValueError):
        hkdf_sm3(b"", info=b"x")


# ==================================================================================================
# SM4
# ==================================================================================================

SM4_STD_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_block_cipher_standard_vector() -> None:
    # GB/T 32907-2016 Appendix A example 1: one block, key = plaintext. Checks the primitive we build on.
    encryptor = Cipher(algorithms.SM4(SM4_STD_KEY), modes.ECB()).encryptor()  # noqa: S305 - one block
    assert (encryptor.update(SM4_STD_KEY) + encryptor.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_is_available_here() -> None:
    assert sm4_gcm_available()


def test_sm4_gcm_rfc8998_vector() -> None:
    # RFC 8998 Appendix A.1 (SM4-GCM).
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    expected = bytes.fromhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert sm4_module._seal(SM4_STD_KEY, nonce, plaintext, aad) == expected
    assert sm4_module._open(SM4_STD_KEY, nonce, expected, aad) == plaintext
    # And through the public wire format nonce || ciphertext || tag.
    assert sm4_decrypt(SM4_STD_KEY, nonce + expected, associated_data=aad) == plaintext


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=600), aad=st.binary(max_size=40))
def test_sm4_round_trip_property(plaintext: bytes, aad: bytes) -> None:
    key = generate_sm4_key()
    blob = sm4_encrypt(key, plaintext, associated_data=aad)
    assert len(blob) == len(plaintext) + SM4_OVERHEAD
    assert sm4_decrypt(key, blob, associated_data=aad) == plaintext


def test_sm4_encryption_is_randomised() -> None:
    key = generate_sm4_key()
    first, second = sm4_encrypt(key, b"same"), sm4_encrypt(key, b"same")
    assert first != second
    assert first[:12] != second[:12]
    assert sm4_decrypt(key, first) == sm4_decrypt(key, second) == b"same"


def test_sm4_every_flipped_bit_position_is_rejected() -> None:
    key = generate_sm4_key()
    blob = sm4_encrypt(key, b"TOTP seed JBSWY3DPEHPK3PXP", associated_data=b"ctx")
    for index in range(len(blob)):  # nonce, ciphertext and tag bytes alike
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError):
            sm4_decrypt(key, bytes(tampered), associated_data=b"ctx")


def test_sm4_rejects_wrong_key_context_and_truncation() -> None:
    key = generate_sm4_key()
    blob = sm4_encrypt(key, b"secret", associated_data=b"ctx")
    with pytest.raises(DecryptionError):
        sm4_decrypt(generate_sm4_key(), blob, associated_data=b"ctx")
    with pytest.raises(DecryptionError):
        sm4_decrypt(key, blob, associated_data=b"other ctx")
    with pytest.raises(DecryptionError):
        sm4_decrypt(key, blob)
    with pytest.raises(DecryptionError):
        sm4_decrypt(key, blob[:-1], associated_data=b"ctx")
    with pytest.raises(DecryptionError):
        sm4_decrypt(key, blob[: SM4_OVERHEAD - 1], associated_data=b"ctx")


@pytest.mark.parametrize("bad_key", [b"", bytes(15), bytes(17), bytes(32)])
def test_sm4_rejects_wrong_key_length(bad_key: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        sm4_encrypt(bad_key, b"x")
    with pytest.raises(InvalidKeyError):
        sm4_decrypt(bad_key, bytes(40))


def test_sm4_rejects_text_key() -> None:
    with pytest.raises(InvalidKeyError):
        sm4_encrypt("0123456789abcdef", b"x")  # type: ignore[arg-type]


# ==================================================================================================
# SM2
# ==================================================================================================

# GB/T 32918.5-2017 Annex A (= GM/T 0003.5-2012 Annex A): the examples on the *recommended* curve, with
# user ID 1234567812345678. (The examples in GB/T 32918.2/.4 themselves use a different test curve.)
# The published values are self-consistent here: d gives the public key, signing with the published
# nonce k reproduces (r, s), and encrypting with the same k reproduces the published ciphertext.
KAT_PRIVATE = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
KAT_PUBLIC = (
    "04"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
KAT_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
KAT_Z = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
KAT_E = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
KAT_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
KAT_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
KAT_SIGNATURE = encode_dss_signature(KAT_R, KAT_S)
KAT_ENC_PLAINTEXT = b"encryption standard"
# The same example's ciphertext in GM/T 0009 ASN.1 form (x, y, C3, C2), as OpenSSL/Tongsuo write it.
KAT_ENC_ASN1 = bytes.fromhex(
    "307c022004ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"
    "022100e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
    "042059983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766"
    "041321886ca989ca9c7d58087307ca93092d651efa"
)
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

# d = 11: its public X coordinate begins with the digits "04" (gmssl's lstrip("04") bug; checked below).
D11_PRIVATE = f"{11:064x}"
D11_PUBLIC = (
    "04"
    "04b3cb10c9c6d8e27c1aab770f67f543125dcdd589c2ff82668c74d78ce20ace"
    "63516355287e39fe4918e5c02e2b0b930c94816e63c4bc72739a8fd805174a4b"
)


def _tongsuo_or_none() -> sm2_module.TongsuoSm2 | None:
    try:
        return sm2_module.TongsuoSm2()
    except Exception:
        return None


_TONGSUO = _tongsuo_or_none()
needs_tongsuo = pytest.mark.skipif(_TONGSUO is None, reason="tongsuopy is not available on this platform")


@pytest.fixture(scope="module")
def gmssl_provider() -> GmsslSm2:
    return GmsslSm2()


@pytest.fixture(scope="module")
def tongsuo_provider() -> sm2_module.TongsuoSm2:
    if _TONGSUO is None:
        pytest.skip("tongsuopy is not available on this platform")
    return _TONGSUO


@pytest.fixture(params=["gmssl", pytest.param("tongsuo", marks=needs_tongsuo)])
def sm2_provider(request: pytest.FixtureRequest, gmssl_provider: GmsslSm2) -> Sm2Provider:
    if request.param == "gmssl":
        return gmssl_provider
    assert _TONGSUO is not None
    return _TONGSUO


def _cross_pairs() -> list[Any]:
    return [
        pytest.param("tongsuo", "gmssl", marks=needs_tongsuo, id="tongsuo-signs-gmssl-checks"),
        pytest.param("gmssl", "tongsuo", marks=needs_tongsuo, id="gmssl-signs-tongsuo-checks"),
    ]


def _by_name(name: str, gmssl_provider: GmsslSm2) -> Sm2Provider:
    if name == "gmssl":
        return gmssl_provider
    assert _TONGSUO is not None
    return _TONGSUO


# ---- known answers ---------------------------------------------------------------------------------


def test_sm2_z_and_e_known_answer() -> None:
    assert sm2_z(KAT_PUBLIC).hex() == KAT_Z
    assert sm3_hex(bytes.fromhex(KAT_Z) + b"message digest") == KAT_E


def test_sm2_standard_signature_verifies(sm2_provider: Sm2Provider) -> None:
    assert sm2_provider.verify(KAT_PUBLIC, b"message digest", KAT_SIGNATURE)
    assert not sm2_provider.verify(KAT_PUBLIC, b"message digesT", KAT_SIGNATURE)
    assert not sm2_provider.verify(KAT_PUBLIC, b"message digest", encode_dss_signature(KAT_R, KAT_S ^ 1))


def test_sm2_standard_signature_is_reproduced_with_the_published_nonce(gmssl_provider: GmsslSm2) -> None:
    assert gmssl_provider._public_of(KAT_PRIVATE) == KAT_PUBLIC
    signature = gmssl_provider._sign_with_k(KAT_PRIVATE, KAT_PUBLIC, b"message digest", KAT_K)
    assert signature == KAT_SIGNATURE


@needs_tongsuo
def test_tongsuo_derives_the_standard_public_key(tongsuo_provider: sm2_module.TongsuoSm2) -> None:
    key = tongsuo_provider._private_key(KAT_PRIVATE)
    assert tongsuo_provider._public_bytes(key.public_key()).hex() == KAT_PUBLIC


def test_sm2_standard_ciphertext_is_reproduced_with_the_published_nonce(gmssl_provider: GmsslSm2) -> None:
    ciphertext = gmssl_provider._encrypt_with_k(KAT_PUBLIC, KAT_ENC_PLAINTEXT, KAT_K)
    assert ciphertext == ciphertext_from_asn1(KAT_ENC_ASN1)
    assert ciphertext_to_asn1(ciphertext) == KAT_ENC_ASN1


def test_sm2_standard_ciphertext_decrypts(sm2_provider: Sm2Provider) -> None:
    assert sm2_provider.decrypt(KAT_PRIVATE, ciphertext_from_asn1(KAT_ENC_ASN1)) == KAT_ENC_PLAINTEXT


# ---- one provider ----------------------------------------------------------------------------------


def test_sm2_generate_keypair_format(sm2_provider: Sm2Provider) -> None:
    private_hex, public_hex = sm2_provider.generate_keypair()
    assert re.fullmatch(r"[0-9a-f]{64}", private_hex)
    assert re.fullmatch(r"04[0-9a-f]{128}", public_hex)
    assert normalize_public_key(public_hex) == public_hex
    assert normalize_private_key(private_hex) == private_hex
    assert sm2_provider.generate_keypair() != (private_hex, public_hex)


def test_sm2_sign_verify_round_trip(sm2_provider: Sm2Provider) -> None:
    private_hex, public_hex = sm2_provider.generate_keypair()
    data = "checkpoint 445100 seq=1024 head=…".encode()
    signature = sm2_provider.sign(private_hex, public_hex, data)
    assert signature[0] == 0x30  # DER SEQUENCE
    assert sm2_provider.verify(public_hex, data, signature)
    assert sm2_provider.verify(public_hex.upper(), data, signature)  # key case does not matter
    assert not sm2_provider.verify(public_hex, data + b"x", signature)
    _, other_public = sm2_provider.generate_keypair()
    assert not sm2_provider.verify(other_public, data, signature)
    # Signatures are randomised (fresh k each time) yet all verify.
    assert sm2_provider.sign(private_hex, public_hex, data) != signature


def test_sm2_sign_refuses_a_public_key_of_another_private_key(sm2_provider: Sm2Provider) -> None:
    private_hex, _ = sm2_provider.generate_keypair()
    _, other_public = sm2_provider.generate_keypair()
    with pytest.raises(InvalidKeyError, match="does not belong"):
        sm2_provider.sign(private_hex, other_public, b"data")


def test_sm2_encrypt_decrypt_round_trip(sm2_provider: Sm2Provider) -> None:
    private_hex, public_hex = sm2_provider.generate_keypair()
    data_key = generate_sm4_key()
    ciphertext = sm2_provider.encrypt(public_hex, data_key)
    assert len(ciphertext) == 65 + 32 + len(data_key)
    assert ciphertext[0] == 0x04
    assert sm2_provider.decrypt(private_hex, ciphertext) == data_key
    assert sm2_provider.encrypt(public_hex, data_key) != ciphertext
    with pytest.raises(ValueError, match="empty"):
        sm2_provider.encrypt(public_hex, b"")


def test_sm2_decrypt_rejects_tampering_and_wrong_key(sm2_provider: Sm2Provider) -> None:
    private_hex, public_hex = sm2_provider.generate_keypair()
    ciphertext = sm2_provider.encrypt(public_hex, b"0123456789abcdef")
    for index in (70, 97, len(ciphertext) - 1):  # inside C3, first and last byte of C2
        tampered = bytearray(ciphertext)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError):
            sm2_provider.decrypt(private_hex, bytes(tampered))
    tampered_c1 = bytearray(ciphertext)
    tampered_c1[5] ^= 0x01  # C1 no longer on the curve
    with pytest.raises(DecryptionError):
        sm2_provider.decrypt(private_hex, bytes(tampered_c1))
    other_private, _ = sm2_provider.generate_keypair()
    with pytest.raises(DecryptionError):
        sm2_provider.decrypt(other_private, ciphertext)
    with pytest.raises(DecryptionError):
        sm2_provider.decrypt(private_hex, ciphertext[:97])


def _bad_signatures() -> list[Any]:
    good = KAT_SIGNATURE
    return [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x30\x00", id="empty-sequence"),
        pytest.param(good + b"\x00", id="trailing-byte"),
        pytest.param(signature_to_raw(good), id="raw-r-s-not-der"),
        pytest.param(good[:-1], id="truncated"),
        pytest.param(encode_dss_signature(0, KAT_S), id="r-zero"),
        pytest.param(encode_dss_signature(KAT_R, SM2_N), id="s-equals-n"),
        pytest.param(encode_dss_signature(KAT_R + SM2_N, KAT_S), id="r-plus-n"),
        # BER, not DER: r with a superfluous leading zero byte.
        pytest.param(b"\x30\x47\x02\x22\x00" + good[4:38] + good[38:], id="non-minimal-integer"),
    ]


@pytest.mark.parametrize("signature", _bad_signatures())
def test_sm2_verify_rejects_malformed_signatures(sm2_provider: Sm2Provider, signature: bytes) -> None:
    assert sm2_provider.verify(KAT_PUBLIC, b"message digest", signature) is False


def test_sm2_verify_raises_for_an_unusable_public_key(sm2_provider: Sm2Provider) -> None:
    off_curve = KAT_PUBLIC[:-1] + ("4" if KAT_PUBLIC[-1] != "4" else "5")
    for bad in (off_curve, "04" + "00" * 64, "05" + KAT_PUBLIC[2:], "zz", ""):
        with pytest.raises(InvalidKeyError):
            sm2_provider.verify(bad, b"message digest", KAT_SIGNATURE)


def test_gmssl_adapter_survives_public_keys_starting_with_04(gmssl_provider: GmsslSm2) -> None:
    assert gmssl_provider._public_of(D11_PRIVATE) == D11_PUBLIC
    assert D11_PUBLIC[2:4] == "04"
    # The bug the adapter works around: gmssl's constructor strips the X coordinate's leading "04" too.
    assert CryptSM2(private_key=D11_PRIVATE, public_key=D11_PUBLIC).public_key != D11_PUBLIC[2:]
    signature = gmssl_provider.sign(D11_PRIVATE, D11_PUBLIC, b"node 445100")
    assert gmssl_provider.verify(D11_PUBLIC, b"node 445100", signature)
    if _TONGSUO is not None:
        assert _TONGSUO.verify(D11_PUBLIC, b"node 445100", signature)
    ciphertext = gmssl_provider.encrypt(D11_PUBLIC, b"k" * 16)
    assert gmssl_provider.decrypt(D11_PRIVATE, ciphertext) == b"k" * 16


def test_gmssl_adapter_never_uses_gmssl_weak_nonces(gmssl_provider: GmsslSm2, monkeypatch: pytest.MonkeyPatch) -> None:
    # gmssl's own nonces come from random.choice (Mersenne Twister); the adapter must use secrets.
    from gmssl import func as gmssl_func

    def forbidden(_: int) -> str:
        raise AssertionError("gmssl.func.random_hex must not be used")

    monkeypatch.setattr(gmssl_func, "random_hex", forbidden)
    private_hex, public_hex = gmssl_provider.generate_keypair()
    signature = gmssl_provider.sign(private_hex, public_hex, b"data")
    assert gmssl_provider.verify(public_hex, b"data", signature)
    assert gmssl_provider.decrypt(private_hex, gmssl_provider.encrypt(public_hex, b"data")) == b"data"


def test_gmssl_adapter_hashes_large_messages_quickly(gmssl_provider: GmsslSm2) -> None:
    # e = SM3(Z || M) is computed with cryptography, not gmssl's pure-Python SM3 (about 9 s/MB).
    import time

    private_hex, public_hex = gmssl_provider.generate_keypair()
    data = bytes(2_000_000)
    started = time.perf_counter()
    signature = gmssl_provider.sign(private_hex, public_hex, data)
    assert gmssl_provider.verify(public_hex, data, signature)
    assert time.perf_counter() - started < 3.0
    if _TONGSUO is not None:
        assert _TONGSUO.verify(public_hex, data, signature)


# ---- across libraries ------------------------------------------------------------------------------


@pytest.mark.parametrize(("signer_name", "checker_name"), _cross_pairs())
def test_sm2_signatures_verify_across_libraries(signer_name: str, checker_name: str, gmssl_provider: GmsslSm2) -> None:
    signer, checker = _by_name(signer_name, gmssl_provider), _by_name(checker_name, gmssl_provider)
    private_hex, public_hex = signer.generate_keypair()
    for data in (b"", b"x", "跨库验签 cross-library".encode(), bytes(range(256)) * 9):
        signature = signer.sign(private_hex, public_hex, data)
        assert checker.verify(public_hex, data, signature), data[:20]
        assert signer.verify(public_hex, data, signature)
        # A tampered message fails on both libraries.
        assert not checker.verify(public_hex, data + b"!", signature)
        assert not signer.verify(public_hex, data + b"!", signature)
        # So does a tampered signature (s changed, still well-formed DER).
        raw = signature_to_raw(signature)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        forged = encode_dss_signature(r, s + 1 if s + 1 < SM2_N else s - 1)
        assert not checker.verify(public_hex, data, forged)
        assert not signer.verify(public_hex, data, forged)


@pytest.mark.parametrize(("signer_name", "checker_name"), _cross_pairs())
def test_sm2_keys_from_one_library_sign_in_the_other(
    signer_name: str, checker_name: str, gmssl_provider: GmsslSm2
) -> None:
    generator, other = _by_name(signer_name, gmssl_provider), _by_name(checker_name, gmssl_provider)
    private_hex, public_hex = generator.generate_keypair()
    signature = other.sign(private_hex, public_hex, b"key portability")
    assert generator.verify(public_hex, b"key portability", signature)


@pytest.mark.parametrize(("encrypter_name", "decrypter_name"), _cross_pairs())
def test_sm2_ciphertexts_decrypt_across_libraries(
    encrypter_name: str, decrypter_name: str, gmssl_provider: GmsslSm2
) -> None:
    encrypter, decrypter = _by_name(encrypter_name, gmssl_provider), _by_name(decrypter_name, gmssl_provider)
    private_hex, public_hex = decrypter.generate_keypair()
    for message in (b"\x00", generate_sm4_key(), "数据密钥".encode() * 20):
        ciphertext = encrypter.encrypt(public_hex, message)
        assert decrypter.decrypt(private_hex, ciphertext) == message
        tampered = bytearray(ciphertext)
        tampered[-1] ^= 0x80
        with pytest.raises(DecryptionError):
            decrypter.decrypt(private_hex, bytes(tampered))
        with pytest.raises(DecryptionError):
            encrypter.decrypt(private_hex, bytes(tampered))


# ---- encodings -------------------------------------------------------------------------------------


def test_normalize_public_key_forms() -> None:
    bare = KAT_PUBLIC[2:]
    y_is_odd = int(KAT_PUBLIC[-1], 16) & 1
    compressed = ("03" if y_is_odd else "02") + KAT_PUBLIC[2:66]
    wrong_parity = ("02" if y_is_odd else "03") + KAT_PUBLIC[2:66]
    assert normalize_public_key(KAT_PUBLIC.upper()) == KAT_PUBLIC
    assert normalize_public_key(bare) == KAT_PUBLIC
    assert normalize_public_key(compressed) == KAT_PUBLIC
    assert normalize_public_key(wrong_parity) != KAT_PUBLIC
    assert normalize_public_key(f"  {KAT_PUBLIC}\n") == KAT_PUBLIC
    for bad in ("04" + "ff" * 64, "04" + bare[:-2], KAT_PUBLIC + "00", "not hex"):
        with pytest.raises(InvalidKeyError):
            normalize_public_key(bad)
    with pytest.raises(InvalidKeyError):
        normalize_public_key(bytes.fromhex(KAT_PUBLIC))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    ["00" * 32, f"{SM2_N - 1:064x}", f"{SM2_N:064x}", "01", "00" + KAT_PRIVATE, "g" * 64],
)
def test_normalize_private_key_rejects_out_of_range_or_malformed(bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        normalize_private_key(bad)


def test_normalize_private_key_bounds() -> None:
    assert normalize_private_key(f"{1:064X}") == f"{1:064x}"
    assert normalize_private_key(f"{SM2_N - 2:064x}") == f"{SM2_N - 2:064x}"


def test_signature_raw_conversion() -> None:
    raw = signature_to_raw(KAT_SIGNATURE)
    assert raw == KAT_R.to_bytes(32, "big") + KAT_S.to_bytes(32, "big")
    assert signature_from_raw(raw) == KAT_SIGNATURE
    with pytest.raises(ValueError):
        signature_from_raw(raw[:-1])
    with pytest.raises(ValueError):
        signature_from_raw(bytes(64))
    with pytest.raises(ValueError):
        signature_to_raw(raw)


def test_ciphertext_asn1_rejects_malformed_input() -> None:
    good = KAT_ENC_ASN1
    cases = [
        good + b"\x00",  # trailing data
        good[:-1],  # truncated
        b"\x31" + good[1:],  # SET, not SEQUENCE
        b"\x30\x81\x7c" + good[2:],  # non-minimal length
        good[:5] + bytes([good[5] ^ 1]) + good[6:],  # well-formed, but C1 is not on the curve
    ]
    for bad in cases:
        with pytest.raises(DecryptionError):
            ciphertext_from_asn1(bad)
    raw = ciphertext_from_asn1(good)
    with pytest.raises(DecryptionError):
        ciphertext_to_asn1(raw[:97])


# ---- provider selection ----------------------------------------------------------------------------


class TestProviderSelection:
    @pytest.fixture(autouse=True)
    def _fresh_choice(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.delenv(sm2_module.PROVIDER_ENV_VAR, raising=False)
        reset_sm2_provider()
        yield
        reset_sm2_provider()

    def _choices(self, caplog: pytest.LogCaptureFixture) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "govshare.crypto"]

    def test_forced_gmssl_is_chosen_and_logged_once(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv(sm2_module.PROVIDER_ENV_VAR, "gmssl")
        with caplog.at_level(logging.INFO, logger="govshare.crypto"):
            first = get_sm2_provider()
            assert get_sm2_provider() is first
            assert provider_name() == "gmssl"
        assert isinstance(first, GmsslSm2)
        messages = self._choices(caplog)
        assert len(messages) == 1
        assert messages[0].startswith("SM2 provider: gmssl")

    @needs_tongsuo
    def test_auto_prefers_tongsuo(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.INFO, logger="govshare.crypto"):
            assert provider_name() == "tongsuo"
            assert provider_name() == "tongsuo"
        messages = self._choices(caplog)
        assert len(messages) == 1
        assert "auto-selected" in messages[0]

    @needs_tongsuo
    def test_forced_tongsuo(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(sm2_module.PROVIDER_ENV_VAR, " Tongsuo ")
        assert isinstance(get_sm2_provider(), sm2_module.TongsuoSm2)

    def test_auto_falls_back_to_gmssl_without_tongsuo(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        def unavailable() -> sm2_module.TongsuoSm2:
            raise ImportError("No module named 'tongsuopy'")

        monkeypatch.setattr(sm2_module, "_load_tongsuo", unavailable)
        with caplog.at_level(logging.INFO, logger="govshare.crypto"):
            assert provider_name() == "gmssl"
        assert "tongsuopy not usable" in self._choices(caplog)[0]

    def test_forced_tongsuo_without_tongsuo_is_a_configuration_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def unavailable() -> sm2_module.TongsuoSm2:
            raise ImportError("No module named 'tongsuopy'")

        monkeypatch.setattr(sm2_module, "_load_tongsuo", unavailable)
        monkeypatch.setenv(sm2_module.PROVIDER_ENV_VAR, "tongsuo")
        with pytest.raises(CryptoConfigurationError, match="tongsuopy is not usable"):
            get_sm2_provider()

    @needs_tongsuo
    def test_a_tongsuo_failing_its_self_test_is_not_used(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # E.g. a Tongsuo build whose SM2 used another default user ID would fail the known answer.
        monkeypatch.setattr(sm2_module.TongsuoSm2, "verify", lambda self, *args: False)
        assert provider_name() == "gmssl"

    def test_unknown_provider_name_is_rejected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(sm2_module.PROVIDER_ENV_VAR, "openssl")
        with pytest.raises(CryptoConfigurationError, match="expected 'tongsuo', 'gmssl'"):
            get_sm2_provider()

    def test_an_installed_provider_replaces_the_choice(self, gmssl_provider: GmsslSm2) -> None:
        class HardwareModule:
            name = "sdf-hsm"

            def generate_keypair(self) -> tuple[str, str]:
                return gmssl_provider.generate_keypair()

            def sign(self, private_hex: str, public_hex: str, data: bytes) -> bytes:
                return gmssl_provider.sign(private_hex, public_hex, data)

            def verify(self, public_hex: str, data: bytes, signature: bytes) -> bool:
                return gmssl_provider.verify(public_hex, data, signature)

            def encrypt(self, public_hex: str, data: bytes) -> bytes:
                return gmssl_provider.encrypt(public_hex, data)

            def decrypt(self, private_hex: str, data: bytes) -> bytes:
                return gmssl_provider.decrypt(private_hex, data)

        set_sm2_provider(HardwareModule())
        assert provider_name() == "sdf-hsm"
        with pytest.raises(TypeError):
            set_sm2_provider(object())  # type: ignore[arg-type]


# ==================================================================================================
# Envelope encryption (needs the Django database)
# ==================================================================================================

TOKEN_RE = re.compile(r"sm4v1:dk-[0-9a-f]{8}:[A-Za-z0-9_-]+")
OTHER_KEK = "00112233445566778899aabbccddeeff"


@pytest.mark.django_db
class TestEnvelope:
    @pytest.fixture(autouse=True)
    def _kek(self, settings: Any) -> Iterator[Any]:
        from govshare.core.crypto import envelope

        settings.GOVSHARE_KEK = "0123456789abcdeffedcba9876543210"
        settings.GOVSHARE_KEK_ID = "kek-test-1"
        settings.GOVSHARE_RETIRED_KEKS = {}
        envelope.clear_key_cache()
        yield envelope
        envelope.clear_key_cache()

    @pytest.fixture()
    def env(self, _kek: Any) -> Any:
        return _kek

    def _keys(self) -> Any:
        from govshare.core.models.keys import DataKey

        return DataKey.objects

    def test_round_trip_and_token_format(self, env: Any) -> None:
        token = env.encrypt_secret("AppSecret-示例-0001")
        assert TOKEN_RE.fullmatch(token)
        assert token.isascii()
        assert env.decrypt_secret(token) == "AppSecret-示例-0001".encode()
        binary = bytes(range(256))
        assert env.decrypt_secret(env.encrypt_secret(binary)) == binary
        assert env.decrypt_secret(env.encrypt_secret(b"")) == b""
        # Randomised: the same secret twice gives two tokens under the same key.
        again = env.encrypt_secret("AppSecret-示例-0001")
        assert again != token
        assert env.token_key_id(again) == env.token_key_id(token)
        assert env.is_token(token) and not env.is_token("AppSecret") and not env.is_token(None)

    def test_first_use_creates_one_wrapped_active_key(self, env: Any, settings: Any) -> None:
        assert self._keys().count() == 0
        token = env.encrypt_secret(b"secret", purpose="totp")
        env.encrypt_secret(b"another", purpose="totp")
        rows = list(self._keys().all())
        assert len(rows) == 1
        row = rows[0]
        assert row.key_id == env.token_key_id(token)
        assert re.fullmatch(r"dk-[0-9a-f]{8}", row.key_id)
        assert (row.purpose, row.active, row.kek_id) == ("totp", True, "kek-test-1")
        assert row.deactivated_at is None
        assert len(bytes(row.wrapped_key)) == 16 + SM4_OVERHEAD
        # The wrapped key is the data key under the KEK, bound to its id, purpose and KEK id.
        aad = f"govshare-datakey|v1|{row.key_id}|totp|kek-test-1".encode()
        data_key = sm4_decrypt(bytes.fromhex(settings.GOVSHARE_KEK), bytes(row.wrapped_key), associated_data=aad)
        body = token.split(":")[2]
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        assert sm4_decrypt(data_key, blob, associated_data=f"sm4v1|{row.key_id}".encode()) == b"secret"

    def test_purposes_have_separate_keys_and_are_checked(self, env: Any) -> None:
        totp = env.encrypt_secret("seed", purpose="totp")
        webhook = env.encrypt_secret("hook", purpose="webhook.secret")
        assert env.token_key_id(totp) != env.token_key_id(webhook)
        assert self._keys().filter(active=True).count() == 2
        assert env.decrypt_secret(totp, purpose="totp") == b"seed"
        with pytest.raises(DecryptionError, match="purpose"):
            env.decrypt_secret(totp, purpose="webhook.secret")
        for bad in ("", "a b", "x|y", "a" * 65, "-lead"):
            with pytest.raises(ValueError):
                env.encrypt_secret("x", purpose=bad)

    def test_rotation_keeps_old_tokens_readable(self, env: Any) -> None:
        old_token = env.encrypt_secret("before", purpose="connector.password")
        old_id = env.token_key_id(old_token)
        new_id = env.rotate_data_key("connector.password")
        assert new_id != old_id
        new_token = env.encrypt_secret("after", purpose="connector.password")
        assert env.token_key_id(new_token) == new_id
        assert env.decrypt_secret(old_token) == b"before"
        assert env.decrypt_secret(new_token) == b"after"
        old_row = self._keys().get(key_id=old_id)
        assert not old_row.active and old_row.deactivated_at is not None
        assert self._keys().get(active=True, purpose="connector.password").key_id == new_id
        # Rotating a purpose never used before just creates its first key.
        first = env.rotate_data_key("fresh")
        assert self._keys().get(purpose="fresh").key_id == first

    def test_only_one_active_key_per_purpose(self, env: Any) -> None:
        from django.db import IntegrityError, transaction

        env.encrypt_secret("x", purpose="p1")
        row = self._keys().get(purpose="p1")
        with pytest.raises(IntegrityError), transaction.atomic():
            self._keys().create(key_id="dk-00000000", wrapped_key=b"x", kek_id=row.kek_id, purpose="p1", active=True)

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "plain text",
            "sm4v2:dk-0123abcd:AAAA",
            "sm4v1:dk-0123abcd",
            "sm4v1:dk-0123ABCD:" + "A" * 40,
            "sm4v1:key-1:" + "A" * 40,
            "sm4v1:dk-0123abcd:" + "A" * 40 + "=",
            "sm4v1:dk-0123abcd:" + "A" * 39 + "+",
            "sm4v1:dk-0123abcd:AAAA",
            "sm4v1:dk-0123abcd:" + "A" * 40 + ":x",
        ],
    )
    def test_malformed_tokens_are_rejected(self, env: Any, token: str) -> None:
        with pytest.raises(DecryptionError):
            env.decrypt_secret(token)
        assert not env.is_token(token)

    def test_tampered_or_swapped_tokens_are_rejected(self, env: Any) -> None:
        token = env.encrypt_secret("credential secret")
        version, key_id, body = token.split(":")
        flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
        with pytest.raises(DecryptionError):
            env.decrypt_secret(f"{version}:{key_id}:{flipped}")
        # The same ciphertext presented under another (existing) key id fails authentication.
        other_id = env.rotate_data_key("default")
        with pytest.raises(DecryptionError):
            env.decrypt_secret(f"{version}:{other_id}:{body}")
        with pytest.raises(UnknownKeyError):
            env.decrypt_secret(f"{version}:dk-00000000:{body}")

    def test_tampered_key_rows_are_rejected(self, env: Any) -> None:
        token = env.encrypt_secret("s", purpose="totp")
        self._keys().filter(purpose="totp").update(purpose="webhook")
        env.clear_key_cache()
        with pytest.raises(DecryptionError, match="does not unwrap"):
            env.decrypt_secret(token)

    def test_wrong_or_missing_kek(self, env: Any, settings: Any) -> None:
        token = env.encrypt_secret("s")
        env.clear_key_cache()
        settings.GOVSHARE_KEK = OTHER_KEK  # same id, different key material
        with pytest.raises(DecryptionError):
            env.decrypt_secret(token)
        settings.GOVSHARE_KEK_ID = "kek-test-2"
        with pytest.raises(UnknownKeyError, match="kek-test-1"):
            env.decrypt_secret(token)
        for bad in ("", "abc", "zz" * 16, OTHER_KEK + "00"):
            settings.GOVSHARE_KEK = bad
            with pytest.raises(CryptoConfigurationError):
                env.encrypt_secret("s", purpose="fresh")

    def test_kek_rotation_with_rewrap(self, env: Any, settings: Any) -> None:
        tokens = {p: env.encrypt_secret(f"secret of {p}", purpose=p) for p in ("a", "b")}
        env.rotate_data_key("a")
        old_kek = settings.GOVSHARE_KEK
        settings.GOVSHARE_KEK, settings.GOVSHARE_KEK_ID = OTHER_KEK, "kek-test-2"
        settings.GOVSHARE_RETIRED_KEKS = {"kek-test-1": old_kek}
        env.clear_key_cache()
        assert env.decrypt_secret(tokens["a"]) == b"secret of a"  # readable through the retired KEK
        assert env.rewrap_data_keys() == 3
        assert set(self._keys().values_list("kek_id", flat=True)) == {"kek-test-2"}
        assert env.rewrap_data_keys() == 0
        settings.GOVSHARE_RETIRED_KEKS = {}
        env.clear_key_cache()
        assert env.decrypt_secret(tokens["a"]) == b"secret of a"
        assert env.decrypt_secret(tokens["b"]) == b"secret of b"

    def test_unwrapped_keys_are_cached_after_commit(
        self, env: Any, django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            token = env.encrypt_secret("cached")
        with django_assert_num_queries(0):
            assert env.decrypt_secret(token) == b"cached"
            assert env.token_key_id(env.encrypt_secret("again")) == env.token_key_id(token)

    def test_keys_of_a_rolled_back_transaction_are_never_cached(
        self, env: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        from django.db import transaction

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                env.encrypt_secret("lost")
                raise RuntimeError("roll back")
        assert callbacks == []
        assert self._keys().count() == 0
        token = env.encrypt_secret("kept")
        assert self._keys().filter(key_id=env.token_key_id(token)).exists()
        env.clear_key_cache()
        assert env.decrypt_secret(token) == b"kept"

    def test_blind_index(self, env: Any, settings: Any) -> None:
        value = "44510219900307123X"
        index = env.blind_index(value, purpose="person.id_number")
        assert re.fullmatch(r"[0-9a-f]{64}", index)
        assert env.blind_index(value, purpose="person.id_number") == index
        assert env.blind_index(value, purpose="company.uscc") != index
        assert env.blind_index("44510219900307123x", purpose="person.id_number") != index
        expected_key = hkdf_sm3(bytes.fromhex(settings.GOVSHARE_KEK), info=b"govshare/blind-index/v1/person.id_number")
        assert index == hmac_sm3_hex(expected_key, value.encode())
        settings.GOVSHARE_KEK = OTHER_KEK
        assert env.blind_index(value, purpose="person.id_number") != index
        with pytest.raises(ValueError):
            env.blind_index("", purpose="person.id_number")
        with pytest.raises(ValueError):
            env.blind_index(value, purpose="bad purpose")

    def test_package_exports_envelope_lazily(self, env: Any) -> None:
        import govshare.core.crypto as crypto

        assert crypto.encrypt_secret is env.encrypt_secret
        assert crypto.decrypt_secret(crypto.encrypt_secret("x")) == b"x"
        with pytest.raises(AttributeError):
            _ = crypto.no_such_name


def test_tongsuo_encryption_never_yields_an_all_zero_kdf_output(gmssl_provider: GmsslSm2,
                                                               tongsuo_provider: sm2_module.TongsuoSm2) -> None:
    """Tongsuo does not pick a new k when t is all zero (GB/T 32918.4 A5); the provider does, so one-byte
    messages (t all zero once in 256) always decrypt with a conforming implementation."""
    tongsuo = tongsuo_provider
    private_hex, public_hex = gmssl_provider.generate_keypair()
    for _ in range(1500):  # without the retry, P(no all-zero t in 1500 tries) = (255/256)^1500 ≈ 0.3 %
        assert gmssl_provider.decrypt(private_hex, tongsuo.encrypt(public_hex, b"\x00")) == b"\x00"
