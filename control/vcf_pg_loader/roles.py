"""The project's database roles: grant and revoke them (audited), list who has them.

Granting goes through vcf.grant_role / vcf.revoke_role, which check the
caller's right to do it, perform it and write the audit row in one act.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from .errors import VcfPgError

PROJECT_ROLES = ("vcf_loader", "vcf_analyst", "vcf_phi_reader", "vcf_key_admin", "vcf_auditor")


def _change(conn: psycopg.Connection[Any], function: str, role: str, member: str) -> None:
    try:
        conn.execute(f"SELECT vcf.{function}(%s, %s)", (role, member))
    except psycopg.Error as exc:
        raise VcfPgError(
            exc.diag.message_primary or type(exc).__name__, hint=exc.diag.message_hint
        ) from None


def grant(conn: psycopg.Connection[Any], role: str, member: str) -> None:
    _change(conn, "grant_role", role, member)


def revoke(conn: psycopg.Connection[Any], role: str, member: str) -> None:
    _change(conn, "revoke_role", role, member)


def members(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Direct members of the project roles (pg_auth_members is readable by everyone)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.rolname AS role, m.rolname AS member, a.admin_option,"
            " m.rolcanlogin AS can_login"
            " FROM pg_auth_members a"
            " JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"
            " WHERE r.rolname = ANY(%s) ORDER BY r.rolname, m.rolname",
            (list(PROJECT_ROLES),),
        )
        return list(cur.fetchall())
