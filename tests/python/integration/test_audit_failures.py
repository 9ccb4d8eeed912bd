"""Failures leave a trace: a failed ingest and a refused reveal keep their audit row
although the transaction that failed is rolled back.

Acting as a plain SQL client (psycopg, one explicit transaction, ROLLBACK),
not through vcfctl, which would record the failure afterwards anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import LOGIN, phi_key, synthetic_records, write_vcf
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import load_data_key, unlock
from vcf_pg_loader.staging import StageResult, stage_file


@pytest.fixture
def provider(home: Path) -> LocalMasterKey:
    return LocalMasterKey(home / "master.key")


@pytest.fixture
def staged(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, tmp_path: Path
) -> Callable[..., StageResult]:
    def make(records: list[str] | None = None) -> StageResult:
        tag = uuid.uuid4().hex[:10]
        path = write_vcf(
            tmp_path / f"{tag}.vcf", [f"FAIL-{tag}"], records or synthetic_records(300, 1)
        )
        return stage_file(conn, provider, path, block_bytes=4096)

    return make


def _failure_rows(conn: psycopg.Connection[Any], target: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT details->>'sqlstate', details->>'error', acting_role, chain_no IS NOT NULL"
        " FROM vcf.audit_log WHERE action = 'ingest' AND target = %s AND NOT succeeded",
        (target,),
    ).fetchall()


def _ingest_and_roll_back(
    conninfo: str, staging_key: Any, phi: Any, session_id: uuid.UUID
) -> psycopg.Error:
    """BEGIN; unlock; unlock; vcf_ingest -> error; ROLLBACK. Returns the error."""
    with psycopg.connect(conninfo) as client:  # not autocommit: one explicit transaction
        try:
            if staging_key is not None:
                unlock(client, staging_key)
            unlock(client, phi)
            client.execute("SELECT * FROM vcf.vcf_ingest(%s)", (session_id,))
        except psycopg.Error as exc:
            client.rollback()
            return exc
    pytest.fail("the ingest was expected to fail")


def test_bad_tag_survives_the_rollback(
    conninfo: str,
    owner: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    staged: Callable[..., StageResult],
) -> None:
    s = staged()
    conn.execute(
        "UPDATE vcf.staged_blocks"
        " SET ciphertext = set_byte(ciphertext, 90, get_byte(ciphertext, 90) # 1)"
        " WHERE session_id = %s AND block_no = 1",
        (s.session_id,),
    )
    key_id = conn.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (s.session_id,)
    ).fetchone()
    assert key_id is not None
    staging = load_data_key(conn, provider, key_id[0], {"session_id": str(s.session_id)})
    error = _ingest_and_roll_back(conninfo, staging, phi_key(conn, home), s.session_id)
    assert error.diag.sqlstate == "VP023"
    assert _failure_rows(conn, str(s.session_id)) == [
        ("VP023", f"session {s.session_id}: block 1 failed authentication", owner, True)
    ]
    state = conn.execute(
        "SELECT state FROM vcf.sessions WHERE session_id = %s", (s.session_id,)
    ).fetchone()
    assert state == ("staged",), "the ingest itself was rolled back"


def test_wrong_key_survives_the_rollback(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    staged: Callable[..., StageResult],
) -> None:
    victim, other = staged(), staged()
    other_key = conn.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (other.session_id,)
    ).fetchone()
    assert other_key is not None
    wrong = load_data_key(conn, provider, other_key[0], {"session_id": str(other.session_id)})
    error = _ingest_and_roll_back(conninfo, wrong, phi_key(conn, home), victim.session_id)
    assert error.diag.sqlstate == "VP004"
    [(sqlstate, message, _, chained)] = _failure_rows(conn, str(victim.session_id))
    assert sqlstate == "VP004" and "is not unlocked in this transaction" in message and chained


def test_parse_error_survives_the_rollback(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    staged: Callable[..., StageResult],
) -> None:
    records = synthetic_records(10, 1)
    records[6] = records[6].replace("\t50\t", "\tnot-a-qual\t")
    s = staged(records)
    key_id = conn.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (s.session_id,)
    ).fetchone()
    assert key_id is not None
    staging = load_data_key(conn, provider, key_id[0], {"session_id": str(s.session_id)})
    error = _ingest_and_roll_back(conninfo, staging, phi_key(conn, home), s.session_id)
    assert error.diag.sqlstate == "VP040"
    [(sqlstate, message, _, chained)] = _failure_rows(conn, str(s.session_id))
    assert sqlstate == "VP040" and message == error.diag.message_primary and chained
    assert "not-a-qual" not in message


def test_vcfctl_ingest_failure_is_audited(
    vcfctl: Any, conn: psycopg.Connection[Any], staged: Callable[..., StageResult]
) -> None:
    s = staged()
    conn.execute(
        "DELETE FROM vcf.staged_blocks WHERE session_id = %s AND block_no = 2", (s.session_id,)
    )
    result = vcfctl("ingest", str(s.session_id))
    assert result.returncode == 6
    rows = conn.execute(
        "SELECT details ? 'autonomous', details->>'error', chain_no IS NOT NULL FROM vcf.audit_log"
        " WHERE action = 'ingest' AND target = %s AND NOT succeeded ORDER BY chain_no",
        (str(s.session_id),),
    ).fetchall()
    message = f"session {s.session_id}: block 2 is missing"
    # vcf.session_fail's row last; before it vcf_ingest's own (autonomous) row
    # when vcfctl ingests through vcf.vcf_ingest.
    assert rows[-1] == (False, message, True)
    assert all(r[1] == message for r in rows) and 1 <= len(rows) <= 2


def _reveal_and_roll_back(
    conninfo: str, user: str | None, sample_id: int, reason: str | None
) -> psycopg.Error:
    kwargs = {"user": user} if user else {}
    with psycopg.connect(conninfo, **kwargs) as client:
        try:
            client.execute("SELECT vcf.reveal_sample(%s, %s)", (sample_id, reason))
        except psycopg.Error as exc:
            client.rollback()
            return exc
    pytest.fail("the reveal was expected to be refused")


def _reveal_rows(conn: psycopg.Connection[Any], sample_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT acting_role, details->>'refused', details->>'reason' FROM vcf.audit_log"
        " WHERE action = 'reveal' AND target = %s AND NOT succeeded AND chain_no IS NOT NULL"
        " ORDER BY chain_no",
        (str(sample_id),),
    ).fetchall()


def test_refused_reveals_survive_the_rollback(
    conninfo: str,
    owner: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:10]
    name = f"REVEAL-REFUSED-{tag}"
    path = write_vcf(tmp_path / "r.vcf", [name], synthetic_records(3, 1, start=11))
    s = stage_file(conn, provider, path)
    from vcf_pg_loader.ingest import ingest_session

    ingest_session(conn, provider, s.session_id)
    row = conn.execute(
        "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s", (s.session_id,)
    ).fetchone()
    assert row is not None
    sample_id = int(row[0])
    user = f"failures_analyst_{tag}"
    conn.execute(f'CREATE ROLE "{user}" {LOGIN}')
    conn.execute("SELECT vcf.grant_role('vcf_analyst', %s)", (user,))

    wrong_role = _reveal_and_roll_back(conninfo, user, sample_id, "curious")
    assert wrong_role.diag.sqlstate == "42501"
    no_reason = _reveal_and_roll_back(conninfo, None, sample_id, "")
    assert no_reason.diag.sqlstate == "VP073"
    assert _reveal_rows(conn, sample_id) == [
        (user, "not a member of vcf_phi_reader", "curious"),
        (owner, "no reason given", None),
    ]
    everything = conn.execute(
        "SELECT count(*) FROM vcf.audit_log"
        " WHERE strpos(details::text || coalesce(target, ''), %s) > 0",
        (name,),
    ).fetchone()
    assert everything == (0,), "no audit row holds the sample name"


def test_refused_unlock_survives_the_rollback(conn: psycopg.Connection[Any], home: Path) -> None:
    """A wrong key for vcf.unlock leaves a failed 'unlock' row; the key is not in it."""
    key = phi_key(conn, home)
    wrong = bytes(reversed(key.material))
    before = conn.execute(
        "SELECT count(*) FROM vcf.audit_log WHERE action = 'unlock' AND NOT succeeded"
    ).fetchone()
    with pytest.raises(psycopg.Error), conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute("SELECT vcf.unlock(%s, %b)", (key.key_id, wrong))
    rows = conn.execute(
        "SELECT target, details FROM vcf.audit_log WHERE action = 'unlock' AND NOT succeeded"
        " ORDER BY audit_id"
    ).fetchall()
    assert before is not None and len(rows) == before[0] + 1
    assert rows[-1][0] == str(key.key_id) and rows[-1][1]["sqlstate"] == "VP003"
    text = str(rows[-1])
    assert wrong.hex() not in text and key.material.hex() not in text
