"""The `local` provider: a 32-byte master key file, the embedded default.

Data keys are wrapped with AES-256-GCM under the master key, with the
encryption context as associated data (as KMS does), so a wrapped key copied
to another purpose or session does not unwrap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import KeyError_
from .symmetric import KEK_BYTES, SymmetricKek

MASTER_KEY_BYTES = KEK_BYTES


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


class LocalMasterKey(SymmetricKek):
    """Key provider backed by a local master key file (mode 0600)."""

    name = "local"
    _what = "master key"
    _hint = "Point VCF_PG_LOADER_MASTER_KEY_FILE at the master key that wrapped it."

    def __init__(self, path: Path) -> None:
        self._path = path
        super().__init__(self._read(path))

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise KeyError_(
                f"master key file {path} does not exist (for your own database:"
                " 'vcfctl keys init')",
                hint="The embedded cluster creates it on first use; or point "
                "VCF_PG_LOADER_MASTER_KEY_FILE at yours, or use another key provider.",
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
