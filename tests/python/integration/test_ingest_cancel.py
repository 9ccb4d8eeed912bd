"""An ingest ended by statement_timeout or a cancel leaves its audit row (issue 9, item 6).

PL/pgSQL's WHEN OTHERS does not catch query_canceled (57014); vcf_ingest
catches it too, writes its autonomous failure row and re-raises. And when
that failure row cannot be written at all, the ingest's error is VP070, not
a WARNING beside the original error.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import (
    break_loopback,
    foreign_servers,
    phi_key,
    staging_key,
    synthetic_records,
    write_vcf,
)
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import StageResult, stage_file

_SLOW = "SELECT * FROM vcf.vcf_ingest(%s, engine => 'plpgsql')"


@pytest.fixture
def slow_session(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> tuple[StageResult, Any, Any]:
    """A session whose PL/pgSQL ingest takes seconds, with its keys."""
    tag = uuid.uuid4().hex[:10]
    path = write_vcf(
        tmp_path / f"slow-{tag}.vcf",
        [f"SLOW-{tag}-{i}" for i in range(4)],
        synthetic_records(40_000, 4, start=60_000_000),
    )
    staged = stage_file(conn, LocalMasterKey(home / "master.key"), path)
    return staged, staging_key(conn, home, staged.session_id), phi_key(conn, home)


def _failure_rows(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT details->>'sqlstate', details ? 'error', chain_no IS NOT NULL FROM vcf.audit_log"
        " WHERE action = 'ingest' AND target = %s AND NOT succeeded ORDER BY audit_id",
        (str(session_id),),
    ).fetchall()


def _still_staged(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> None:
    row = conn.execute(
        "SELECT state, (SELECT count(*) FROM vcf.records r WHERE r.session_id = s.session_id)"
        " FROM vcf.sessions s WHERE session_id = %s",
        (session_id,),
    ).fetchone()
    assert row == ("staged", 0)
    assert conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone() == (True, None)
    conn.execute("SELECT vcf.session_purge(%s)", (session_id,))


def test_statement_timeout_is_audited(
    conninfo: str, conn: psycopg.Connection[Any], slow_session: tuple[StageResult, Any, Any]
) -> None:
    staged, staging, phi = slow_session
    with psycopg.connect(conninfo) as client:
        unlock(client, staging)
        unlock(client, phi)
        client.execute("SET LOCAL statement_timeout = '300ms'")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as caught:
            client.execute(_SLOW, (staged.session_id,))
        elapsed = time.monotonic() - started
        client.rollback()
    assert caught.value.diag.sqlstate == "57014"
    assert "statement timeout" in (caught.value.diag.message_primary or "")
    assert elapsed < 30
    assert _failure_rows(conn, staged.session_id) == [("57014", False, True)]
    _still_staged(conn, staged.session_id)


def test_cancel_from_another_connection_is_audited(
    conninfo: str, conn: psycopg.Connection[Any], slow_session: tuple[StageResult, Any, Any]
) -> None:
    staged, staging, phi = slow_session
    outcome: list[BaseException] = []
    with psycopg.connect(conninfo) as client:
        pid = client.info.backend_pid
        unlock(client, staging)
        unlock(client, phi)

        def ingest() -> None:
            try:
                client.execute(_SLOW, (staged.session_id,))
            except psycopg.Error as exc:
                outcome.append(exc)
            client.rollback()

        worker = threading.Thread(target=ingest)
        worker.start()
        deadline = time.monotonic() + 30
        while True:  # cancel once the ingest is well under way
            row = conn.execute(
                "SELECT state, now() - query_start FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "active" and row[1].total_seconds() > 0.3:
                break
            assert time.monotonic() < deadline and worker.is_alive()
            time.sleep(0.02)
        assert conn.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone() == (True,)
        worker.join(timeout=60)
    [error] = outcome
    assert isinstance(error, psycopg.errors.QueryCanceled)
    assert "canceling statement due to user request" in (error.diag.message_primary or "")
    assert _failure_rows(conn, staged.session_id) == [("57014", False, True)]
    _still_staged(conn, staged.session_id)


def test_unwritable_failure_row_is_vp070(conninfo: str, conn: psycopg.Connection[Any]) -> None:
    """The audit loopback, pointed (in this transaction only) at a server that is not
    there, cannot take the autonomous failure row; the ingest's error must say so."""
    missing = uuid.uuid4()
    servers = foreign_servers(conn)
    with psycopg.connect(conninfo) as client:
        break_loopback(client, "host '/nonexistent-socket-dir', dbname 'vcf', connect_timeout '2'")
        with pytest.raises(psycopg.Error) as caught:
            client.execute("SELECT * FROM vcf.vcf_ingest(%s)", (missing,))
        client.rollback()
    error = caught.value
    assert error.diag.sqlstate == "VP070"
    assert error.diag.message_primary == (
        "the ingest failed with SQLSTATE VP001 and its audit row could not be written"
    )
    detail = error.diag.message_detail or ""
    assert detail.startswith(f"ingest error: SQLSTATE VP001: session {missing} does not exist;")
    assert "audit row: cannot write an autonomous audit row" in detail
    assert conn.execute(
        "SELECT count(*) FROM vcf.audit_log WHERE target = %s", (str(missing),)
    ).fetchone() == (0,)
    assert foreign_servers(conn) == servers  # the rollback undid the broken loopback
