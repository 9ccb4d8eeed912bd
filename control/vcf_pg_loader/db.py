"""Connections: to the embedded cluster by default, or to the configured database.

The password comes only from VCF_PG_LOADER_DB_PASSWORD (or libpq's passfile),
never from the URL; TLS settings map to libpq's sslmode and sslrootcert.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from . import EXTENSION_VERSION
from .config import Settings
from .embedded import EmbeddedCluster
from .errors import DatabaseError, VcfPgError
from .keys.provider import KeyProvider
from .keys.providers import ProviderSet

_LOCAL_HOSTS = {"localhost", ""}

# Settings any login may change that would print vcfctl's own statements'
# plans or bind parameters (data keys given to vcf.unlock, names looked up)
# to the server log. The extension pins these and more inside its functions
# (vcf._pinned_settings); a statement's own plan is made before any function
# runs, so vcfctl pins them for its session, over PGOPTIONS and ALTER ROLE.
SESSION_PINNED_SETTINGS = (
    ("debug_print_parse", "off"),
    ("debug_print_rewritten", "off"),
    ("debug_print_plan", "off"),
    ("log_parameter_max_length_on_error", "0"),
)


def _is_local(host: str) -> bool:
    if host.startswith("/") or host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_params(settings: Settings, providers: KeyProvider | None = None) -> dict[str, Any]:
    """libpq parameters for the configured database (no secrets from the URL).

    The embedded cluster is bootstrapped on first use, its first PHI key
    wrapped by providers (default: the configured provider).
    """
    if settings.db_url is None:
        cluster = EmbeddedCluster(
            settings.home,
            settings.master_key_path,
            providers=providers or ProviderSet(settings),
        )
        return {"conninfo": cluster.ensure_ready()}
    try:
        parsed = conninfo_to_dict(settings.db_url)
    except psycopg.ProgrammingError:
        raise VcfPgError("the database URL is not a valid libpq connection string") from None
    if "password" in parsed:
        raise VcfPgError(
            "the database URL contains a password; refusing it",
            hint="Put the password in VCF_PG_LOADER_DB_PASSWORD (or a libpq passfile).",
        )
    params: dict[str, Any] = {"conninfo": settings.db_url}
    host = str(parsed.get("host") or "")
    hosts = host.split(",") if host else [""]
    if settings.tls_mode:
        params["sslmode"] = settings.tls_mode
    elif "sslmode" not in parsed:
        params["sslmode"] = "prefer" if all(_is_local(h) for h in hosts) else "verify-full"
    if settings.tls_ca_cert:
        params["sslrootcert"] = str(settings.tls_ca_cert)
    if settings.tls_client_cert:
        params["sslcert"] = str(settings.tls_client_cert)
    if settings.tls_client_key:
        params["sslkey"] = str(settings.tls_client_key)
    if settings.db_password:
        params["password"] = settings.db_password
    params.setdefault("application_name", "vcfctl")
    return params


def connect(settings: Settings, providers: KeyProvider | None = None) -> psycopg.Connection[Any]:
    """Open a connection and check that the extension is there at our version."""
    params = connection_params(settings, providers)
    try:
        conn = psycopg.connect(**params, autocommit=True)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise DatabaseError(f"cannot connect to the database: {first}") from None
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vcf_pg_loader'"
    ).fetchone()
    if row is None:
        conn.close()
        raise DatabaseError(
            "extension vcf_pg_loader is not installed in this database",
            hint="CREATE EXTENSION vcf_pg_loader CASCADE (see README, 'Your own PostgreSQL').",
        )
    if row[0] != EXTENSION_VERSION:
        conn.close()
        raise DatabaseError(
            f"extension vcf_pg_loader is at version {row[0]}, vcfctl needs {EXTENSION_VERSION}",
            hint="ALTER EXTENSION vcf_pg_loader UPDATE.",
        )
    pin_session_settings(conn)
    return conn


def pin_session_settings(conn: psycopg.Connection[Any]) -> None:
    """Turn off, for this session, what would log vcfctl's own keys or names."""
    names, values = zip(*SESSION_PINNED_SETTINGS, strict=True)
    conn.execute(
        "SELECT pg_catalog.set_config(n, v, false) FROM unnest(%s::text[], %s::text[]) AS s(n, v)",
        (list(names), list(values)),
    )
