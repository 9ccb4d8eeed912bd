"""Ingest a staged session: unlock its keys in one transaction, call vcf_ingest.

The parsing, PHI encryption and crypto-shredding happen inside the database;
this side only unwraps the data keys (staging and PHI) and hands them over
as bind parameters, or, when the server unwraps keys itself (plpython
companion, configured by the DBA), asks it to with vcf.unlock(key_id). A
failed ingest rolls back whole; the session is then marked failed, with the
extension's own message (no PHI). Content that another session ingested
first, even one that ran at the same moment, is AlreadyLoaded: this session
is purged (its staging key destroyed) instead. With a progress callback,
the database reports each block parsed (vcf_pg_loader.ingest_progress: a
NOTICE, SQLSTATE VP090, with counts only) and the callback gets
(blocks done, blocks).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from .errors import (
    AlreadyLoaded,
    BadInputError,
    DatabaseError,
    IntegrityError,
    KeyError_,
    VcfPgError,
)
from .keys.provider import KeyProvider
from .keys.registry import (
    active_phi_key_id,
    phi_keys_in_use,
    prepare_unlock,
    server_key_provider,
    unlock_prepared,
)
from .sessions import purge_session

BlockProgress = Callable[[int, int], None]
"""Called with (blocks done, blocks) as the database parses a session."""

PROGRESS_SQLSTATE = "VP090"


@dataclass(frozen=True)
class IngestResult:
    session_id: uuid.UUID
    records: int
    variants: int
    calls: int
    samples: int
    state: str


def _error_for(sqlstate: str | None, message: str) -> VcfPgError:
    code = sqlstate or ""
    if code in {"VP020", "VP021", "VP022", "VP023", "VP024", "VP025"}:
        return IntegrityError(message)
    if code.startswith(("VP03", "VP04")) or code.startswith("22"):
        return BadInputError(message)
    if code in {"VP002", "VP003", "VP004", "VP006"}:
        return KeyError_(message)
    if code == "VP041":
        return BadInputError(message)
    if code in {"VP001", "VP010"}:
        return VcfPgError(message)
    return DatabaseError(message)


@contextlib.contextmanager
def _block_progress(conn: psycopg.Connection[Any], progress: BlockProgress) -> Iterator[None]:
    """Pass the ingest's progress NOTICEs (VP090, counts in DETAIL) to progress
    while the block runs; the connection's other notice handlers still see
    every notice."""

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.sqlstate != PROGRESS_SQLSTATE or not diag.message_detail:
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            counts = json.loads(diag.message_detail)
            progress(int(counts["blocks_done"]), int(counts["blocks"]))

    conn.add_notice_handler(on_notice)
    try:
        yield
    finally:
        conn.remove_notice_handler(on_notice)


def ingest_session(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    session_id: uuid.UUID,
    label: str | None = None,
    *,
    engine: str | None = None,
    strict: bool = False,
    progress: BlockProgress | None = None,
) -> IngestResult:
    """Ingest one staged session; on failure mark it failed and raise a clean error.

    progress, when given, is called with (blocks done, blocks) after each
    block the database parses.

    Raises AlreadyLoaded (session_id: the winner) when the database refuses the
    content as already ingested (VP050); this session is then purged.
    """
    prefix = f"{label}: " if label else ""
    row = conn.execute(
        "SELECT staging_key_id, state FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    if row is None:
        raise VcfPgError(f"{prefix}session {session_id} does not exist")
    staging_key_id, state = row
    if state != "staged":
        raise VcfPgError(f"{prefix}session {session_id} is {state}, not staged")
    phi_key_id = active_phi_key_id(conn)
    if phi_key_id is None:
        raise KeyError_("there is no active PHI key", hint="Create one with 'vcfctl keys init'.")
    server = server_key_provider(conn)
    keys = [
        prepare_unlock(
            conn,
            provider,
            uuid.UUID(str(staging_key_id)),
            {"session_id": str(session_id)},
            server,
        ),
        *(prepare_unlock(conn, provider, k, None, server) for k in phi_keys_in_use(conn)),
    ]
    reporting = _block_progress(conn, progress) if progress else contextlib.nullcontext()
    try:
        with reporting, conn.transaction():
            if progress:
                conn.execute("SELECT set_config('vcf_pg_loader.ingest_progress', 'on', true)")
            for key in keys:
                unlock_prepared(conn, key)
            result = conn.execute(
                "SELECT session_id, records, variants, calls, samples, state"
                " FROM vcf.vcf_ingest(%s, engine => %s, strict => %s)",
                (session_id, None if engine in (None, "auto") else engine, strict),
            ).fetchone()
    except psycopg.Error as exc:
        message = exc.diag.message_primary or type(exc).__name__
        if exc.diag.sqlstate == "VP050":
            # Another session ingested the same content first (possibly while
            # this one ran): this one can never be ingested, so shred it.
            with contextlib.suppress(VcfPgError):
                purge_session(conn, session_id)
            raise AlreadyLoaded(f"{prefix}{message}", exc.diag.message_detail or "") from None
        # Only the extension's own messages are stored: PostgreSQL's may quote file data.
        stored = (
            message
            if (exc.diag.sqlstate or "").startswith("VP")
            else (f"ingest failed with SQLSTATE {exc.diag.sqlstate}")
        )
        with contextlib.suppress(psycopg.Error):  # the ingest error is what matters
            conn.execute("SELECT vcf.session_fail(%s, %s)", (session_id, stored))
        raise _error_for(exc.diag.sqlstate, f"{prefix}{message}") from None
    assert result is not None
    return IngestResult(
        session_id=uuid.UUID(str(result[0])),
        records=int(result[1]),
        variants=int(result[2]),
        calls=int(result[3]),
        samples=int(result[4]),
        state=str(result[5]),
    )
