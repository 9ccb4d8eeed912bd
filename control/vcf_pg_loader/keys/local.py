"""The `local` provider: a 32-byte master key file, the embedded default.

Data keys are wrapped with AES-256-GCM under the master key, with the
encryption context as associated data (as KMS does), so a wrapped key copied
to another purpose or session does not unwrap.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..crypto import KEY_BYTES
from ..errors import KeyError_
from .provider import WrappedKey, canonical_context

MASTER_KEY_BYTES = 32
_WRAP_VERSION = b"\x01"


def create_master_key(path: Path) -> None:
    """Write a new random master key, mode 0600, refusing to overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyError_(f"master key file {path} exists already") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(MASTER_KEY_BYTES))
        fh.flush()
        os.fsync(fh.fileno())


class LocalMasterKey:
    """Key provider backed by a local master key file (mode 0600)."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._key = self._read(path)

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise KeyError_(
                f"master key file {path} does not exist",
                hint="The embedded default creates it; for your own database run "
                "'vcfctl keys init' or set VCF_PG_LOADER_MASTER_KEY_FILE.",
            ) from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyError_(
                f"master key file {path} is accessible by other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o})",
                hint=f"chmod 600 {path}",
            )
        data = path.read_bytes()
        if len(data) != MASTER_KEY_BYTES:
            raise KeyError_(f"master key file {path} does not hold a 32-byte key")
        return data

    def __repr__(self) -> str:
        return f"LocalMasterKey(path={str(self._path)!r}, key=<redacted>)"

    @property
    def kek_id(self) -> str:
        digest = hmac.new(self._key, b"vcf-pg-loader kek id", hashlib.sha256).hexdigest()
        return f"local:{digest[:16]}"

    def generate(self, context: dict[str, str]) -> tuple[bytes, WrappedKey]:
        material = os.urandom(KEY_BYTES)
        nonce = os.urandom(12)
        sealed = AESGCM(self._key).encrypt(nonce, material, canonical_context(context))
        return material, WrappedKey(self.name, self.kek_id, _WRAP_VERSION + nonce + sealed, context)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        if wrapped.provider != self.name:
            raise KeyError_(f"key was wrapped by provider {wrapped.provider!r}, not 'local'")
        if wrapped.kek_id != self.kek_id:
            raise KeyError_(
                f"key was wrapped by master key {wrapped.kek_id}, this file is {self.kek_id}",
                hint="Point VCF_PG_LOADER_MASTER_KEY_FILE at the master key that wrapped it.",
            )
        blob = wrapped.wrapped
        if blob[:1] != _WRAP_VERSION or len(blob) != 1 + 12 + KEY_BYTES + 16:
            raise KeyError_("wrapped key is malformed")
        try:
            return AESGCM(self._key).decrypt(
                blob[1:13], blob[13:], canonical_context(wrapped.context)
            )
        except InvalidTag:
            raise KeyError_(
                "wrapped key does not unwrap under this master key and encryption context"
            ) from None
