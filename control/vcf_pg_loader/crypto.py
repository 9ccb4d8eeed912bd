"""A256CBC-HS512 (RFC 7518 section 5.2.5) and the stored ciphertext format.

The same construction is implemented in SQL (vcf._a256cbc_hs512_encrypt,
vcf._seal, vcf._open) so that pgcrypto alone can read what this module
writes. Format version 1 of a stored value:

    0x01 || key id (16 bytes) || IV (16) || AES-256-CBC ciphertext || tag (32)

with associated data ``0x01 || key id || UTF-8 context``; the context names
where the value belongs (session and block number for staged blocks).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES = 64
IV_BYTES = 16
TAG_BYTES = 32
FORMAT_VERSION = 1
_PREFIX_BYTES = 1 + 16
_MIN_BLOB = _PREFIX_BYTES + IV_BYTES + 16 + TAG_BYTES


class AuthenticationError(Exception):
    """A ciphertext did not verify: wrong key, wrong context, or modified."""


@dataclass(frozen=True)
class DataKey:
    """A plaintext 64-byte data key, held only in memory; repr never shows it."""

    key_id: uuid.UUID
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ValueError("a data key is 64 bytes")

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id}, material=<redacted>)"

    @property
    def check_value(self) -> bytes:
        return key_check_value(self.material)


def key_check_value(key: bytes) -> bytes:
    """First 16 bytes of HMAC-SHA-256(key, label); equals vcf._key_check."""
    return hmac.new(key, b"vcf-pg-loader key check v1", hashlib.sha256).digest()[:16]


def _tag(mac_key: bytes, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    al = (len(aad) * 8).to_bytes(8, "big")
    return hmac.new(mac_key, aad + iv + ciphertext + al, hashlib.sha512).digest()[:TAG_BYTES]


def a256cbc_hs512_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Return E || T for the given IV (RFC 7518 section 5.2.2.1)."""
    if len(key) != KEY_BYTES or len(iv) != IV_BYTES:
        raise ValueError("A256CBC-HS512 needs a 64-byte key and a 16-byte IV")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return ciphertext + _tag(key[:32], aad, iv, ciphertext)


def a256cbc_hs512_decrypt(key: bytes, iv: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    """Verify the tag, then decrypt (RFC 7518 section 5.2.2.2)."""
    n = len(ciphertext_and_tag)
    if len(key) != KEY_BYTES or len(iv) != IV_BYTES or n < 48 or (n - TAG_BYTES) % 16:
        raise AuthenticationError("malformed ciphertext")
    ciphertext, tag = ciphertext_and_tag[:-TAG_BYTES], ciphertext_and_tag[-TAG_BYTES:]
    if not hmac.compare_digest(_tag(key[:32], aad, iv, ciphertext), tag):
        raise AuthenticationError("tag mismatch")
    decryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def seal(key: DataKey, plaintext: bytes, context: str) -> bytes:
    """Encrypt into the stored format; the same bytes vcf._open reads."""
    prefix = bytes([FORMAT_VERSION]) + key.key_id.bytes
    iv = os.urandom(IV_BYTES)
    return (
        prefix
        + iv
        + a256cbc_hs512_encrypt(key.material, iv, plaintext, prefix + context.encode("utf-8"))
    )


def open_sealed(key: DataKey, blob: bytes, context: str) -> bytes:
    """Decrypt a value made by seal or vcf._seal for this context."""
    if len(blob) < _MIN_BLOB or blob[0] != FORMAT_VERSION:
        raise AuthenticationError("not a version 1 ciphertext")
    if blob[1:_PREFIX_BYTES] != key.key_id.bytes:
        raise AuthenticationError("ciphertext names another key")
    prefix = blob[:_PREFIX_BYTES]
    iv = blob[_PREFIX_BYTES : _PREFIX_BYTES + IV_BYTES]
    return a256cbc_hs512_decrypt(
        key.material, iv, blob[_PREFIX_BYTES + IV_BYTES :], prefix + context.encode("utf-8")
    )


def blob_key_id(blob: bytes) -> uuid.UUID:
    """The key id a stored ciphertext names."""
    return uuid.UUID(bytes=blob[1:_PREFIX_BYTES])


# Contexts shared with the SQL side; a change here is a format change.
def block_context(session_id: uuid.UUID, block_no: int, line_count: int) -> str:
    return f"vcf.staged_blocks:{session_id}:{block_no}:{line_count}"


def source_context(session_id: uuid.UUID) -> str:
    return f"vcf.sessions.source:{session_id}"


def manifest_context(
    session_id: uuid.UUID, block_count: int, line_count: int, content_sha256: bytes
) -> str:
    return f"vcf.sessions.manifest:{session_id}:{block_count}:{line_count}:{content_sha256.hex()}"
