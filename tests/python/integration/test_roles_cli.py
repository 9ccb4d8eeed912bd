"""vcfctl roles grant / revoke / list (audited), and vcfctl used by login roles that
have only the project role a command needs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from helpers import LOGIN, synthetic_records, write_vcf
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import active_phi_key_id, load_data_key, unlock


def _user(conn: psycopg.Connection[Any], prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE ROLE "{name}" {LOGIN}')
    return name


def test_grant_list_revoke_are_audited(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    user = _user(conn, "roles_cli")
    granted = vcfctl("roles", "grant", "vcf_auditor", user)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == f"granted vcf_auditor to {user}"
    listed = json.loads(vcfctl("roles", "list", "--format", "json").stdout)
    assert {
        "role": "vcf_auditor",
        "member": user,
        "admin_option": False,
        "can_login": True,
    } in listed
    revoked = vcfctl("roles", "revoke", "vcf_auditor", user)
    assert revoked.returncode == 0, revoked.stderr
    rows = conn.execute(
        "SELECT action, target, succeeded, details->>'member', chain_no IS NOT NULL"
        " FROM vcf.audit_log WHERE details->>'member' = %s ORDER BY chain_no",
        (user,),
    ).fetchall()
    assert rows == [
        ("grant", "vcf_auditor", True, user, True),
        ("revoke", "vcf_auditor", True, user, True),
    ]
    listed = json.loads(vcfctl("roles", "list", "--format", "json").stdout)
    assert all(r["member"] != user for r in listed)


def test_refusals(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    unknown_role = vcfctl("roles", "grant", "pg_read_all_data", "someone")
    assert unknown_role.returncode == 2, "click refuses a role that is not a project role"
    missing = vcfctl("roles", "grant", "vcf_analyst", "no_such_user_" + uuid.uuid4().hex[:6])
    assert missing.returncode == 1 and "no such member role" in missing.stderr
    nested = vcfctl("roles", "grant", "vcf_analyst", "vcf_loader")
    assert nested.returncode == 1 and "member is a project role" in nested.stderr
    rows = conn.execute(
        "SELECT details->>'refused' FROM vcf.audit_log WHERE action = 'grant' AND NOT succeeded"
        " AND details->>'member' = 'vcf_loader'"
    ).fetchall()
    assert ("member is a project role",) in rows


def test_a_dba_without_rights_cannot_grant(conn: psycopg.Connection[Any], conninfo: str) -> None:
    """EXECUTE on grant_role alone is not enough: the caller must be able to grant the role."""
    dba = _user(conn, "roles_dba")
    target = _user(conn, "roles_target")
    conn.execute(f'GRANT USAGE ON SCHEMA vcf TO "{dba}"')
    conn.execute(f'GRANT EXECUTE ON FUNCTION vcf.grant_role(text, text) TO "{dba}"')
    try:
        with psycopg.connect(conninfo, user=dba, autocommit=True) as c:
            try:
                c.execute("SELECT vcf.grant_role('vcf_phi_reader', %s)", (target,))
                raise AssertionError("the grant should have been refused")
            except psycopg.errors.InsufficientPrivilege as exc:
                assert "caller may not administer the role" in str(exc)
        conn.execute(f'ALTER ROLE "{dba}" CREATEROLE')
        with psycopg.connect(conninfo, user=dba, autocommit=True) as c:
            c.execute("SELECT vcf.grant_role('vcf_phi_reader', %s)", (target,))
        row = conn.execute(
            "SELECT acting_role, session_role FROM vcf.audit_log WHERE action = 'grant'"
            " AND succeeded AND details->>'member' = %s",
            (target,),
        ).fetchone()
        assert row == (dba, dba)
    finally:
        conn.execute(f'REVOKE EXECUTE ON FUNCTION vcf.grant_role(text, text) FROM "{dba}"')
        conn.execute(f'REVOKE USAGE ON SCHEMA vcf FROM "{dba}"')


def _logins(vcfctl: Any, conn: psycopg.Connection[Any]) -> dict[str, str]:
    users = {}
    for role, prefix in (
        ("vcf_loader", "cli_load"),
        ("vcf_analyst", "cli_analyst"),
        ("vcf_auditor", "cli_audit"),
    ):
        users[role] = _user(conn, prefix)
        assert vcfctl("roles", "grant", role, users[role]).returncode == 0
    return users


def test_vcfctl_as_a_loader_an_analyst_and_an_auditor(
    vcfctl: Any, conn: psycopg.Connection[Any], conninfo: str, home: Path, tmp_path: Path
) -> None:
    users = _logins(vcfctl, conn)
    loader = make_conninfo(conninfo, user=users["vcf_loader"])
    tag = uuid.uuid4().hex[:8]
    path = write_vcf(tmp_path / "l.vcf", [f"CLI-{tag}"], synthetic_records(50, 1))

    analyst = make_conninfo(conninfo, user=users["vcf_analyst"])
    as_analyst = vcfctl("--db", analyst, "stage", str(path))
    assert as_analyst.returncode != 0 and "permission denied" in as_analyst.stderr

    staged = vcfctl("--db", loader, "stage", str(path))
    assert staged.returncode == 0, staged.stderr
    session_id = uuid.UUID(staged.stdout.strip())
    # The ingest, as the loader, the way a SQL client does it (vcf.vcf_ingest).
    provider = LocalMasterKey(home / "master.key")
    with psycopg.connect(loader) as c:
        row = c.execute(
            "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
        ).fetchone()
        assert row is not None
        staging = load_data_key(c, provider, row[0], {"session_id": str(session_id)})
        phi_id = active_phi_key_id(c)
        assert phi_id is not None
        unlock(c, staging)
        unlock(c, load_data_key(c, provider, phi_id))
        done = c.execute("SELECT records, state FROM vcf.vcf_ingest(%s)", (session_id,)).fetchone()
        c.commit()
    assert done == (50, "ingested")
    rows = conn.execute(
        "SELECT DISTINCT acting_role FROM vcf.audit_log WHERE target = %s", (str(session_id),)
    ).fetchall()
    assert rows == [(users["vcf_loader"],)]
    listed = vcfctl("--db", loader, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    # Block counts, not ciphertext: a loader may still see what is staged.
    shown = vcfctl("--db", loader, "sessions", "show", str(session_id), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["staged_blocks_present"] == 0

    auditor = make_conninfo(conninfo, user=users["vcf_auditor"])
    as_auditor = vcfctl("--db", auditor, "audit", "verify")
    assert as_auditor.returncode == 0, as_auditor.stderr
    loader_verify = vcfctl("--db", loader, "audit", "verify")
    assert loader_verify.returncode == 1
    assert "vcf_auditor" in loader_verify.stderr


def test_vcfctl_load_as_a_loader(
    vcfctl: Any, conn: psycopg.Connection[Any], conninfo: str, tmp_path: Path
) -> None:
    users = _logins(vcfctl, conn)
    tag = uuid.uuid4().hex[:8]
    path = write_vcf(tmp_path / "l.vcf", [f"CLI-{tag}"], synthetic_records(50, 1))
    as_loader = vcfctl(
        "--db",
        make_conninfo(conninfo, user=users["vcf_loader"]),
        "load",
        "--format",
        "json",
        str(path),
    )
    assert as_loader.returncode == 0, as_loader.stderr
    [entry] = json.loads(as_loader.stdout)
    assert entry["state"] == "ingested" and entry["records"] == 50
