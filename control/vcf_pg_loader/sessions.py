"""Listing, showing and purging staging sessions. Nothing here decrypts PHI."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .errors import VcfPgError

_COLUMNS = (
    "session_id, state, records, variants, calls, samples, block_count, line_count,"
    " warnings, error, created_by, created_at, staged_at, finished_at"
)
INCOMPLETE_STATES = ("staging", "staged", "failed")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out


def list_sessions(conn: psycopg.Connection[Any], limit: int = 100) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM vcf.sessions ORDER BY created_at DESC LIMIT %s", (limit,)
        )
        return [_jsonable(r) for r in cur.fetchall()]


def show_session(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM vcf.sessions WHERE session_id = %s", (session_id,))
        row = cur.fetchone()
        if row is None:
            raise VcfPgError(f"session {session_id} does not exist")
        cur.execute(
            "SELECT count(*) AS blocks FROM vcf.staged_blocks WHERE session_id = %s", (session_id,)
        )
        blocks = cur.fetchone()
    result = _jsonable(row)
    result["staged_blocks_present"] = int(blocks["blocks"]) if blocks else 0
    return result


def session_warnings(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> list[dict[str, Any]]:
    """The warnings stored on a session: one object per code, with count and examples."""
    row = conn.execute(
        "SELECT warnings FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    return list(row[0]) if row is not None and row[0] else []


def incomplete_session_ids(conn: psycopg.Connection[Any]) -> list[uuid.UUID]:
    """Sessions that still hold staged data or a staging key and that this login
    may purge: its own, or every one for a DBA (as vcf.session_purge decides)."""
    rows = conn.execute(
        "SELECT s.session_id FROM vcf.sessions s JOIN vcf.data_keys k"
        " ON k.key_id = s.staging_key_id"
        " WHERE s.state = ANY(%s) AND k.state <> 'destroyed'"
        " AND (s.created_by = session_user"
        "      OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r"
        "                  WHERE r.rolname = session_user AND r.rolsuper)"
        "      OR pg_catalog.pg_has_role(session_user,"
        "             (SELECT e.extowner FROM pg_catalog.pg_extension e"
        "               WHERE e.extname = 'vcf_pg_loader'), 'MEMBER'))"
        " ORDER BY s.created_at",
        (list(INCOMPLETE_STATES),),
    ).fetchall()
    return [uuid.UUID(str(r[0])) for r in rows]


def purge_session(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> str:
    try:
        row = conn.execute("SELECT vcf.session_purge(%s)", (session_id,)).fetchone()
    except psycopg.Error as exc:
        raise VcfPgError(exc.diag.message_primary or str(exc), hint=exc.diag.message_hint) from None
    assert row is not None
    return str(row[0])
