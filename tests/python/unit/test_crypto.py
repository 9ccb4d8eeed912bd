"""A256CBC-HS512 against RFC 7518 Appendix B.3, and the stored ciphertext format."""

from __future__ import annotations

import uuid

import pytest

from vcf_pg_loader import crypto
from vcf_pg_loader.crypto import AuthenticationError, DataKey

# RFC 7518 Appendix B.3 (AES_256_CBC_HMAC_SHA_512)
K = bytes(range(64))
P = (
    b"A cipher system must not be required to be secret, and it must be able to fall "
    b"into the hands of the enemy without inconvenience"
)
IV = bytes.fromhex("1af38c2dc2b96ffdd86694092341bc04")
A = b"The second principle of Auguste Kerckhoffs"
E = bytes.fromhex(
    "4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd"
    "822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b"
    "36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3"
    "a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950b"
    "be2638d09dd7a4930930806d0703b1f6"
)
T = bytes.fromhex("4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5")


def test_rfc7518_b3_encrypt() -> None:
    assert crypto.a256cbc_hs512_encrypt(K, IV, P, A) == E + T


def test_rfc7518_b3_decrypt() -> None:
    assert crypto.a256cbc_hs512_decrypt(K, IV, E + T, A) == P


@pytest.mark.parametrize("position", [0, 50, len(E) - 1, len(E), len(E) + len(T) - 1])
def test_any_flipped_byte_fails(position: int) -> None:
    data = bytearray(E + T)
    data[position] ^= 0x01
    with pytest.raises(AuthenticationError):
        crypto.a256cbc_hs512_decrypt(K, IV, bytes(data), A)


def test_other_aad_or_iv_fails() -> None:
    with pytest.raises(AuthenticationError):
        crypto.a256cbc_hs512_decrypt(K, IV, E + T, A + b"!")
    with pytest.raises(AuthenticationError):
        crypto.a256cbc_hs512_decrypt(K, bytes(16), E + T, A)


def test_truncated_input_fails() -> None:
    for cut in (1, 16, 32, len(E)):
        with pytest.raises(AuthenticationError):
            crypto.a256cbc_hs512_decrypt(K, IV, (E + T)[:-cut], A)


def test_wrong_key_size_refused() -> None:
    with pytest.raises(ValueError):
        crypto.a256cbc_hs512_encrypt(K[:32], IV, P, A)


def _key() -> DataKey:
    return DataKey(uuid.uuid4(), bytes(range(1, 65)))


def test_seal_roundtrip_and_format() -> None:
    key = _key()
    blob = crypto.seal(key, b"secret sample name", "vcf.samples.name:7")
    assert blob[0] == 1
    assert crypto.blob_key_id(blob) == key.key_id
    assert b"secret" not in blob
    assert crypto.open_sealed(key, blob, "vcf.samples.name:7") == b"secret sample name"


def test_seal_is_randomised() -> None:
    key = _key()
    assert crypto.seal(key, b"x", "c") != crypto.seal(key, b"x", "c")


def test_open_refuses_other_context_key_or_version() -> None:
    key = _key()
    blob = crypto.seal(key, b"x", "vcf.samples.name:7")
    with pytest.raises(AuthenticationError):
        crypto.open_sealed(key, blob, "vcf.samples.name:8")
    with pytest.raises(AuthenticationError):
        crypto.open_sealed(DataKey(key.key_id, bytes(64)), blob, "vcf.samples.name:7")
    with pytest.raises(AuthenticationError):
        crypto.open_sealed(_key(), blob, "vcf.samples.name:7")
    with pytest.raises(AuthenticationError):
        crypto.open_sealed(key, b"\x02" + blob[1:], "vcf.samples.name:7")
    with pytest.raises(AuthenticationError):
        crypto.open_sealed(key, blob[:40], "vcf.samples.name:7")


def test_data_key_repr_hides_material() -> None:
    key = DataKey(uuid.uuid4(), bytes([0xAB]) * 64)
    text = repr(key) + str(key)
    assert "ab" * 8 not in text.lower()
    assert "171" not in text
    assert "redacted" in text


def test_data_key_must_be_64_bytes() -> None:
    with pytest.raises(ValueError):
        DataKey(uuid.uuid4(), bytes(32))


def test_key_check_value_distinguishes_keys() -> None:
    assert len(crypto.key_check_value(K)) == 16
    assert crypto.key_check_value(K) != crypto.key_check_value(bytes(64))


def test_block_context_binds_session_block_and_lines() -> None:
    sid = uuid.uuid4()
    contexts = {
        crypto.block_context(sid, 0, 10),
        crypto.block_context(sid, 1, 10),
        crypto.block_context(sid, 0, 11),
        crypto.block_context(uuid.uuid4(), 0, 10),
    }
    assert len(contexts) == 4
