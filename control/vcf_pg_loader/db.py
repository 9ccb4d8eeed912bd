"""Connections: to the embedded cluster by default, or to the configured database.

The password comes from VCF_PG_LOADER_DB_PASSWORD, a libpq passfile, an AWS
Secrets Manager secret or an RDS IAM token (credentials.py), never from the
URL; TLS settings map to libpq's sslmode, sslrootcert, sslcert and sslkey
(verify-full by default for a host that is not local).

Keys and PHI travel only over a Unix socket or TLS: on a connection that is
TCP without TLS (localhost included), the statements that would send a data
key (vcf.unlock(key_id, key)), staged data (vcf.stage_begin, COPY into
vcf.staged_blocks) or a sample name (vcf.reveal_sample, vcf.find_sample) are
refused before anything is sent (InsecureTransportError). The server refuses
them too (VP009).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from . import EXTENSION_VERSION
from .config import ENV_PREFIX, LIBPQ_SERVER_VARS, TLS_REQUIRED_MODES, Settings
from .credentials import CredentialError, fetch_db_secret, rds_auth_token
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

SOCKET, TLS, TCP = "unix socket", "TLS", "TCP without TLS"

# The statements that send a key, staged data or a sample name, and what they send.
# Names may be quoted ("vcf"."unlock", as psycopg.sql.Identifier writes them).


def _name(schema: str, name: str) -> str:
    return rf'(?:\b{schema}|"{schema}")\s*\.\s*(?:{name}\b|"{name}")'


_SENSITIVE = (
    (re.compile(_name("vcf", "unlock") + r"\s*\([^)]*,", re.I | re.S), "a data key (vcf.unlock)"),
    (re.compile(_name("vcf", "stage_begin") + r"\s*\(", re.I), "staged data (vcf.stage_begin)"),
    (re.compile(r"\bcopy\s+" + _name("vcf", "staged_blocks"), re.I), "staged data (COPY)"),
    (
        re.compile(_name("vcf", "reveal_sample") + r"\s*\(", re.I),
        "a sample name (vcf.reveal_sample)",
    ),
    (re.compile(_name("vcf", "find_sample") + r"\s*\(", re.I), "a sample name (vcf.find_sample)"),
)

# libpq's connection failures, as one clear line and what to do about each.
_CONNECT_HINTS = (
    (
        "certificate verify failed",
        "the server's TLS certificate is not signed by the CA you gave",
        f"Set {ENV_PREFIX}TLS_CA_CERT (--tls-ca-cert) to the CA that signed the server's"
        " certificate (for RDS: the region's bundle from https://truststore.pki.rds.amazonaws.com).",
    ),
    (
        "does not match host name",
        "the server's TLS certificate is not for the host name you connect to",
        "Connect with a name the certificate lists (for RDS: the instance endpoint,"
        " not an IP address or a CNAME), or fix the certificate.",
    ),
    (
        "root certificate file",
        "no CA certificate to verify the server with",
        f"Set {ENV_PREFIX}TLS_CA_CERT (--tls-ca-cert) to the CA that signed the server's"
        " certificate.",
    ),
    (
        "no encryption",
        "the server accepts this login only over TLS",
        f"Set {ENV_PREFIX}TLS_MODE=verify-full (--tls-mode) and {ENV_PREFIX}TLS_CA_CERT.",
    ),
    (
        "server does not support SSL",
        "the server does not offer TLS",
        f"Enable ssl on the server, or connect through its Unix socket"
        f" ({ENV_PREFIX}TLS_MODE=disable only on a socket).",
    ),
    (
        "password authentication failed",
        "password authentication failed",
        f"Check {ENV_PREFIX}DB_PASSWORD, the passfile, the secret (--db-secret-id) or,"
        " with --iam-auth, that the role has rds_iam and your identity rds-db:connect.",
    ),
)


class InsecureTransportError(DatabaseError):
    """A key or PHI would cross a connection that is neither a Unix socket nor TLS."""


def _is_local(host: str) -> bool:
    if host.startswith(("/", "@")) or host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_params(settings: Settings, providers: KeyProvider | None = None) -> dict[str, Any]:
    """libpq parameters for the configured database (no secrets from the URL).

    The embedded cluster is bootstrapped on first use, its first PHI key
    wrapped by providers (default: the configured provider). A secret
    (--db-secret-id) gives the password and fills in the user, host, port
    and database the URL does not give; --iam-auth makes a token for the
    URL's host, port and user, only when TLS is required.
    """
    if settings.embedded:
        cluster = EmbeddedCluster(
            settings.home,
            settings.master_key_path,
            providers=providers or ProviderSet(settings),
        )
        return {"conninfo": cluster.ensure_ready()}
    try:
        parsed = conninfo_to_dict(settings.db_url or "")
    except psycopg.ProgrammingError:
        raise VcfPgError("the database URL is not a valid libpq connection string") from None
    if "password" in parsed:
        raise VcfPgError(
            "the database URL contains a password; refusing it",
            hint=f"Put the password in {ENV_PREFIX}DB_PASSWORD, a libpq passfile or an AWS"
            " Secrets Manager secret (--db-secret-id), or use --iam-auth.",
        )
    params: dict[str, Any] = {"conninfo": settings.db_url or ""}
    if settings.db_secret_id:
        secret = fetch_db_secret(settings.db_secret_id)
        for name, value in (
            ("user", secret.username),
            ("host", secret.host),
            ("port", secret.port),
            ("dbname", secret.dbname),
        ):
            if value is not None and not parsed.get(name):
                params[name] = str(value)
        params["password"] = secret.password
    libpq = dict(settings.libpq_env)
    host = str(params.get("host") or parsed.get("host") or libpq.get("PGHOST") or "")
    hosts = host.split(",") if host else [""]
    if settings.tls_mode:
        params["sslmode"] = settings.tls_mode
    elif (
        "sslmode" not in parsed
        and "service" not in parsed
        and not {"PGSSLMODE", "PGREQUIRESSL", "PGSERVICE"} & libpq.keys()
    ):
        # the user's sslmode (URL, PGSSLMODE, a service file) is left to libpq
        params["sslmode"] = "prefer" if all(_is_local(h) for h in hosts) else "verify-full"
    if settings.tls_ca_cert:
        params["sslrootcert"] = str(settings.tls_ca_cert)
    if settings.tls_client_cert:
        params["sslcert"] = str(settings.tls_client_cert)
    if settings.tls_client_key:
        params["sslkey"] = str(settings.tls_client_key)
    if settings.db_passfile:
        params["passfile"] = str(settings.db_passfile)
    if settings.db_password:
        params["password"] = settings.db_password
    if settings.iam_auth:
        from_env = {
            key: libpq[name]
            for key, name in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"))
            if name in libpq
        }
        params["password"] = _iam_token(params, {**from_env, **parsed}, hosts)
    params.setdefault("application_name", "vcfctl")
    return params


def _iam_token(params: dict[str, Any], parsed: dict[str, Any], hosts: list[str]) -> str:
    mode = str(params.get("sslmode") or parsed.get("sslmode") or "")
    if mode not in TLS_REQUIRED_MODES:
        raise CredentialError(
            f"--iam-auth requires TLS: sslmode={mode or 'prefer'} could send the token"
            " in the clear",
            hint=f"Set {ENV_PREFIX}TLS_MODE=verify-full and {ENV_PREFIX}TLS_CA_CERT"
            " (the RDS CA bundle).",
        )
    user = str(params.get("user") or parsed.get("user") or "")
    if len(hosts) != 1 or not hosts[0] or hosts[0].startswith(("/", "@")) or not user:
        raise CredentialError(
            "--iam-auth needs one host name and a user in the database URL",
            hint="e.g. --db 'host=NAME.ID.REGION.rds.amazonaws.com port=5432 dbname=vcf"
            " user=loader'.",
        )
    port_text = str(params.get("port") or parsed.get("port") or "5432")
    try:
        port = int(port_text)
    except ValueError:
        raise CredentialError("--iam-auth needs one numeric port in the database URL") from None
    return rds_auth_token(hosts[0], port, user)


def transport(conn: psycopg.Connection[Any]) -> str:
    """What the live connection runs over: SOCKET, TLS or TCP (without TLS)."""
    if conn.pgconn.ssl_in_use:
        return TLS
    info = conn.info
    if not info.hostaddr and info.host.startswith(("/", "@")):
        return SOCKET
    return TCP


def require_protected_transport(conn: psycopg.Connection[Any], what: str) -> None:
    """Refuse (InsecureTransportError) to send what over TCP without TLS."""
    if transport(conn) != TCP:
        return
    info = conn.info
    raise InsecureTransportError(
        f"refusing to send {what} over TCP without TLS (to {info.host}:{info.port})",
        hint="Connect through the server's Unix socket (--db 'host=/path/to/socket/dir ...'),"
        f" or over TLS: {ENV_PREFIX}TLS_MODE=verify-full and {ENV_PREFIX}TLS_CA_CERT"
        " (--tls-mode, --tls-ca-cert).",
    )


def _refuse_sensitive(conn: psycopg.Connection[Any], query: Any) -> None:
    if isinstance(query, bytes):
        text = query.decode("utf-8", "replace")
    elif isinstance(query, sql.Composable):
        text = query.as_string(conn)
    else:
        text = str(query)
    for pattern, what in _SENSITIVE:
        if pattern.search(text):
            require_protected_transport(conn, what)


class _GuardedCursor(psycopg.Cursor[Any]):
    """A cursor for a TCP connection without TLS: refuses the statements in _SENSITIVE."""

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Self:
        _refuse_sensitive(self.connection, query)
        return super().execute(query, *args, **kwargs)

    def executemany(self, query: Any, *args: Any, **kwargs: Any) -> None:
        _refuse_sensitive(self.connection, query)
        super().executemany(query, *args, **kwargs)

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_sensitive(self.connection, statement)
        return super().copy(statement, *args, **kwargs)

    def stream(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_sensitive(self.connection, query)
        return super().stream(query, *args, **kwargs)


def _connect_error(exc: psycopg.OperationalError) -> DatabaseError:
    """One line, from libpq's message (it holds no password), and a hint that says what to do."""
    text = str(exc).strip()
    for needle, message, hint in _CONNECT_HINTS:
        if needle in text:
            return DatabaseError(f"cannot connect to the database: {message}", hint=hint)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "connection failed"
    return DatabaseError(f"cannot connect to the database: {first}")


def describe_database(conn: psycopg.Connection[Any], settings: Settings) -> str:
    """Which database a connection reached and what chose it, without secrets:
    'database "vcf" on /path:5432 as vcf_admin (the embedded cluster)'."""
    if settings.embedded:
        source = "the embedded cluster"
    elif settings.db_url is not None:
        source = f"--db or {ENV_PREFIX}DB_URL"
    elif settings.db_secret_id is not None:
        source = "--db-secret-id"
    else:
        names = ", ".join(n for n, _ in settings.libpq_env if n in LIBPQ_SERVER_VARS)
        source = f"the libpq environment: {names}"
    info = conn.info
    return f'database "{info.dbname}" on {info.host}:{info.port} as {info.user} ({source})'


def connect(settings: Settings, providers: KeyProvider | None = None) -> psycopg.Connection[Any]:
    """Open a connection and check that the extension is there at our version.

    On a TCP connection without TLS, the statements that would send a key or
    PHI are refused (see the module docstring); with --iam-auth, a connection
    that is not TLS is closed at once.
    """
    params = connection_params(settings, providers)
    try:
        conn = psycopg.connect(**params, autocommit=True)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc) from None
    if transport(conn) == TCP:
        if settings.iam_auth:
            conn.close()
            raise CredentialError("--iam-auth: the connection is not encrypted; refusing it")
        conn.cursor_factory = _GuardedCursor
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
            hint="Upgrade it: vcfctl db upgrade, as the extension's owner (docs/architecture.md,"
            " 'Upgrades and releases'); or use the vcfctl of that version.",
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
