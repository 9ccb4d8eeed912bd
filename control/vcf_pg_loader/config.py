"""Settings, from flags, then VCF_PG_LOADER_* environment, then defaults.

All problems are collected and reported at once. Secrets (the database
password, VCF_PG_LOADER_PHI_KEY) come only from the environment, never from a
URL or argv, and never show in repr().

The default key provider: VCF_PG_LOADER_KEY_PROVIDER if set; else aws-kms when
a KMS key id is given; else env when VCF_PG_LOADER_PHI_KEY is set; else local.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KeyError_, VcfPgError
from .keys.env import decode_phi_key

ENV_PREFIX = "VCF_PG_LOADER_"
TLS_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
KEY_PROVIDERS = ("local", "aws-kms", "env")


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
    db_password: str | None = field(default=None, repr=False)
    phi_key: str | None = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        """No database configured: use the private cluster in the home directory."""
        return self.db_url is None

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file or self.home / "master.key"

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in (
                "home",
                "db_url",
                "tls_mode",
                "key_provider",
                "master_key_file",
                "kms_key_id",
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
    tls_mode = get("TLS_MODE")
    if tls_mode is not None and tls_mode not in TLS_MODES:
        problems.append(f"{ENV_PREFIX}TLS_MODE={tls_mode!r} is not one of {', '.join(TLS_MODES)}")
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
    for name in ("TLS_CA_CERT", "TLS_CLIENT_CERT", "TLS_CLIENT_KEY", "MASTER_KEY_FILE"):
        value = get(name)
        paths[name] = Path(value).expanduser() if value else None
    for name in ("TLS_CA_CERT", "TLS_CLIENT_CERT", "TLS_CLIENT_KEY"):
        p = paths[name]
        if p is not None and not p.is_file():
            problems.append(f"{ENV_PREFIX}{name}: {p} is not a readable file")
    if url is not None and tls_mode is None and paths["TLS_CA_CERT"] is not None:
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
        db_password=get("DB_PASSWORD"),
        phi_key=phi_key,
    )
