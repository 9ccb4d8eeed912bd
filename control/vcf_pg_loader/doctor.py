"""Checks of a database's settings that would put keys or PHI where they should not be.

A plaintext data key reaches the server only as a bind parameter of
vcf.unlock(key_id, key). Server logging that records bind parameters
(log_statement = 'all', log_min_duration_statement = 0, sampling, errors,
pgaudit.log_parameter) would write it to the server log: each is reported
here, with the setting that makes it safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

OK = "ok"
WARN = "warn"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str


def _setting(conn: psycopg.Connection[Any], name: str) -> str | None:
    """What a new session gets (reset_val), not what vcfctl pinned for its own."""
    row = conn.execute(
        "SELECT coalesce((SELECT reset_val FROM pg_settings WHERE name = %s),"
        " current_setting(%s, true))",
        (name, name),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def logging_findings(conn: psycopg.Connection[Any]) -> list[Finding]:
    """Server settings that would log bind parameters, so keys passed to vcf.unlock."""
    params_logged = _int(_setting(conn, "log_parameter_max_length"), -1) != 0
    fix = "set log_parameter_max_length = 0 (or use in-database unwrapping: docs/operations.md)"
    out: list[Finding] = []

    statement = _setting(conn, "log_statement") or "none"
    if statement == "all" and params_logged:
        out.append(
            Finding(
                "log_statement",
                WARN,
                f"log_statement = 'all' logs the bind parameters of every statement,"
                f" data keys given to vcf.unlock included; {fix}",
            )
        )
    else:
        out.append(Finding("log_statement", OK, f"log_statement = '{statement}'"))

    duration = _int(_setting(conn, "log_min_duration_statement"), -1)
    if duration == 0 and params_logged:
        out.append(
            Finding(
                "log_min_duration_statement",
                WARN,
                f"log_min_duration_statement = 0 logs every statement with its bind"
                f" parameters, data keys included; {fix}",
            )
        )
    elif duration > 0 and params_logged:
        out.append(
            Finding(
                "log_min_duration_statement",
                WARN,
                f"log_min_duration_statement = {duration} ms logs slow statements with their"
                f" bind parameters; a slow vcf.unlock would log its key; {fix}",
            )
        )
    else:
        out.append(Finding("log_min_duration_statement", OK, f"{duration}"))

    sample = _int(_setting(conn, "log_min_duration_sample"), -1)
    rate = float(_setting(conn, "log_statement_sample_rate") or "0")
    if sample >= 0 and rate > 0 and params_logged:
        out.append(
            Finding(
                "log_min_duration_sample",
                WARN,
                f"statement sampling (log_min_duration_sample = {sample},"
                f" log_statement_sample_rate = {rate}) logs bind parameters; {fix}",
            )
        )

    on_error = _int(_setting(conn, "log_parameter_max_length_on_error"), 0)
    if on_error != 0:
        out.append(
            Finding(
                "log_parameter_max_length_on_error",
                WARN,
                f"log_parameter_max_length_on_error = {on_error} logs the bind parameters of"
                " failed statements: a refused vcf.unlock would log the key it was given;"
                " set it to 0",
            )
        )
    else:
        out.append(Finding("log_parameter_max_length_on_error", OK, "0"))

    pgaudit = _setting(conn, "pgaudit.log_parameter")
    if pgaudit is not None and pgaudit.lower() in ("on", "true", "1", "yes"):
        out.append(
            Finding(
                "pgaudit.log_parameter",
                WARN,
                "pgaudit.log_parameter = on writes every bind parameter to the audit log,"
                " data keys included, whatever log_parameter_max_length says; turn it off"
                " for the roles that load (ALTER ROLE ... SET pgaudit.log_parameter = off)"
                " or use in-database unwrapping",
            )
        )
    return out


def transport_findings(conn: psycopg.Connection[Any]) -> list[Finding]:
    """Keys travel to vcf.unlock over this connection: it must be a socket or TLS."""
    row = conn.execute("SELECT inet_client_addr() IS NULL").fetchone()
    assert row is not None
    # TLS as libpq sees it: pg_stat_ssl hides the row from a role that SET ROLE away
    local_socket, ssl = bool(row[0]), bool(conn.pgconn.ssl_in_use)
    if local_socket:
        return [Finding("transport", OK, "Unix socket")]
    if ssl:
        return [Finding("transport", OK, "TLS")]
    return [
        Finding(
            "transport",
            WARN,
            "TCP without TLS: data keys given to vcf.unlock would cross the network in"
            " the clear; set VCF_PG_LOADER_TLS_MODE=verify-full and VCF_PG_LOADER_TLS_CA_CERT",
        )
    ]


def extension_findings(conn: psycopg.Connection[Any]) -> list[Finding]:
    rows = dict(
        conn.execute(
            "SELECT extname, extversion FROM pg_extension"
            " WHERE extname IN ('vcf_pg_loader', 'vcf_pg_loader_plpython')"
        ).fetchall()
    )
    out = []
    core = rows.get("vcf_pg_loader")
    out.append(
        Finding("extension", OK, f"vcf_pg_loader {core}")
        if core
        else Finding("extension", WARN, "vcf_pg_loader is not installed in this database")
    )
    companion = rows.get("vcf_pg_loader_plpython")
    out.append(
        Finding("companion", OK, f"vcf_pg_loader_plpython {companion}")
        if companion
        else Finding(
            "companion",
            OK,
            "vcf_pg_loader_plpython is not installed (as on RDS): keys are unwrapped by"
            " vcfctl and passed to vcf.unlock(key_id, key)",
        )
    )
    return out


def key_findings(conn: psycopg.Connection[Any]) -> list[Finding]:
    """Keys wrapped by a provider weaker than KMS or a master key file."""
    row = conn.execute(
        "SELECT count(*) FROM vcf.data_keys WHERE provider = 'env' AND state <> 'destroyed'"
    ).fetchone()
    weak = int(row[0]) if row else 0
    if weak:
        return [
            Finding(
                "key providers",
                WARN,
                f"{weak} key(s) are wrapped by the env provider, weaker (a plaintext key in"
                " the environment): move them with 'vcfctl keys rewrap --to-kms-key-id KEY'",
            )
        ]
    return [Finding("key providers", OK, "no key is wrapped by the weaker env provider")]
