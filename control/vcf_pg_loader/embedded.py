"""The embedded default: a private PostgreSQL cluster per home directory.

Unix socket only (no TCP), started on demand and left running. PostgreSQL
refuses to run as root, so when vcfctl runs as root the server runs as an
unprivileged OS user (VCF_PG_LOADER_SERVER_USER, default ``postgres``) and its
files live where that user can reach them (/var/lib/vcf-pg-loader/clusters/),
one directory per home. The home keeps the local master key (mode 0600) when
the key provider is `local`; with another provider no master key file is made.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from . import tle
from .config import Settings
from .errors import DatabaseError, VcfPgError
from .keys.local import create_master_key
from .keys.provider import KeyProvider
from .keys.providers import ProviderSet
from .keys.registry import init_phi_key

DATABASE = "vcf"
SUPERUSER = "vcf_admin"
PORT = 5432
ROOT_CLUSTERS = Path("/var/lib/vcf-pg-loader/clusters")
_SOCKET_PATH_MAX = 100


def pg_bindir() -> Path:
    override = os.environ.get("VCF_PG_LOADER_PG_BINDIR")
    if override:
        return Path(override)
    try:
        out = subprocess.run(
            ["pg_config", "--bindir"], check=True, capture_output=True, text=True
        ).stdout.strip()
        return Path(out)
    except (OSError, subprocess.CalledProcessError):
        return Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class ServerUser:
    name: str
    uid: int
    gid: int


def server_user() -> ServerUser:
    """The OS user the server runs as: ourselves, or an unprivileged one when root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    name = os.environ.get("VCF_PG_LOADER_SERVER_USER", "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise VcfPgError(
            f"running as root, the embedded PostgreSQL needs an unprivileged OS user; "
            f"{name!r} does not exist",
            hint="Create one (useradd --system postgres) or set VCF_PG_LOADER_SERVER_USER.",
        ) from None
    if entry.pw_uid == 0:
        raise VcfPgError(f"VCF_PG_LOADER_SERVER_USER={name!r} is root; PostgreSQL refuses root")
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


class EmbeddedCluster:
    """One private cluster, owned by one home directory."""

    def __init__(
        self,
        home: Path,
        master_key_file: Path | None = None,
        *,
        providers: KeyProvider | None = None,
    ) -> None:
        """providers: what wraps the first PHI key (default: the local master key file)."""
        self.home = home.expanduser().resolve()
        self.user = server_user()
        if os.geteuid() == 0:
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            self.root = ROOT_CLUSTERS / digest
        else:
            self.root = self.home / "cluster"
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_file = self.root / "log" / "postgresql.log"
        self.master_key_file = master_key_file or self.home / "master.key"
        self._providers = providers or ProviderSet(
            Settings(home=self.home, master_key_file=self.master_key_file)
        )
        self._bindir = pg_bindir()

    # -- processes -------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server program as the server user, with a clean environment."""
        env = {"PATH": f"{self._bindir}:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            kwargs = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
        try:
            return subprocess.run(
                [str(self._bindir / args[0]), *args[1:]],
                check=check,
                capture_output=True,
                text=True,
                env=env,
                cwd=self.root,
                **kwargs,
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise DatabaseError(
                f"{args[0]} failed: {detail[-1] if detail else 'exit ' + str(exc.returncode)}",
                hint=f"See {self.log_file}.",
            ) from None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.home / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _make_dirs(self) -> None:
        if os.geteuid() == 0:
            ROOT_CLUSTERS.mkdir(parents=True, exist_ok=True, mode=0o755)
            for parent in (ROOT_CLUSTERS.parent, ROOT_CLUSTERS):
                parent.chmod(0o755)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for d in (self.socket_dir, self.log_file.parent):
            d.mkdir(exist_ok=True, mode=0o700)
        for d in (self.root, self.socket_dir, self.log_file.parent):
            os.chown(d, self.user.uid, self.user.gid)
            d.chmod(0o700)
        if len(str(self.socket_dir / f".s.PGSQL.{PORT}")) > _SOCKET_PATH_MAX:
            raise VcfPgError(
                f"socket path under {self.socket_dir} is too long for a Unix socket",
                hint="Use a shorter VCF_PG_LOADER_HOME.",
            )

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with trust on the Unix socket (its directory is mode 0700) and no TCP."""
        self._make_dirs()
        if self.initialized:
            return
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=reject",
        )
        conf = self.data_dir / "vcf_pg_loader.conf"
        conf.write_text(
            "# Written by vcfctl: the embedded cluster's settings.\n"
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            f"port = {PORT}\n"
            "# Never write bind parameters (keys arrive as parameters) to the log.\n"
            "log_parameter_max_length = 0\n"
            "log_parameter_max_length_on_error = 0\n"
            "log_line_prefix = '%m [%p] %q%u@%d '\n"
            "shared_buffers = 256MB\n"
            "max_wal_size = 4GB\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write("\ninclude_if_exists = 'vcf_pg_loader.conf'\n")
        os.chown(conf, self.user.uid, self.user.gid)
        conf.chmod(0o600)

    def running(self) -> bool:
        if not self.initialized:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self) -> None:
        self.init()
        if self.running():
            return
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "120",
        )

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")

    def destroy(self) -> None:
        """Stop the server and remove the cluster (the home and its master key stay)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- database --------------------------------------------------------

    def conninfo(self, dbname: str = DATABASE) -> str:
        return make_conninfo(
            host=str(self.socket_dir), port=str(PORT), dbname=dbname, user=SUPERUSER
        )

    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def ensure_ready(self) -> str:
        """Init, start and bootstrap as needed; return the connection string."""
        with self._lock():
            self.start()
            self._bootstrap()
        return self.conninfo()

    def _bootstrap(self) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                conn.execute(
                    sql.SQL('ALTER DATABASE {} SET search_path = "$user", public, vcf').format(
                        sql.Identifier(DATABASE)
                    )
                )
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vcf_pg_loader CASCADE")
                conn.execute("CREATE EXTENSION IF NOT EXISTS vcf_pg_loader_plpython CASCADE")
            except psycopg.Error as exc:
                raise DatabaseError(
                    f"cannot install the extensions: {exc.diag.message_primary}",
                    hint="Run 'make setup' (it installs the extension files).",
                ) from None
            # A cluster made by an older vcfctl: its upgrade scripts (installed
            # by make setup) bring it to this version, in one transaction.
            tle.upgrade(conn)
            tle.upgrade_companion(conn)
            if self._providers.name == "local" and not self.master_key_file.exists():
                self._refuse_new_master_key(conn)
                create_master_key(self.master_key_file)
            init_phi_key(conn, self._providers)

    def _refuse_new_master_key(self, conn: psycopg.Connection[Any]) -> None:
        """A PHI key exists: a new master key would hide that the old one is lost."""
        row = conn.execute(
            "SELECT provider, kek_id FROM vcf.data_keys WHERE purpose = 'phi' AND state = 'active'"
        ).fetchone()
        if row is None:
            return
        if row[0] == "local":
            raise VcfPgError(
                f"master key file {self.master_key_file} is missing, and this "
                f"cluster's PHI key is wrapped by {row[1]}",
                hint="Restore the master key file (or set VCF_PG_LOADER_MASTER_KEY_FILE);"
                " without it the encrypted data cannot be read.",
            )
        raise VcfPgError(
            f"the key provider is local but master key file {self.master_key_file} is "
            f"missing, and this cluster's PHI key is wrapped by {row[0]} ({row[1]})",
            hint="Configure that provider (VCF_PG_LOADER_KMS_KEY_ID or --kms-key-id for "
            "aws-kms, VCF_PG_LOADER_PHI_KEY for env).",
        )

    def status(self) -> dict[str, Any]:
        running = self.running()
        return {
            "home": str(self.home),
            "cluster": str(self.root),
            "initialized": self.initialized,
            "running": running,
            "pid": self.pid() if running else None,
            "server_user": self.user.name,
            "socket_dir": str(self.socket_dir),
            "database": DATABASE,
            "log_file": str(self.log_file),
            "url": self.conninfo(),
        }
