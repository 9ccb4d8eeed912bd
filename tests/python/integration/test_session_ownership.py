"""A session belongs to the login that staged it (issue 9, item 4).

Another loader may not ingest, fail or purge it: each is refused with 42501
and the refusal leaves an audit row although its transaction rolls back. A
DBA (a superuser, or a member of the extension owner's role) may purge any
session, and the purge row says so; ingest and fail stay owner-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import LOGIN, phi_key, synthetic_records, write_vcf
from vcf_pg_loader.errors import VcfPgError
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import load_data_key, unlock
from vcf_pg_loader.sessions import incomplete_session_ids, purge_session
from vcf_pg_loader.staging import StageResult, stage_file


@dataclass
class Logins:
    conninfo: str
    alice: str
    bob: str
    dba: str

    def connect(self, user: str) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, user=user, autocommit=True)


@pytest.fixture(scope="module")
def logins(conninfo: str) -> Iterator[Logins]:
    tag = uuid.uuid4().hex[:8]
    names = Logins(conninfo, f"own_alice_{tag}", f"own_bob_{tag}", f"own_dba_{tag}")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        owner = admin.execute(
            "SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner"
            " WHERE e.extname = 'vcf_pg_loader'"
        ).fetchone()
        assert owner is not None
        for user in (names.alice, names.bob, names.dba):
            admin.execute(f'CREATE ROLE "{user}" {LOGIN}')
        for user in (names.alice, names.bob):
            admin.execute("SELECT vcf.grant_role('vcf_loader', %s)", (user,))
        admin.execute(f'GRANT "{owner[0]}" TO "{names.dba}"')
        row = admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (names.dba,))
        assert row.fetchone() == (False,), "the DBA login is not itself a superuser"
    yield names


@pytest.fixture
def provider(home: Path) -> LocalMasterKey:
    return LocalMasterKey(home / "master.key")


def _stage_as(logins: Logins, user: str, provider: LocalMasterKey, tmp_path: Path) -> StageResult:
    tag = uuid.uuid4().hex[:10]
    path = write_vcf(tmp_path / f"{tag}.vcf", [f"OWN-{tag}"], synthetic_records(20, 1))
    with logins.connect(user) as c:
        return stage_file(c, provider, path)


def _session(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT s.state, s.error, s.created_by, k.state,"
        " (SELECT count(*) FROM vcf.staged_blocks b WHERE b.session_id = s.session_id)"
        " FROM vcf.sessions s JOIN vcf.data_keys k ON k.key_id = s.staging_key_id"
        " WHERE s.session_id = %s",
        (session_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _refusals(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT action, session_role, details->>'refused', details->>'owner',"
        " details->>'sqlstate', details->>'error'"
        " FROM vcf.audit_log WHERE target = %s AND NOT succeeded AND chain_no IS NOT NULL"
        " ORDER BY chain_no",
        (str(session_id),),
    ).fetchall()


def _vcf_ingest_as(
    conn: psycopg.Connection[Any],
    home: Path,
    provider: LocalMasterKey,
    login: Logins,
    user: str,
    session_id: uuid.UUID,
) -> None:
    row = conn.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    staging = load_data_key(conn, provider, row[0], {"session_id": str(session_id)})
    phi = phi_key(conn, home)
    with login.connect(user) as other, other.transaction():
        unlock(other, staging)
        unlock(other, phi)
        other.execute("SELECT * FROM vcf.vcf_ingest(%s)", (session_id,)).fetchall()


def test_another_loader_cannot_ingest_fail_or_purge(
    conn: psycopg.Connection[Any],
    logins: Logins,
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
) -> None:
    s = _stage_as(logins, logins.alice, provider, tmp_path)
    before = _session(conn, s.session_id)
    assert before == ("staged", None, logins.alice, "active", before[4]) and before[4] > 0

    with pytest.raises(psycopg.Error) as ingest:
        _vcf_ingest_as(conn, home, provider, logins, logins.bob, s.session_id)
    assert ingest.value.diag.sqlstate == "42501"
    assert "staged by another login" in (ingest.value.diag.message_primary or "")
    assert ingest.value.diag.message_hint

    with logins.connect(logins.bob) as bob:
        with pytest.raises(psycopg.Error) as fail:
            bob.execute("SELECT vcf.session_fail(%s, 'I say it failed')", (s.session_id,))
        assert fail.value.diag.sqlstate == "42501"
        with pytest.raises(psycopg.Error) as purge:
            bob.execute("SELECT vcf.session_purge(%s)", (s.session_id,))
        assert purge.value.diag.sqlstate == "42501"
        assert purge.value.diag.message_hint and "DBA" in purge.value.diag.message_hint
        # vcfctl's path: the refusal is a clean error and session_fail is refused too.
        with pytest.raises(VcfPgError, match="staged by another login"):
            ingest_session(bob, provider, s.session_id)

    assert _session(conn, s.session_id) == before, "nothing of alice's session changed"
    message = f"permission denied to ingest session {s.session_id}: it was staged by another login"
    assert _refusals(conn, s.session_id) == [
        ("ingest", logins.bob, None, None, "42501", message),
        ("fail", logins.bob, "not the session owner", logins.alice, None, None),
        ("purge", logins.bob, "not the session owner", logins.alice, None, None),
        ("ingest", logins.bob, None, None, "42501", message),
        ("fail", logins.bob, "not the session owner", logins.alice, None, None),
    ]
    text = str(
        conn.execute(
            "SELECT array_agg(details) FROM vcf.audit_log WHERE target = %s", (str(s.session_id),)
        ).fetchone()
    )
    assert "I say it failed" not in text, "a refused session_fail stores nothing"

    with logins.connect(logins.alice) as alice:
        done = ingest_session(alice, provider, s.session_id)
    assert done.state == "ingested" and done.records == 20
    row = conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone()
    assert row == (True, None)


def test_a_superuser_may_not_ingest_another_logins_session(
    conn: psycopg.Connection[Any],
    logins: Logins,
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
) -> None:
    s = _stage_as(logins, logins.alice, provider, tmp_path)
    with pytest.raises(VcfPgError, match="staged by another login"):
        ingest_session(conn, provider, s.session_id)  # conn: the owner (by default a superuser)
    assert _session(conn, s.session_id)[0] == "staged"
    purge_session(conn, s.session_id)  # but may purge it


def test_a_dba_may_purge_any_session_and_the_row_says_so(
    conn: psycopg.Connection[Any], logins: Logins, provider: LocalMasterKey, tmp_path: Path
) -> None:
    s = _stage_as(logins, logins.alice, provider, tmp_path)
    with logins.connect(logins.dba) as dba:
        assert purge_session(dba, s.session_id) == "purged"
    state, _, _, key_state, blocks = _session(conn, s.session_id)
    assert (state, key_state, blocks) == ("purged", "destroyed", 0)
    row = conn.execute(
        "SELECT session_role, details->>'owner', details->'by_dba' FROM vcf.audit_log"
        " WHERE action = 'purge' AND target = %s AND succeeded",
        (str(s.session_id),),
    ).fetchone()
    assert row == (logins.dba, logins.alice, True)

    own = _stage_as(logins, logins.alice, provider, tmp_path)
    with logins.connect(logins.alice) as alice:
        assert purge_session(alice, own.session_id) == "purged"
    row = conn.execute(
        "SELECT details->>'owner', details->'by_dba' FROM vcf.audit_log"
        " WHERE action = 'purge' AND target = %s AND succeeded",
        (str(own.session_id),),
    ).fetchone()
    assert row == (logins.alice, False)


def test_session_fail_reason_is_one_bounded_line(
    conn: psycopg.Connection[Any], logins: Logins, provider: LocalMasterKey, tmp_path: Path
) -> None:
    s = _stage_as(logins, logins.alice, provider, tmp_path)
    reason = "  first line\r\nsecond\tline\x1b[2Jx" + "y" * 2000
    with logins.connect(logins.alice) as alice:
        alice.execute("SELECT vcf.session_fail(%s, %s)", (s.session_id, reason))
        with pytest.raises(psycopg.Error) as again:
            alice.execute("SELECT vcf.session_fail(%s, 'once more')", (s.session_id,))
        assert again.value.diag.sqlstate == "VP010", "a session fails once"
    state, error, *_ = _session(conn, s.session_id)
    assert state == "failed"
    assert error.startswith("first line second line [2Jx") and len(error) == 500
    row = conn.execute(
        "SELECT details->>'error' FROM vcf.audit_log WHERE action = 'ingest' AND target = %s"
        " AND NOT succeeded",
        (str(s.session_id),),
    ).fetchone()
    assert row == (error,)
    conn.execute("SELECT vcf.session_purge(%s)", (s.session_id,))


def test_purge_incomplete_lists_only_what_the_login_may_purge(
    conn: psycopg.Connection[Any], logins: Logins, provider: LocalMasterKey, tmp_path: Path
) -> None:
    s = _stage_as(logins, logins.alice, provider, tmp_path)
    with logins.connect(logins.bob) as bob:
        assert s.session_id not in incomplete_session_ids(bob)
    with logins.connect(logins.alice) as alice:
        assert s.session_id in incomplete_session_ids(alice)
    with logins.connect(logins.dba) as dba:
        assert s.session_id in incomplete_session_ids(dba)
    purge_session(conn, s.session_id)
