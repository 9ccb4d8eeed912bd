"""The `env` provider: the seed runbook's VCF_PG_LOADER_PHI_KEY as the KEK.

Weaker than KMS or a master key file: the key is plaintext in the process
environment, visible to anything that can read it. Accepted for
compatibility; the wrapping KEK is derived from it with HKDF-SHA256 and used
exactly as the local provider uses its master key.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import KeyError_
from .symmetric import KEK_BYTES, SymmetricKek

PHI_KEY_ENV = "VCF_PG_LOADER_PHI_KEY"
PHI_KEY_SIZES = (32, 64)
_HKDF_INFO = b"vcf-pg-loader env provider kek v1"


def decode_phi_key(value: str) -> bytes:
    """The decoded key; the error never quotes the value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(
            f"{PHI_KEY_ENV} is not valid base64",
            hint="Set it to the base64 of a 32- or 64-byte random key "
            "(e.g. openssl rand -base64 32).",
        ) from None
    if len(raw) not in PHI_KEY_SIZES:
        raise KeyError_(
            f"{PHI_KEY_ENV} decodes to {len(raw)} bytes, not 32 or 64",
            hint="Set it to the base64 of a 32- or 64-byte random key.",
        )
    return raw


def derive_kek(phi_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEK_BYTES, salt=None, info=_HKDF_INFO).derive(
        phi_key
    )


class EnvKey(SymmetricKek):
    """Key provider whose KEK is derived from VCF_PG_LOADER_PHI_KEY."""

    name = "env"
    _what = f"{PHI_KEY_ENV} key"
    _hint = f"Set {PHI_KEY_ENV} to the key that wrapped it."

    def __init__(self, value: str) -> None:
        super().__init__(derive_kek(decode_phi_key(value)))
