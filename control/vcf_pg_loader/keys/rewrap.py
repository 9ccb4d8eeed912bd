"""Rewrap: every data key under the current or a new KMS key; no data touched.

aws-kms keys are re-encrypted inside KMS (ReEncrypt: the plaintext never
leaves KMS); with a target key, local and env keys are unwrapped here and
wrapped by KMS (Encrypt) under the same encryption context. Each rewrapped
key is unwrapped again and checked against its stored key check value before
vcf.rewrap_key swaps it in (compare-and-swap on the old wrapped key's
sha256), one transaction per key. The database refuses a new wrapped form it
has no proof for (VP063): when the server unwraps keys of the new provider
itself (plpython companion) it checks the new form there and no key is sent;
otherwise the key unwrapped from the new form goes with it, as a bind
parameter, as vcf.unlock(key_id, key) takes keys. Safe to run again: keys
already under the target are skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from ..crypto import DataKey
from ..errors import KeyError_, VcfPgError
from .provider import WrappedKey
from .providers import ProviderSet
from .registry import server_key_provider

REWRAPPED, MOVED, SKIPPED, FAILED = "rewrapped", "moved", "skipped", "failed"


@dataclass(frozen=True)
class RewrapResult:
    """What happened to one key; detail says why for skipped and failed."""

    key_id: str
    purpose: str
    action: str
    from_provider: str
    from_kek_id: str
    to_provider: str | None = None
    to_kek_id: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        text = f"{self.action:<9} {self.key_id} {self.purpose:<7} {self.from_kek_id}"
        if self.to_kek_id:
            text += f" -> {self.to_kek_id}"
        return text + (f": {self.detail}" if self.detail else "")


def rewrap_keys(
    conn: psycopg.Connection[Any], providers: ProviderSet, to_kms_key_id: str | None = None
) -> Iterator[RewrapResult]:
    """Rewrap every key not destroyed, yielding one result per key as it is done.

    Raises KeyError_ before touching any key if to_kms_key_id cannot be
    resolved to a KMS key ARN.
    """
    kms = providers.kms()
    target = kms.describe_arn(to_kms_key_id) if to_kms_key_id else None
    rows = conn.execute(
        "SELECT key_id, purpose, provider, kek_id, wrapped_key, encryption_context, key_check"
        " FROM vcf.data_keys WHERE state <> 'destroyed' ORDER BY created_at, key_id"
    ).fetchall()
    server = server_key_provider(conn)
    for row in rows:
        yield _rewrap_one(conn, providers, target, row, server)


def _rewrap_one(
    conn: psycopg.Connection[Any],
    providers: ProviderSet,
    target: str | None,
    row: Any,
    server: str | None = None,
) -> RewrapResult:
    """Rewrap one key; server is the provider the database unwraps keys with
    itself (vcf.server_key_provider()), or None: then the key unwrapped from
    the new form is sent as the proof that the new form is this key."""
    key_id, purpose, provider, kek_id, wrapped_key, context, key_check = row
    old = WrappedKey(provider, kek_id, bytes(wrapped_key), dict(context))
    base = {
        "key_id": str(key_id),
        "purpose": purpose,
        "from_provider": provider,
        "from_kek_id": kek_id,
    }
    kms = providers.kms()
    try:
        if context.get("key_id") != str(key_id) or context.get("purpose") != purpose:
            raise KeyError_("its encryption context names another key or purpose")
        if provider == "aws-kms":
            if target is not None and kek_id == target:
                return RewrapResult(**base, action=SKIPPED, detail="already under this KMS key")
            new, action = kms.reencrypt(old, target), REWRAPPED
        elif target is not None:
            material = providers.unwrap(old)
            _check(key_id, material, bytes(key_check))
            new, action = kms.wrap(material, old.context, target), MOVED
        else:
            return RewrapResult(
                **base,
                action=SKIPPED,
                detail=f"a {provider} key: --to-kms-key-id KEY moves it to KMS",
            )
        unwrapped = kms.unwrap(new)
        _check(key_id, unwrapped, bytes(key_check))
        # The server proves the new form itself when it unwraps its provider's keys.
        proof = None if server == new.provider else unwrapped
        with conn.transaction(), conn.cursor(binary=True) as cur:
            cur.execute(
                "SELECT vcf.rewrap_key(%s, %s, %s, %s, %s, %b)",
                (
                    key_id,
                    hashlib.sha256(old.wrapped).digest(),
                    new.kek_id,
                    new.provider,
                    new.wrapped,
                    proof,
                ),
            )
    except VcfPgError as exc:
        return RewrapResult(**base, action=FAILED, detail=exc.message)
    except psycopg.Error as exc:
        message = exc.diag.message_primary or type(exc).__name__
        if exc.diag.sqlstate == "VP060":
            return RewrapResult(**base, action=SKIPPED, detail="destroyed meanwhile")
        return RewrapResult(**base, action=FAILED, detail=message)
    return RewrapResult(**base, action=action, to_provider=new.provider, to_kek_id=new.kek_id)


def _check(key_id: uuid.UUID, material: bytes, key_check: bytes) -> None:
    """The unwrapped key must be the one the stored check value names."""
    if not hmac.compare_digest(DataKey(uuid.UUID(str(key_id)), material).check_value, key_check):
        raise KeyError_(f"data key {key_id} unwraps to the wrong key (check value differs)")


def summary(results: list[RewrapResult]) -> dict[str, int]:
    counts = {REWRAPPED: 0, MOVED: 0, SKIPPED: 0, FAILED: 0}
    for r in results:
        counts[r.action] += 1
    return counts
