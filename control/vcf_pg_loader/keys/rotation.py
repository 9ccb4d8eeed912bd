"""PHI key rotation and crypto-shredding, driven from the control plane.

A rotation makes a new PHI key active and moves every PHI value to it in
batches inside the database (vcf.rotate_batch), each batch its own
transaction with both keys unlocked for it only. Each value names its key,
so reads work throughout, and an interrupted rotation resumes where it
stopped: the retiring key stays until nothing uses it. Keys are unwrapped
once per run (or by the server itself, when it is configured to).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..errors import DatabaseError, IntegrityError, KeyError_, VcfPgError
from .provider import KeyProvider
from .registry import (
    current_database,
    new_data_key,
    prepare_unlock,
    server_key_provider,
    unlock_prepared,
)

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class RotationStatus:
    active_key: uuid.UUID | None
    retiring_key: uuid.UUID | None
    remaining: int


@dataclass(frozen=True)
class BatchResult:
    from_key: uuid.UUID | None
    to_key: uuid.UUID | None
    rotated: int
    remaining: int
    finished: bool


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _database_error(exc: psycopg.Error) -> VcfPgError:
    message = exc.diag.message_primary or type(exc).__name__
    hint = exc.diag.message_hint
    code = exc.diag.sqlstate or ""
    if code in {"VP002", "VP003", "VP004", "VP006", "VP080", "VP081", "VP083", "VP084"}:
        return KeyError_(message, hint=hint)
    if code == "VP082":
        return IntegrityError(message, hint=hint)
    return DatabaseError(message, hint=hint)


def rotation_status(conn: psycopg.Connection[Any]) -> RotationStatus:
    row = conn.execute(
        "SELECT active_key, retiring_key, remaining FROM vcf.rotate_status()"
    ).fetchone()
    assert row is not None
    return RotationStatus(_uuid(row[0]), _uuid(row[1]), int(row[2]))


def begin_rotation(conn: psycopg.Connection[Any], provider: KeyProvider) -> RotationStatus:
    """Make a new PHI key active; the current one starts retiring."""
    key, wrapped = new_data_key(provider, "phi", {}, current_database(conn))
    try:
        with conn.transaction():
            conn.execute(
                "SELECT vcf.rotate_begin(%s, %s, %s, %s, %s, %s)",
                (
                    key.key_id,
                    wrapped.provider,
                    wrapped.kek_id,
                    wrapped.wrapped,
                    Jsonb(wrapped.context),
                    key.check_value,
                ),
            )
    except psycopg.Error as exc:
        raise _database_error(exc) from None
    return rotation_status(conn)


def rotate(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Run batches of the rotation in progress until no value uses the retiring key.

    Each batch is one transaction: unlock both keys, vcf.rotate_batch, commit.
    """
    if batch_size < 1:
        raise VcfPgError(f"batch size must be at least 1, not {batch_size}")
    status = rotation_status(conn)
    if status.retiring_key is None or status.active_key is None:
        return BatchResult(None, status.active_key, 0, 0, True)
    server = server_key_provider(conn)
    old = prepare_unlock(conn, provider, status.retiring_key, None, server)
    new = prepare_unlock(conn, provider, status.active_key, None, server)
    while True:
        try:
            with conn.transaction():
                unlock_prepared(conn, old)
                unlock_prepared(conn, new)
                row = conn.execute(
                    "SELECT from_key, to_key, rotated, remaining, finished"
                    " FROM vcf.rotate_batch(%s)",
                    (batch_size,),
                ).fetchone()
        except psycopg.Error as exc:
            raise _database_error(exc) from None
        assert row is not None
        result = BatchResult(_uuid(row[0]), _uuid(row[1]), int(row[2]), int(row[3]), bool(row[4]))
        if on_batch is not None:
            on_batch(result)
        if result.finished:
            return result
        if result.from_key != old.key_id or result.to_key != new.key_id:
            raise VcfPgError(
                "the keys changed while rotating (another rotation ran meanwhile)",
                hint="Run 'vcfctl keys rotate' again to resume.",
            )


def destroy_key(conn: psycopg.Connection[Any], key_id: uuid.UUID) -> bool:
    """Crypto-shred a retired PHI key; False if it was destroyed already."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT vcf.key_destroy(%s)", (key_id,)).fetchone()
    except psycopg.Error as exc:
        raise _database_error(exc) from None
    assert row is not None
    return bool(row[0])
