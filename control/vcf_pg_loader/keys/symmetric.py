"""AES-256-GCM wrapping shared by the `local` and `env` providers.

Wrapped format (version 1), also read by the server-side unwrap:
``0x01 || 12-byte nonce || AES-GCM ciphertext and tag``, with the canonical
encryption context as associated data, as KMS binds its context.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..crypto import KEY_BYTES
from ..errors import KeyError_
from .provider import WrappedKey, canonical_context

KEK_BYTES = 32
WRAP_VERSION = b"\x01"
_NONCE_BYTES = 12
_WRAPPED_BYTES = 1 + _NONCE_BYTES + KEY_BYTES + 16


def kek_fingerprint(kek: bytes) -> str:
    """16 hex digits naming a KEK without revealing it."""
    return hmac.new(kek, b"vcf-pg-loader kek id", hashlib.sha256).hexdigest()[:16]


def wrap(kek: bytes, material: bytes, context: dict[str, str]) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return WRAP_VERSION + nonce + AESGCM(kek).encrypt(nonce, material, canonical_context(context))


def unwrap(kek: bytes, blob: bytes, context: dict[str, str], what: str) -> bytes:
    """Unwrap a version 1 blob; `what` names the KEK in the error ("this master key")."""
    if blob[:1] != WRAP_VERSION or len(blob) != _WRAPPED_BYTES:
        raise KeyError_("wrapped key is malformed")
    try:
        return AESGCM(kek).decrypt(blob[1:13], blob[13:], canonical_context(context))
    except InvalidTag:
        raise KeyError_(
            f"wrapped key does not unwrap under {what} and encryption context"
        ) from None


class SymmetricKek:
    """A provider whose KEK is 32 bytes held in memory; subclasses say where from."""

    name: str
    _what: str  # how errors name the KEK: "master key"
    _hint: str  # what to do when a key was wrapped by another KEK

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyError_("a key encryption key is 32 bytes")
        self._key = kek

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kek_id={self.kek_id!r}, key=<redacted>)"

    @property
    def kek_id(self) -> str:
        return f"{self.name}:{kek_fingerprint(self._key)}"

    def generate(self, context: dict[str, str]) -> tuple[bytes, WrappedKey]:
        material = os.urandom(KEY_BYTES)
        return material, WrappedKey(
            self.name, self.kek_id, wrap(self._key, material, context), context
        )

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        if wrapped.provider != self.name:
            raise KeyError_(f"key was wrapped by provider {wrapped.provider!r}, not {self.name!r}")
        if wrapped.kek_id != self.kek_id:
            raise KeyError_(
                f"key was wrapped by {self._what} {wrapped.kek_id}, this one is {self.kek_id}",
                hint=self._hint,
            )
        return unwrap(self._key, wrapped.wrapped, wrapped.context, f"this {self._what}")
