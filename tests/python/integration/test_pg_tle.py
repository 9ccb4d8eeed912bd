"""The RDS install path: pg_tle, by a role that is not a superuser (issue 10, item 4).

A cluster of its own, set up as AWS RDS is: shared_preload_libraries =
'pg_tle', no plpython3u (neither the language nor the companion extension is
created), every login but the test's own superuser authenticated by password
(scram-sha-256, on the socket and on 127.0.0.1), and a role rds_admin like
RDS's rds_superuser: LOGIN, CREATEROLE, CREATEDB, member of pgtle_admin, not a
superuser, owner of the database. What the superuser does here is what RDS
does or allows its master user to do: create pg_tle and dblink (not trusted)
and let rds_admin use dblink_fdw.

Then, as rds_admin only: vcfctl db install --via pg_tle (the install script
sent as text to pgtle.install_extension); a refused unlock cannot be audited
before the loopback has a password (VP070, nothing is refused unaudited); the
foreign server vcf_audit_loopback with a user mapping holding the password;
vcfctl keys init, vcfctl load of tests/data/example.vcf with the PL/pgSQL
engine and client-side keys; a refused unlock leaves its autonomous audit row
through the password loopback; vcfctl audit verify.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from conftest import DATA
from vcf_pg_loader import EXTENSION_VERSION, tle
from vcf_pg_loader.embedded import DATABASE, SUPERUSER, EmbeddedCluster, pg_bindir

ADMIN = "rds_admin"
PASSWORD = "rds-admin-Pw-8c2f"


def _share_dir(bindir: Path) -> Path:
    """<prefix>/share/postgresql/15 for <prefix>/lib/postgresql/15/bin (Debian's layout)."""
    return bindir.parents[3] / "share" / "postgresql" / bindir.parent.name


def _pg_tle_built() -> bool:
    bindir = pg_bindir()
    return (bindir.parent / "lib" / "pg_tle.so").exists() and (
        _share_dir(bindir) / "extension" / "pg_tle.control"
    ).exists()


def _server_without_our_files(root: Path) -> Path:
    """A PostgreSQL install like pg_bindir()'s but without vcf_pg_loader's extension files.

    As on RDS, where they cannot be copied, and because pg_tle refuses to
    register an extension whose control file the server has. The binaries are
    copied (PostgreSQL finds its share and lib directories relative to the
    real path of its executable), the rest are symbolic links.
    """
    src = pg_bindir()
    version = src.parent.name
    bindir = root / "lib" / "postgresql" / version / "bin"
    shutil.copytree(src, bindir, symlinks=True)
    (bindir.parent / "lib").symlink_to(src.parent / "lib")
    share = root / "share" / "postgresql" / version
    (share / "extension").mkdir(parents=True)
    for entry in _share_dir(src).iterdir():
        if entry.name != "extension":
            (share / entry.name).symlink_to(entry)
    for entry in (_share_dir(src) / "extension").iterdir():
        if not entry.name.startswith("vcf_pg_loader"):
            (share / "extension" / entry.name).symlink_to(entry)
    return bindir


pytestmark = [
    pytest.mark.own_cluster,
    pytest.mark.skipif(
        not _pg_tle_built(), reason="pg_tle is not built (make setup builds it from shared/vendor)"
    ),
]


@dataclass
class Rds:
    cluster: EmbeddedCluster
    port: int

    @property
    def home(self) -> Path:
        return self.cluster.home

    def superuser(self, dbname: str = DATABASE) -> psycopg.Connection[Any]:
        info = make_conninfo(
            host=str(self.cluster.socket_dir), port=str(self.port), dbname=dbname, user=SUPERUSER
        )
        return psycopg.connect(info, autocommit=True)

    def url(self) -> str:
        return make_conninfo(
            host=str(self.cluster.socket_dir), port=str(self.port), dbname=DATABASE, user=ADMIN
        )

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(), password=PASSWORD, autocommit=True)

    def env(self) -> dict[str, str]:
        return {
            "VCF_PG_LOADER_HOME": str(self.home),
            "VCF_PG_LOADER_DB_URL": self.url(),
            "VCF_PG_LOADER_DB_PASSWORD": PASSWORD,
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def rds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rds]:
    tmp = tmp_path_factory.mktemp("rds")
    install = Path(tempfile.mkdtemp(prefix="vcf-rds-pg-"))  # the server user must reach it
    install.chmod(0o755)
    bindir = _server_without_our_files(install)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VCF_PG_LOADER_PG_BINDIR", str(bindir))
        cluster = EmbeddedCluster(tmp / "home")
    port = _free_port()
    try:
        cluster.init()
        with open(cluster.data_dir / "vcf_pg_loader.conf", "a") as fh:
            fh.write(
                "# test_pg_tle.py\n"
                "shared_preload_libraries = 'pg_tle'\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {port}\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        (cluster.data_dir / "pg_hba.conf").write_text(
            f"local all {SUPERUSER} trust\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        cluster.start()
        server = Rds(cluster, port)
        with server.superuser("postgres") as c:
            c.execute(
                f"CREATE ROLE {ADMIN} LOGIN PASSWORD '{PASSWORD}' CREATEROLE CREATEDB NOSUPERUSER"
            )
            c.execute(f"CREATE DATABASE {DATABASE} OWNER {ADMIN}")
        with server.superuser() as c:
            c.execute("CREATE EXTENSION pg_tle")
            c.execute(f"GRANT pgtle_admin TO {ADMIN}")
            # What RDS lets its master user do for dblink, which is not trusted.
            c.execute("CREATE EXTENSION dblink")
            c.execute(f"GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO {ADMIN}")
        yield server
    finally:
        cluster.destroy()
        shutil.rmtree(install, ignore_errors=True)


def _audit_rows(rds: Rds, since: int) -> list[Any]:
    with rds.superuser() as c:
        return c.execute(
            "SELECT action, target, succeeded, session_role FROM vcf.audit_log"
            " WHERE audit_id > %s ORDER BY audit_id",
            (since,),
        ).fetchall()


def _head(rds: Rds) -> int:
    with rds.superuser() as c:
        row = c.execute("SELECT coalesce(max(audit_id), 0) FROM vcf.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def _refused_unlock(rds: Rds) -> tuple[str, str]:
    key_id = str(uuid.uuid4())
    with rds.admin() as c, pytest.raises(psycopg.Error) as refused:
        c.execute("SELECT vcf.unlock(%s::uuid, %s::bytea)", (key_id, b"\x00" * 32))
    return key_id, str(refused.value.diag.sqlstate)


def test_install_through_pg_tle_as_a_non_superuser(rds: Rds, vcfctl: Any) -> None:
    with rds.superuser() as c:
        sharedir = c.execute("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'").fetchone()
        assert sharedir is not None and os.path.realpath(
            Path(sharedir[0]) / "extension" / "pg_tle.control"
        ) == str(_share_dir(pg_bindir()) / "extension" / "pg_tle.control")
        assert not (Path(sharedir[0]) / "extension" / "vcf_pg_loader.control").exists()
        who = c.execute(
            "SELECT rolsuper, rolcreaterole, pg_has_role(%s, 'pgtle_admin', 'MEMBER')"
            " FROM pg_roles WHERE rolname = %s",
            (ADMIN, ADMIN),
        ).fetchone()
        assert who == (False, True, True)
        assert c.execute(
            "SELECT count(*) FROM pg_language WHERE lanname LIKE 'plpython%'"
        ).fetchone() == (0,)

    out = vcfctl("db", "install", "--via", "pg_tle", env=rds.env())
    assert out.returncode == 0, out.stderr
    assert f"installed: vcf_pg_loader {EXTENSION_VERSION} (via pg_tle)" in out.stdout

    with rds.superuser() as c:
        ext = c.execute(
            "SELECT e.extversion, r.rolname, n.nspname FROM pg_extension e"
            " JOIN pg_roles r ON r.oid = e.extowner JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'vcf_pg_loader'"
        ).fetchone()
        assert ext == (EXTENSION_VERSION, ADMIN, "vcf")
        # the project's roles exist, made by a role with CREATEROLE only
        roles = c.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'vcf\\_%'").fetchone()
        assert roles is not None and roles[0] >= 5
        assert c.execute(
            "SELECT count(*) FROM pg_extension WHERE extname LIKE 'vcf_pg_loader_plpython'"
        ).fetchone() == (0,)

    again = vcfctl("db", "install", "--via", "pg_tle", env=rds.env())
    assert again.returncode == 0, again.stderr
    assert "already installed" in again.stdout


def test_audit_needs_the_password_loopback(rds: Rds) -> None:
    with rds.superuser() as c:
        c.execute("DROP SERVER IF EXISTS vcf_audit_loopback CASCADE")
    # the default loopback (the socket, no password) is not allowed to a non-superuser:
    # the refusal is not let through unaudited
    _, sqlstate = _refused_unlock(rds)
    assert sqlstate == "VP070"

    with rds.admin() as c:
        c.execute(
            "CREATE SERVER vcf_audit_loopback FOREIGN DATA WRAPPER dblink_fdw"
            f" OPTIONS (host '127.0.0.1', port '{rds.port}', dbname '{DATABASE}')"
        )
        c.execute(
            f"CREATE USER MAPPING FOR {ADMIN} SERVER vcf_audit_loopback"
            f" OPTIONS (user '{ADMIN}', password '{PASSWORD}')"
        )
    since = _head(rds)
    key_id, sqlstate = _refused_unlock(rds)
    assert sqlstate == "VP002"
    assert _audit_rows(rds, since) == [("unlock", key_id, False, ADMIN)]


def test_load_and_verify_on_the_rds_install(rds: Rds, vcfctl: Any) -> None:
    init = vcfctl("keys", "init", env=rds.env())
    assert init.returncode == 0, init.stderr
    since = _head(rds)
    out = vcfctl(
        "load", "--engine", "plpgsql", "--format", "json", str(DATA / "example.vcf"), env=rds.env()
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["variants"] == 9
    actions = [row[0] for row in _audit_rows(rds, since)]
    assert "unlock" in actions and "ingest" in actions

    # a refused unlock, after the load: its autonomous row went through the password loopback
    since = _head(rds)
    key_id, sqlstate = _refused_unlock(rds)
    assert sqlstate == "VP002"
    assert _audit_rows(rds, since) == [("unlock", key_id, False, ADMIN)]

    verified = vcfctl("audit", "verify", "--format", "json", env=rds.env())
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_a_loader_that_is_not_the_owner(rds: Rds, vcfctl: Any, tmp_path: Path) -> None:
    """A login made and granted vcf_loader by rds_admin (CREATEROLE) loads; its audit rows
    and a refusal of its own go through the owner's password loopback."""
    with rds.admin() as c:
        c.execute(f"CREATE ROLE rds_loader LOGIN PASSWORD '{PASSWORD}'")
    granted = vcfctl("roles", "grant", "vcf_loader", "rds_loader", env=rds.env())
    assert granted.returncode == 0, granted.stderr
    env = {**rds.env(), "VCF_PG_LOADER_DB_URL": make_conninfo(rds.url(), user="rds_loader")}
    since = _head(rds)
    out = vcfctl(
        "load",
        "--engine",
        "plpgsql",
        "--reload",
        "--format",
        "json",
        str(DATA / "example.vcf"),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["variants"] == 9
    rows = _audit_rows(rds, since)
    assert {r[3] for r in rows if r[0] == "ingest"} == {"rds_loader"}, rows
    key_id = str(uuid.uuid4())
    info = make_conninfo(rds.url(), user="rds_loader")
    since = _head(rds)
    with (
        psycopg.connect(info, password=PASSWORD, autocommit=True) as c,
        pytest.raises(psycopg.Error) as refused,
    ):
        c.execute("SELECT vcf.unlock(%s::uuid, %s::bytea)", (key_id, b"\x00" * 32))
    assert refused.value.diag.sqlstate == "VP002"
    assert _audit_rows(rds, since) == [("unlock", key_id, False, "rds_loader")]
    verified = vcfctl("audit", "verify", env=rds.env())
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_refused_without_pg_tle(rds: Rds, vcfctl: Any) -> None:
    with rds.superuser("postgres") as c:
        c.execute(f"CREATE DATABASE no_tle OWNER {ADMIN}")
    env = {**rds.env(), "VCF_PG_LOADER_DB_URL": make_conninfo(rds.url(), dbname="no_tle")}
    out = vcfctl("db", "install", "--via", "pg_tle", env=env)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "pg_tle is not installed in this database" in out.stderr
    assert "CREATE EXTENSION pg_tle" in out.stderr
    with rds.superuser("no_tle") as c:
        assert c.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'vcf_pg_loader'"
        ).fetchone() == (0,)


def test_upgrade_through_pg_tle(rds: Rds, vcfctl: Any) -> None:
    """The previous release installed through pg_tle, upgraded by vcfctl db upgrade.

    The upgrade script and this version's install script are registered by a
    non-superuser, and the new version becomes pg_tle's default (a later
    CREATE EXTENSION gets it). tests/python/integration/test_upgrade.py checks
    that the result equals a fresh install.
    """
    with rds.superuser("postgres") as c:
        c.execute(f"CREATE DATABASE upgrade_db OWNER {ADMIN}")
    with rds.superuser("upgrade_db") as c:
        c.execute("CREATE EXTENSION pg_tle")
        c.execute("CREATE EXTENSION dblink")
    url = make_conninfo(rds.url(), dbname="upgrade_db")
    script = tle.load_script(tle.script_path("0.1.0"))
    with psycopg.connect(url, password=PASSWORD, autocommit=True) as c:
        assert tle.install(c, "pg_tle", script=script, version="0.1.0").created
    env = {**rds.env(), "VCF_PG_LOADER_DB_URL": url}
    stale = vcfctl("keys", "list", env=env)
    assert stale.returncode == 4 and "vcfctl db upgrade" in stale.stderr, stale.stderr
    out = vcfctl("db", "upgrade", env=env)
    assert out.returncode == 0, out.stderr
    assert f"upgraded: vcf_pg_loader 0.1.0 -> {EXTENSION_VERSION} (via pg_tle)" in out.stdout
    with psycopg.connect(url, password=PASSWORD, autocommit=True) as c:
        assert c.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vcf_pg_loader'"
        ).fetchone() == (EXTENSION_VERSION,)
        paths = c.execute(
            "SELECT source, target FROM pgtle.extension_update_paths('vcf_pg_loader')"
            " WHERE path IS NOT NULL"
        ).fetchall()
        assert ("0.1.0", EXTENSION_VERSION) in paths
        default = c.execute(
            "SELECT default_version FROM pgtle.available_extensions() WHERE name = 'vcf_pg_loader'"
        ).fetchone()
        assert default == (EXTENSION_VERSION,)
    again = vcfctl("db", "upgrade", env=env)
    assert (
        again.returncode == 0 and f"already at: vcf_pg_loader {EXTENSION_VERSION}" in again.stdout
    )
    missing = make_conninfo(rds.url(), dbname="postgres")
    nothing = vcfctl("db", "upgrade", env={**rds.env(), "VCF_PG_LOADER_DB_URL": missing})
    assert nothing.returncode == 4 and "vcfctl db install" in nothing.stderr
