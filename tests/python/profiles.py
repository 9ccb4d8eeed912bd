"""The test profiles' servers: the embedded cluster (default), and one set up as AWS RDS is.

Both classes offer the same interface to tests: ``ensure_ready`` (make and
start the server, install the extension), ``destroy``,
``home``, ``data_dir``, ``log_file``, ``root``, ``socket_dir``, ``pid``,
``conninfo`` (the extension's owner), ``superuser_conninfo`` (the server's
operator) and ``client_env`` (what vcfctl needs to reach the server).
``make_server`` makes the one of a profile; tests that need a server of
their own (to change its settings) use it through the ``new_server`` fixture.

The portable profile, ``pytest --profile portable`` (``make test`` runs it
after the default one), runs every integration test against PortableServer
instead of the embedded cluster. What makes it RDS-like, each point one of RDS's limits:

* no plpython3u: the server is a copy of the PostgreSQL install whose
  ``lib`` and ``share/extension`` lack plpython3u (and vcf_pg_loader's own
  extension files: on RDS they cannot be copied), so neither the language nor
  the companion extension can exist; ``vcf_ingest`` uses the PL/pgSQL engine
  and vcfctl unlocks keys from the client;
* ``shared_preload_libraries = 'pg_tle'`` and the extension installed by
  ``vcfctl db install --via pg_tle``;
* ``pg_hba.conf`` is ``hostssl`` only (RDS's ``rds.force_ssl = 1``): every
  login connects over TLS to 127.0.0.1 with a scram-sha-256 password and
  verify-full against a CA made here; there is no ``host`` line and no socket
  line for them;
* the installing role ``rds_admin`` is what RDS's master user is: LOGIN,
  CREATEROLE, CREATEDB, member of ``pgtle_admin`` and ``pg_read_all_stats``
  (RDS's master user sees every backend), not a superuser, owner of the
  database; dblink (not trusted) is created for it, and the audit loopback is
  a ``dblink_fdw`` foreign server with a password user mapping, as
  docs/deploy-aws.md says. It is granted the five project roles with
  ``vcfctl roles grant``, as a DBA would grant them to itself.

The one superuser, ``vcf_admin`` on the Unix socket, is RDS's own hand: it
does only what RDS does for its customers (create the master user, pg_tle
and dblink, and change server settings, which RDS does through the parameter
group). Tests reach it through the ``superuser_conninfo`` fixture, only for
what a parameter group or the provider would do.

Every login of the profile has the same password (``PASSWORD``), given to
libpq by a passfile (in ``conninfo``, and VCF_PG_LOADER_DB_PASSFILE for
vcfctl) that matches any user: tests create logins with ``helpers.LOGIN``.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from cryptography import x509
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tls_certs import ca_pem, make_ca, make_server_cert, write_server_file
from vcf_pg_loader import EXTENSION_VERSION, tle
from vcf_pg_loader.embedded import DATABASE, SUPERUSER, EmbeddedCluster, pg_bindir

PROJECT_ROLES = ("vcf_loader", "vcf_phi_reader", "vcf_key_admin", "vcf_auditor", "vcf_analyst")
ADMIN = "rds_admin"
PASSWORD = "vcf-test-Pw-7a41"
HOST = "127.0.0.1"
# What RDS cannot have: untrusted PL/Python, and our extension files.
_ABSENT = ("plpython", "hstore_plpython", "jsonb_plpython", "ltree_plpython", "vcf_pg_loader")


def share_dir(bindir: Path) -> Path:
    """<prefix>/share/postgresql/15 for <prefix>/lib/postgresql/15/bin (Debian's layout)."""
    return bindir.parents[3] / "share" / "postgresql" / bindir.parent.name


def server_without(root: Path, absent: tuple[str, ...] = _ABSENT) -> Path:
    """A copy of pg_bindir()'s install without the libraries and extensions named absent*.

    The binaries are copied (PostgreSQL finds its share and lib directories
    relative to the real path of its executable); every other file is a
    symbolic link to the original. Returns the new bindir.
    """
    src = pg_bindir()
    version = src.parent.name
    bindir = root / "lib" / "postgresql" / version / "bin"
    shutil.copytree(src, bindir, symlinks=True)
    lib = bindir.parent / "lib"
    lib.mkdir()
    for entry in (src.parent / "lib").iterdir():
        if not entry.name.startswith(absent):
            (lib / entry.name).symlink_to(entry)
    share = root / "share" / "postgresql" / version
    (share / "extension").mkdir(parents=True)
    for entry in share_dir(src).iterdir():
        if entry.name != "extension":
            (share / entry.name).symlink_to(entry)
    for entry in (share_dir(src) / "extension").iterdir():
        if not entry.name.startswith(absent):
            (share / "extension" / entry.name).symlink_to(entry)
    return bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class DefaultServer(EmbeddedCluster):
    """The embedded cluster with both extensions; its superuser owns the extension."""

    def __init__(self, home: Path, work: Path) -> None:
        super().__init__(home)
        self.work = work

    def superuser_conninfo(self, dbname: str = DATABASE) -> str:
        return self.conninfo(dbname)

    def client_env(self) -> dict[str, str]:
        return {}

    def create_database(
        self, name: str, *, extension: bool = True, version: str | None = None
    ) -> str:
        """A new database (with vcf_pg_loader, at version or the current one, unless
        extension=False); its conninfo."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if extension:
            with psycopg.connect(self.conninfo(name), autocommit=True) as c:
                c.execute(
                    sql.SQL("CREATE EXTENSION vcf_pg_loader VERSION {} CASCADE").format(
                        sql.Literal(version or EXTENSION_VERSION)
                    )
                )
        return self.conninfo(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class PortableServer:
    """The RDS-like cluster of the portable profile, with the extension installed via pg_tle.

    Offers what tests use of EmbeddedCluster (home, data_dir, log_file,
    socket_dir, pid, conninfo) plus the provider's superuser and the
    environment vcfctl needs to reach the server.
    """

    def __init__(self, home: Path, work: Path) -> None:
        self.home = home
        self.work = work
        self._install = Path(tempfile.mkdtemp(prefix="vcf-portable-pg-"))
        self._install.chmod(0o755)  # the server user must reach the copied binaries
        bindir = server_without(self._install)
        saved = os.environ.get("VCF_PG_LOADER_PG_BINDIR")
        os.environ["VCF_PG_LOADER_PG_BINDIR"] = str(bindir)
        try:
            self.cluster = EmbeddedCluster(home)
        finally:
            if saved is None:
                del os.environ["VCF_PG_LOADER_PG_BINDIR"]
            else:
                os.environ["VCF_PG_LOADER_PG_BINDIR"] = saved
        self.port = free_port()
        self.ca_file = work / "ca.pem"
        self.passfile = work / "pgpass"

    # -- what tests use of EmbeddedCluster --------------------------------

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir

    @property
    def log_file(self) -> Path:
        return self.cluster.log_file

    @property
    def socket_dir(self) -> Path:
        return self.cluster.socket_dir

    @property
    def root(self) -> Path:
        return self.cluster.root

    def pid(self) -> int | None:
        return self.cluster.pid()

    def conninfo(self, dbname: str = DATABASE, user: str = ADMIN) -> str:
        """A login over TLS (verify-full); the password comes from the passfile."""
        return make_conninfo(
            host=HOST,
            port=str(self.port),
            dbname=dbname,
            user=user,
            sslmode="verify-full",
            sslrootcert=str(self.ca_file),
            passfile=str(self.passfile),
        )

    def superuser_conninfo(self, dbname: str = DATABASE) -> str:
        """The provider's own superuser on the socket: for what RDS itself would do."""
        return make_conninfo(
            host=str(self.cluster.socket_dir), port=str(self.port), dbname=dbname, user=SUPERUSER
        )

    def client_env(self) -> dict[str, str]:
        """What vcfctl needs to reach this server as rds_admin (the password from PGPASSFILE)."""
        return {
            "VCF_PG_LOADER_DB_URL": make_conninfo(
                host=HOST, port=str(self.port), dbname=DATABASE, user=ADMIN
            ),
            "VCF_PG_LOADER_TLS_MODE": "verify-full",
            "VCF_PG_LOADER_TLS_CA_CERT": str(self.ca_file),
            "VCF_PG_LOADER_DB_PASSFILE": str(self.passfile),
        }

    # -- life cycle --------------------------------------------------------

    def ensure_ready(self) -> str:
        """Make, configure and start the server, install the extension; the owner's conninfo."""
        self.cluster.init()
        self._configure()
        self.cluster.start()
        self._provider_setup()
        self._install_extension()
        return self.conninfo()

    def destroy(self) -> None:
        self.cluster.destroy()
        shutil.rmtree(self._install, ignore_errors=True)

    def _configure(self) -> None:
        ca_key, ca = make_ca("vcf-pg-loader portable profile CA")
        self.ca_file.write_bytes(ca_pem(ca))
        cert, key = make_server_cert(
            ca_key, ca, [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
        )
        write_server_file(self.data_dir / "server.crt", cert)
        write_server_file(self.data_dir / "server.key", key)
        with open(self.data_dir / "vcf_pg_loader.conf", "a") as fh:
            fh.write(
                "# tests/python/profiles.py: RDS-like\n"
                "shared_preload_libraries = 'pg_tle'\n"
                "ssl = on\n"
                "ssl_cert_file = 'server.crt'\n"
                "ssl_key_file = 'server.key'\n"
                f"listen_addresses = '{HOST}'\n"
                f"port = {self.port}\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        (self.data_dir / "pg_hba.conf").write_text(
            f"local all {SUPERUSER} trust\nhostssl all all {HOST}/32 scram-sha-256\n"
        )
        self.passfile.write_text(f"{HOST}:*:*:*:{PASSWORD}\n")
        self.passfile.chmod(0o600)

    def _provider_setup(self) -> None:
        """What RDS does before its customer connects: the master user and its database."""
        with psycopg.connect(self.superuser_conninfo("postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CREATEROLE CREATEDB NOSUPERUSER").format(
                    sql.Identifier(ADMIN), sql.Literal(PASSWORD)
                )
            )
            # RDS's master user sees every backend in pg_stat_activity and pg_stat_ssl
            # (rds_superuser): what vcf.unlock needs to see another login's TLS status.
            c.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(ADMIN)))
        self._database_setup(DATABASE)

    def _database_setup(self, name: str) -> None:
        """A database owned by rds_admin, with what RDS offers in it: pg_tle and dblink."""
        with psycopg.connect(self.superuser_conninfo("postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(ADMIN)
                )
            )
        with psycopg.connect(self.superuser_conninfo(name), autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_tle")
            c.execute(sql.SQL("GRANT pgtle_admin TO {}").format(sql.Identifier(ADMIN)))
            # dblink is not trusted: RDS lets its master user create it; here the provider does.
            c.execute("CREATE EXTENSION dblink")
            c.execute(
                sql.SQL("GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO {}").format(
                    sql.Identifier(ADMIN)
                )
            )
        with psycopg.connect(self.conninfo(name), autocommit=True) as c:
            c.execute(
                sql.SQL('ALTER DATABASE {} SET search_path = "$user", public, vcf').format(
                    sql.Identifier(name)
                )
            )

    def _install_extension(self) -> None:
        """What docs/deploy-aws.md tells the master user to do, as that user."""
        self._vcfctl(DATABASE, "db", "install", "--via", "pg_tle")
        self._audit_loopback(DATABASE)
        self._vcfctl(DATABASE, "keys", "init")
        # The tests' own connection is a DBA with every project role (the default
        # profile's superuser has them all implicitly).
        for role in PROJECT_ROLES:
            self._vcfctl(DATABASE, "roles", "grant", role, ADMIN)

    def _audit_loopback(self, name: str) -> None:
        """The dblink target of autonomous audit rows: a password is required on RDS."""
        with psycopg.connect(self.conninfo(name), autocommit=True) as c:
            c.execute(
                sql.SQL(
                    "CREATE SERVER vcf_audit_loopback FOREIGN DATA WRAPPER dblink_fdw"
                    " OPTIONS (host {}, port {}, dbname {}, sslmode 'require')"
                ).format(sql.Literal(HOST), sql.Literal(str(self.port)), sql.Literal(name))
            )
            c.execute(
                sql.SQL(
                    "CREATE USER MAPPING FOR {} SERVER vcf_audit_loopback"
                    " OPTIONS (user {}, password {})"
                ).format(sql.Identifier(ADMIN), sql.Literal(ADMIN), sql.Literal(PASSWORD))
            )

    def create_database(
        self, name: str, *, extension: bool = True, version: str | None = None
    ) -> str:
        """A new database as RDS gives it (pg_tle, dblink), with vcf_pg_loader unless
        extension=False (installed by vcfctl db install --via pg_tle, or at an older
        released version by tle.install with its frozen script); its conninfo."""
        self._database_setup(name)
        if extension:
            if version is None or version == EXTENSION_VERSION:
                self._vcfctl(name, "db", "install", "--via", "pg_tle")
            else:
                script = tle.load_script(tle.script_path(version))
                with psycopg.connect(self.conninfo(name), autocommit=True) as c:
                    tle.install(c, "pg_tle", script=script, version=version)
            self._audit_loopback(name)
        return self.conninfo(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.superuser_conninfo("postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _vcfctl(self, dbname: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
        env.update(self.client_env(), VCF_PG_LOADER_HOME=str(self.home))
        env["VCF_PG_LOADER_DB_URL"] = make_conninfo(env["VCF_PG_LOADER_DB_URL"], dbname=dbname)
        done = subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"vcfctl {' '.join(args)} failed: {done.stderr.strip()}")


def make_server(profile: str, home: Path, work: Path) -> DefaultServer | PortableServer:
    """A server of the profile, not started."""
    if profile == "portable":
        return PortableServer(home, work)
    return DefaultServer(home, work)
