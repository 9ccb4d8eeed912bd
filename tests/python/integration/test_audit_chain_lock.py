"""The audit chain's lock is the extension's alone (issue 9, item 3).

Before, the chain was serialised by an advisory lock, which any login may
take: holding it stalled every audited commit, and a refused unlock then
waited 30 s, printed a WARNING and left no audit row. Now the chain (and key
rotation) lock a row of vcf.locks, on which no role but the owner has any
privilege, and a refusal or failure whose audit row cannot be written is an
error of its own (VP070), never a WARNING.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from helpers import LOGIN, LOOPBACK, break_loopback, restore_loopback
from profiles import PASSWORD

SERVER_SIDE = {"passfile", "sslrootcert", "sslmode"}  # client files; TLS is optional
CHAIN_ADVISORY_KEYS = (1986225776, 1635083369)  # the lock of earlier builds


@pytest.fixture
def logins(conn: psycopg.Connection[Any]) -> Iterator[dict[str, str]]:
    made = {
        "plain": f"lock_plain_{uuid.uuid4().hex[:6]}",
        "loader": f"lock_ld_{uuid.uuid4().hex[:6]}",
    }
    conn.execute(f"CREATE ROLE {made['plain']} {LOGIN}")
    conn.execute(f"CREATE ROLE {made['loader']} {LOGIN}")
    conn.execute("SELECT vcf.grant_role('vcf_loader', %s)", (made["loader"],))
    try:
        yield made
    finally:
        conn.execute("SELECT vcf.revoke_role('vcf_loader', %s)", (made["loader"],))


def _as(conninfo: str, user: str, **kw: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo, user=user, **kw)


def _audit_rows(conn: psycopg.Connection[Any], target: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT action, succeeded, details->>'sqlstate', chain_no IS NOT NULL"
        " FROM vcf.audit_log WHERE target = %s ORDER BY audit_id",
        (target,),
    ).fetchall()


def test_no_function_of_the_extension_takes_an_advisory_lock(
    conn: psycopg.Connection[Any],
) -> None:
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.pronamespace = 'vcf'::regnamespace AND p.prosrc ILIKE '%advisory%lock%'"
    ).fetchall()
    assert rows == []


def test_a_login_holding_the_old_advisory_lock_stalls_nothing(
    conn: psycopg.Connection[Any], conninfo: str, logins: dict[str, str]
) -> None:
    """Any login may take any advisory lock; audited commits and refusals go on regardless."""
    with _as(conninfo, logins["plain"], autocommit=True) as attacker:
        attacker.execute("SELECT pg_advisory_lock(%s, %s)", CHAIN_ADVISORY_KEYS)
        attacker.execute("SELECT pg_advisory_lock(hashtext('vcf_pg_loader.rotate'))")
        key_id = uuid.uuid4()
        with _as(conninfo, logins["loader"], autocommit=True) as victim:
            # Far below the 30 s the refusal used to wait; a stall fails the statement.
            victim.execute("SET statement_timeout = '10s'")
            with pytest.raises(psycopg.Error) as refused:
                victim.execute("SELECT vcf.unlock(%s, %s)", (key_id, b"\x00" * 64))
            assert refused.value.diag.sqlstate == "VP002"
        # A committed audited act is chained while the lock is still held.
        with psycopg.connect(conninfo, autocommit=True) as dba:
            dba.execute("SET statement_timeout = '10s'")
            dba.execute("SELECT vcf.grant_role('vcf_analyst', %s)", (logins["plain"],))
        attacker.execute("SELECT pg_advisory_unlock_all()")
    conn.execute("SELECT vcf.revoke_role('vcf_analyst', %s)", (logins["plain"],))
    assert _audit_rows(conn, str(key_id)) == [("unlock", False, "VP002", True)]
    verified = conn.execute("SELECT ok FROM vcf.audit_verify()").fetchone()
    assert verified == (True,)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM vcf.locks FOR UPDATE",
        "SELECT * FROM vcf.locks FOR KEY SHARE",
        "LOCK TABLE vcf.locks IN ACCESS SHARE MODE",
        "LOCK TABLE vcf.locks IN ROW EXCLUSIVE MODE",
        "LOCK TABLE vcf.audit_log IN SHARE MODE",
        "LOCK TABLE vcf.audit_seal_queue IN EXCLUSIVE MODE",
        "SELECT * FROM vcf.audit_seal_queue FOR UPDATE",
    ],
)
def test_no_project_role_can_take_the_extensions_locks(
    conninfo: str, logins: dict[str, str], statement: str
) -> None:
    with _as(conninfo, logins["loader"]) as c, pytest.raises(psycopg.Error) as refused:
        c.execute(statement)
    assert refused.value.diag.sqlstate == "42501"


@pytest.fixture
def broken_loopback(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Autonomous audit rows cannot be written: the loopback points to a closed port."""
    break_loopback(conn, "host '127.0.0.1', port '1', dbname 'vcf', connect_timeout '2'")
    try:
        yield
    finally:
        restore_loopback(conn)


def test_a_refusal_that_cannot_be_audited_is_an_error(
    conninfo: str, logins: dict[str, str], broken_loopback: None
) -> None:
    warnings: list[str] = []
    with _as(conninfo, logins["loader"], autocommit=True) as c:
        c.add_notice_handler(lambda d: warnings.append(d.severity_nonlocalized or ""))
        with pytest.raises(psycopg.Error) as refused:
            c.execute("SELECT vcf.unlock(%s, %s)", (uuid.uuid4(), b"\x00" * 64))
        assert refused.value.diag.sqlstate == "VP070"
        primary = refused.value.diag.message_primary or ""
        assert "unlock" in primary and "VP002" in primary and "audit row" in primary
        with pytest.raises(psycopg.Error) as reveal:
            c.execute("SELECT vcf.reveal_sample(1, 'ticket 1')")
        assert reveal.value.diag.sqlstate == "VP070"
    assert "WARNING" not in warnings


def test_a_dblink_connection_named_like_the_loopback_is_refused(
    conn: psycopg.Connection[Any], conninfo: str
) -> None:
    """dblink looks a target up as a connection name first, truncated to 63 bytes.

    A caller's own connection named like the loopback's conninfo would receive
    the audit row (and could send it anywhere): the extension refuses instead.
    """
    target = conn.execute("SELECT vcf._audit_loopback()").fetchone()[0]  # type: ignore[index]
    if target != LOOPBACK:  # a conninfo: the name dblink would look up is cut short
        assert len(target.encode()) > 63
    name = target[:63]
    with psycopg.connect(conninfo, autocommit=True) as c:
        # from the server: a non-superuser's dblink needs a password, and the server
        # cannot read the test's passfile or CA file
        params = {k: v for k, v in conninfo_to_dict(conninfo).items() if k not in SERVER_SIDE}
        other = make_conninfo(**{k: str(v) for k, v in params.items()}, password=PASSWORD)
        c.execute("SELECT dblink_connect(%s, %s)", (name, other))
        try:
            with pytest.raises(psycopg.Error) as refused:
                c.execute("SELECT vcf.unlock(%s, %s)", (uuid.uuid4(), b"\x00" * 64))
            assert refused.value.diag.sqlstate == "VP070"
            assert "named like the audit loopback" in (refused.value.diag.message_primary or "")
        finally:
            c.execute("SELECT dblink_disconnect(%s)", (name,))
