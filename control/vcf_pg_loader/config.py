"""Settings, from flags, then VCF_PG_LOADER_* environment, then defaults.

All problems are collected and reported at once. Secrets (the database
password, VCF_PG_LOADER_PHI_KEY) come only from the environment, a libpq
passfile, AWS Secrets Manager or an RDS IAM token, never from a URL or argv,
and never show in repr(). A URL with a password in it is refused.

The database password: VCF_PG_LOADER_DB_PASSWORD, or the secret named by
VCF_PG_LOADER_DB_SECRET_ID (--db-secret-id), or an RDS IAM auth token
(VCF_PG_LOADER_IAM_AUTH, --iam-auth); at most one of the three. Without any,
libpq's passfile (VCF_PG_LOADER_DB_PASSFILE, else PGPASSFILE or ~/.pgpass).

With no --db, VCF_PG_LOADER_DB_URL or secret, libpq's own environment is
honoured as psql honours it: any of PGHOST, PGHOSTADDR, PGPORT, PGDATABASE or
PGSERVICE names a server, and vcfctl connects there (libpq reads them, and
PGUSER, PGSSLMODE and the rest, itself). The embedded cluster is used only
when nothing names a server.

The default key provider: VCF_PG_LOADER_KEY_PROVIDER if set; else aws-kms when
a KMS key id is given; else env when VCF_PG_LOADER_PHI_KEY is set; else local.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KeyError_, VcfPgError
from .keys.env import decode_phi_key

ENV_PREFIX = "VCF_PG_LOADER_"
TLS_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
KEY_PROVIDERS = ("local", "aws-kms", "env")
# libpq environment variables that name a server: with one of them set,
# vcfctl does not use the embedded cluster.
LIBPQ_SERVER_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")
# what vcfctl reads of libpq's environment (never PGPASSWORD: libpq reads it)
LIBPQ_VARS = (*LIBPQ_SERVER_VARS, "PGUSER", "PGSSLMODE", "PGREQUIRESSL")
# TLS modes under which libpq never falls back to a cleartext connection.
TLS_REQUIRED_MODES = ("require", "verify-ca", "verify-full")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# user:password@ in a URL, or password= in a key/value string: never echoed.
_URL_PASSWORD = re.compile(
    r"(?i)(://[^/@?#]*?:)[^/@?#]*@|(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)"
)


def redact_url(url: str | None) -> str | None:
    """The URL with any password in it replaced by ***, for repr and messages."""
    if url is None:
        return None
    return _URL_PASSWORD.sub(
        lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", url
    )


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vcf-pg-loader"


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str | None = None
    tls_mode: str | None = None
    tls_ca_cert: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    key_provider: str = "local"
    master_key_file: Path | None = None
    kms_key_id: str | None = None
    db_secret_id: str | None = None
    iam_auth: bool = False
    db_passfile: Path | None = None
    db_password: str | None = field(default=None, repr=False)
    phi_key: str | None = field(default=None, repr=False)
    # the libpq environment variables (LIBPQ_VARS) that were set, with values
    libpq_env: tuple[tuple[str, str], ...] = ()

    @property
    def libpq_server(self) -> bool:
        """libpq's environment names a server (PGHOST, PGPORT, PGSERVICE...)."""
        return any(name in LIBPQ_SERVER_VARS for name, _ in self.libpq_env)

    @property
    def embedded(self) -> bool:
        """Nothing names a server: use the private cluster in the home directory."""
        return self.db_url is None and self.db_secret_id is None and not self.libpq_server

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file or self.home / "master.key"

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={redact_url(self.db_url) if name == 'db_url' else getattr(self, name)!r}"
            for name in (
                "home",
                "db_url",
                "tls_mode",
                "key_provider",
                "master_key_file",
                "kms_key_id",
                "db_secret_id",
                "iam_auth",
                "libpq_env",
            )
        )
        password = "<set>" if self.db_password else None
        phi_key = "<set>" if self.phi_key else None
        return f"Settings({shown}, db_password={password}, phi_key={phi_key})"


def load_settings(
    *,
    db_url: str | None = None,
    home: Path | None = None,
    kms_key_id: str | None = None,
    tls_mode: str | None = None,
    tls_ca_cert: Path | None = None,
    tls_client_cert: Path | None = None,
    tls_client_key: Path | None = None,
    db_secret_id: str | None = None,
    iam_auth: bool | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build settings from flags (arguments) and the environment; raise on any problem."""
    env = dict(os.environ) if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(ENV_PREFIX + name)
        return value if value else None

    problems: list[str] = []
    home_env = get("HOME")
    resolved_home = home or (Path(home_env) if home_env else default_home())
    url = db_url or get("DB_URL")
    if url is not None and _has_password(url):
        problems.append(
            "the database URL contains a password; refusing it: put the password in"
            f" {ENV_PREFIX}DB_PASSWORD, a libpq passfile, an AWS Secrets Manager secret"
            " (--db-secret-id) or use --iam-auth"
        )
    tls_mode = tls_mode or get("TLS_MODE")
    if tls_mode is not None and tls_mode not in TLS_MODES:
        problems.append(f"{ENV_PREFIX}TLS_MODE={tls_mode!r} is not one of {', '.join(TLS_MODES)}")
    secret_id = db_secret_id or get("DB_SECRET_ID")
    iam_env = get("IAM_AUTH")
    if iam_env is not None and iam_env.lower() not in _TRUE + _FALSE:
        problems.append(f"{ENV_PREFIX}IAM_AUTH={iam_env!r} is not one of 1, 0, true, false")
    iam = bool(iam_auth) or (iam_env is not None and iam_env.lower() in _TRUE)
    password = get("DB_PASSWORD")
    sources = [
        name
        for name, given in (
            (f"{ENV_PREFIX}DB_PASSWORD", password is not None),
            ("--db-secret-id", secret_id is not None),
            ("--iam-auth", iam),
        )
        if given
    ]
    if len(sources) > 1:
        problems.append(f"give one database credential, not {' and '.join(sources)}")
    if iam and url is None and secret_id is None and not env.get("PGHOST"):
        problems.append("--iam-auth needs a database: --db URL (host, port, user)")
    if iam and tls_mode is not None and tls_mode not in TLS_REQUIRED_MODES:
        problems.append(
            f"--iam-auth requires TLS: {ENV_PREFIX}TLS_MODE={tls_mode} would send the token"
            " in the clear; use verify-full"
        )
    kms_key = kms_key_id or get("KMS_KEY_ID")
    phi_key = get("PHI_KEY")
    if phi_key is not None:
        try:
            decode_phi_key(phi_key)
        except KeyError_ as exc:
            problems.append(exc.message)
    provider = get("KEY_PROVIDER") or (
        "aws-kms" if kms_key else "env" if phi_key is not None else "local"
    )
    if provider not in KEY_PROVIDERS:
        problems.append(
            f"{ENV_PREFIX}KEY_PROVIDER={provider!r} is not one of {', '.join(KEY_PROVIDERS)}"
        )
    elif provider == "aws-kms" and not kms_key:
        problems.append(
            f"{ENV_PREFIX}KEY_PROVIDER=aws-kms needs a KMS key: set {ENV_PREFIX}KMS_KEY_ID"
            " or pass --kms-key-id"
        )
    elif provider == "env" and phi_key is None:
        problems.append(f"{ENV_PREFIX}KEY_PROVIDER=env needs {ENV_PREFIX}PHI_KEY")
    paths: dict[str, Path | None] = {}
    flags = {
        "TLS_CA_CERT": tls_ca_cert,
        "TLS_CLIENT_CERT": tls_client_cert,
        "TLS_CLIENT_KEY": tls_client_key,
    }
    for name in (*flags, "MASTER_KEY_FILE", "DB_PASSFILE"):
        value = flags.get(name) or get(name)
        paths[name] = Path(value).expanduser() if value else None
    for name in ("TLS_CA_CERT", "TLS_CLIENT_CERT", "TLS_CLIENT_KEY", "DB_PASSFILE"):
        p = paths[name]
        if p is not None and not p.is_file():
            problems.append(f"{ENV_PREFIX}{name}: {p} is not a readable file")
    if (paths["TLS_CLIENT_CERT"] is None) != (paths["TLS_CLIENT_KEY"] is None):
        problems.append(
            f"{ENV_PREFIX}TLS_CLIENT_CERT and {ENV_PREFIX}TLS_CLIENT_KEY go together: give both"
        )
    libpq_env = tuple((name, env[name]) for name in LIBPQ_VARS if env.get(name))
    remote = (
        url is not None
        or secret_id is not None
        or any(name in LIBPQ_SERVER_VARS for name, _ in libpq_env)
    )
    if remote and tls_mode is None and paths["TLS_CA_CERT"] is not None:
        tls_mode = "verify-full"
    if problems:
        raise VcfPgError(
            "invalid settings: " + "; ".join(problems),
            hint="See 'Configuration' in README.md.",
        )
    return Settings(
        home=Path(resolved_home).expanduser(),
        db_url=url,
        tls_mode=tls_mode,
        tls_ca_cert=paths["TLS_CA_CERT"],
        tls_client_cert=paths["TLS_CLIENT_CERT"],
        tls_client_key=paths["TLS_CLIENT_KEY"],
        key_provider=provider,
        master_key_file=paths["MASTER_KEY_FILE"],
        kms_key_id=kms_key,
        db_secret_id=secret_id,
        iam_auth=iam,
        db_passfile=paths["DB_PASSFILE"],
        db_password=password,
        phi_key=phi_key,
        libpq_env=libpq_env,
    )


def _has_password(url: str) -> bool:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return "password" in conninfo_to_dict(url)
    except ProgrammingError:
        return redact_url(url) != url
