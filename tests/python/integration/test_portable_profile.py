"""The portable profile's server is what it claims to be (RDS's limits), and one limit attacked.

Only in the portable profile (``pytest --profile portable``): the checks that
the whole suite really ran under RDS's limits, so that a later change to
tests/python/profiles.py cannot quietly make the profile easier.

* no plpython3u (neither available nor installed), no vcf_pg_loader files on
  the server, the extension registered in pg_tle and owned by rds_admin,
  which is not a superuser;
* hostssl only: over TCP without TLS no login gets in, and on the socket only
  the provider's superuser does;
* the audit loopback is the password foreign server;
* vcf.unlock needs the owner to see the caller's TLS status: without
  pg_read_all_stats a loader's unlock over TLS is refused, saying why
  (VP009, audited), never let through.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from helpers import LOGIN
from profiles import ADMIN

pytestmark = pytest.mark.portable


def test_no_plpython_and_no_extension_files(conn: psycopg.Connection[Any]) -> None:
    available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    assert "plpython3u" not in available and "vcf_pg_loader" not in available
    assert "pg_tle" in available
    assert conn.execute(
        "SELECT count(*) FROM pg_language WHERE lanname LIKE 'plpython%'"
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT count(*) FROM pgtle.available_extensions() WHERE name = 'vcf_pg_loader'"
    ).fetchone() == (1,)


def test_the_owner_is_rds_admin_and_not_a_superuser(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT r.rolname, r.rolsuper, r.rolcreaterole, ssl.ssl"
        " FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner,"
        " pg_stat_ssl ssl WHERE e.extname = 'vcf_pg_loader' AND ssl.pid = pg_backend_pid()"
    ).fetchone()
    assert row == (ADMIN, False, True, True)
    assert conn.execute("SELECT vcf._audit_loopback()").fetchone() == ("vcf_audit_loopback",)


def test_only_tls_gets_in(cluster: Any, conninfo: str) -> None:
    with pytest.raises(psycopg.OperationalError) as plain:
        psycopg.connect(make_conninfo(conninfo, sslmode="disable"))
    assert "no encryption" in str(plain.value)
    socket = make_conninfo(cluster.superuser_conninfo(), user=ADMIN)
    with pytest.raises(psycopg.OperationalError) as local:
        psycopg.connect(socket)
    assert "no pg_hba.conf entry" in str(local.value)


def test_unlock_is_refused_when_the_owner_cannot_see_tls(
    conn: psycopg.Connection[Any], superuser_conn: psycopg.Connection[Any], conninfo: str
) -> None:
    login = f"tls_blind_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {login} {LOGIN}")
    conn.execute(f"GRANT vcf_loader TO {login}")
    key_id = uuid.uuid4()
    superuser_conn.execute(f"REVOKE pg_read_all_stats FROM {ADMIN}")
    try:
        with (
            psycopg.connect(make_conninfo(conninfo, user=login), autocommit=True) as c,
            pytest.raises(psycopg.Error) as refused,
        ):
            c.execute("SELECT vcf.unlock(%s, %s)", (key_id, b"\x00" * 64))
    finally:
        superuser_conn.execute(f"GRANT pg_read_all_stats TO {ADMIN}")
    diag = refused.value.diag
    assert diag.sqlstate == "VP009"
    assert "TLS status the extension owner rds_admin cannot see" in (diag.message_primary or "")
    assert "GRANT pg_read_all_stats TO rds_admin" in (diag.message_hint or "")
    row = conn.execute(
        "SELECT session_role, succeeded, details->>'refused' FROM vcf.audit_log"
        " WHERE action = 'unlock' AND target = %s",
        (str(key_id),),
    ).fetchone()
    assert row == (login, False, "TLS status not visible")
    # with it back, the same login's unlock goes on to the key check (VP002: no such key)
    with (
        psycopg.connect(make_conninfo(conninfo, user=login), autocommit=True) as c,
        pytest.raises(psycopg.Error) as unknown,
    ):
        c.execute("SELECT vcf.unlock(%s, %s)", (uuid.uuid4(), b"\x00" * 64))
    assert unknown.value.diag.sqlstate == "VP002"
