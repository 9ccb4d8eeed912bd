"""In-server key unwrapping (plpython companion): vcf.unlock(key_id), ingest with no key handling.

Each provider gets a cluster of its own, configured with ALTER SYSTEM (the
shared test cluster keeps "nothing configured"):

* local: the cluster's master key, copied to a file the server's OS user owns
  (mode 0600). A plain connection, and the real psql, run vcf_ingest with no
  key handling; keys wrapped by the Python LocalMasterKey unwrap in the server
  and keys the server makes unwrap in Python; the key never shows in a
  setting, a notice, an error or the server log (log_statement = 'all'); a
  session's SET cannot redirect unwrapping; unsafe or wrong master key files,
  altered rows and destroyed keys are refused and audited; a role that may
  unlock cannot read the key; a token is bound to its key and transaction.
* aws-kms: a moto server on 127.0.0.1; Decrypt / GenerateDataKey in the
  server with a shared-credentials file; an altered encryption context is
  refused; a file staged with a KMS staging key ingests from psql.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from conftest import DATA
from helpers import LOGIN, key_forms, phi_key, staging_key, synthetic_records, write_vcf
from vcf_pg_loader.crypto import DataKey, open_sealed
from vcf_pg_loader.embedded import EmbeddedCluster, pg_bindir, server_user
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

pytestmark = pytest.mark.plpython

EXAMPLE = DATA / "example.vcf"
SETTING = "vcf_pg_loader.unlocked_"


@dataclass
class Server:
    cluster: EmbeddedCluster
    home: Path
    keys_dir: Path
    conninfo: str
    seen_keys: list[bytes] = field(default_factory=list)

    def connect(self, **kw: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, autocommit=True, **kw)

    def configure(self, **settings: str | None) -> None:
        """ALTER SYSTEM SET (or RESET, for None) vcf_pg_loader.<name>, then reload.

        PostgreSQL 15 knows a custom name in ALTER SYSTEM only once the session has
        it (a placeholder), hence the SET first, as docs/security.md says.
        """
        with self.connect() as c:
            for name, value in settings.items():
                c.execute(f"SET vcf_pg_loader.{name} = ''")
                if value is None:
                    c.execute(f"ALTER SYSTEM RESET vcf_pg_loader.{name}")
                else:
                    c.execute(f"ALTER SYSTEM SET vcf_pg_loader.{name} = '{value}'")
            c.execute("SELECT pg_reload_conf()")

    def private_file(self, name: str, data: bytes, mode: int = 0o600) -> Path:
        """A file in a directory the server reaches, owned by the server's OS user."""
        path = self.keys_dir / name
        path.unlink(missing_ok=True)
        path.write_bytes(data)
        user = server_user()
        os.chown(path, user.uid, user.gid)
        path.chmod(mode)
        return path


def _start(tmp: Path) -> Server:
    cluster = EmbeddedCluster(tmp / "home")
    conninfo = cluster.ensure_ready()
    user = server_user()
    keys_dir = cluster.root / "keys"
    keys_dir.mkdir(mode=0o700, exist_ok=True)
    os.chown(keys_dir, user.uid, user.gid)
    server = Server(cluster, cluster.home, keys_dir, conninfo)
    with server.connect() as c:
        c.execute("ALTER SYSTEM SET log_statement = 'all'")
        c.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with server.connect() as c:
            row = c.execute("SHOW log_statement").fetchone()
        if row == ("all",):
            break
        time.sleep(0.1)
    return server


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start(tmp_path_factory.mktemp("server-unlock-local"))
    try:
        master = server.private_file("master.key", (server.home / "master.key").read_bytes())
        server.configure(server_key_provider="local", server_master_key_file=str(master))
        yield server
    finally:
        server.cluster.destroy()


def _audit_rows(c: psycopg.Connection[Any], target: uuid.UUID, since: int) -> list[Any]:
    return c.execute(
        "SELECT action, succeeded, details FROM vcf.audit_log"
        " WHERE target = %s AND audit_id > %s ORDER BY audit_id",
        (str(target), since),
    ).fetchall()


def _audit_head(c: psycopg.Connection[Any]) -> int:
    row = c.execute("SELECT coalesce(max(audit_id), 0) FROM vcf.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def _psql(server: Server, sql: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(
        [
            str(pg_bindir() / "psql"),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(server.cluster.socket_dir),
            "-p",
            "5432",
            "-U",
            "vcf_admin",
            "-d",
            "vcf",
            "-Atc",
            sql,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _register_local(
    server: Server, c: psycopg.Connection[Any], *, context_change: str | None = None
) -> DataKey:
    """A staging key wrapped by the control plane's LocalMasterKey and registered."""
    key_id = uuid.uuid4()
    context = {"purpose": "staging", "database": "vcf", "key_id": str(key_id)}
    material, wrapped = LocalMasterKey(server.home / "master.key").generate(context)
    stored = dict(context, session_id=context_change) if context_change else context
    c.execute(
        "SELECT vcf.key_register(%s, 'staging', %s, %s, %s, %s, %s)",
        (
            key_id,
            wrapped.provider,
            wrapped.kek_id,
            wrapped.wrapped,
            Jsonb(stored),
            DataKey(key_id, material).check_value,
        ),
    )
    server.seen_keys.append(material)
    return DataKey(key_id, material)


def _refused(
    c: psycopg.Connection[Any], key_id: uuid.UUID, sqlstate: str, message: str
) -> dict[str, Any]:
    """vcf.unlock(key_id) is refused with sqlstate and message; return its audit row's details."""
    head = _audit_head(c)
    with pytest.raises(psycopg.Error) as refused:
        c.execute("SELECT vcf.unlock(%s)", (key_id,))
    assert refused.value.diag.sqlstate == sqlstate, refused.value.diag.message_primary
    primary = refused.value.diag.message_primary or ""
    assert message in primary and not primary.startswith("plpy")
    assert refused.value.diag.message_hint
    rows = _audit_rows(c, key_id, head)
    assert [(r[0], r[1]) for r in rows] == [("unlock", False)]
    assert rows[0][2]["sqlstate"] == sqlstate and rows[0][2]["via"] == "server"
    return dict(rows[0][2])


# ------------------------------------------------------- local: ingest with no key handling


def test_ingest_with_no_key_handling(local: Server) -> None:
    with local.connect() as c:
        staged = stage_file(c, LocalMasterKey(local.home / "master.key"), EXAMPLE)
        local.seen_keys.append(staging_key(c, local.home, staged.session_id).material)
        phi = phi_key(c, local.home)
        local.seen_keys.append(phi.material)
        head = _audit_head(c)
    notices: list[str] = []
    with local.connect() as c:
        c.add_notice_handler(lambda d: notices.append(f"{d.message_primary} {d.context}"))
        row = c.execute(
            "SELECT records, variants, calls, samples, state FROM vcf.vcf_ingest(%s)",
            (staged.session_id,),
        ).fetchone()
        assert row == (6, 9, 27, 3, "ingested")
        unlocks = c.execute(
            "SELECT target, details FROM vcf.audit_log"
            " WHERE action = 'unlock' AND succeeded AND audit_id > %s ORDER BY audit_id",
            (head,),
        ).fetchall()
        assert {r[0] for r in unlocks} == {
            str(phi.key_id),
            str(staging_key_id(c, staged.session_id)),
        }
        assert all(r[1]["via"] == "server" and r[1]["provider"] == "local" for r in unlocks)
        # the names decrypt with the PHI key, in Python and in SQL (no key handling either)
        sample_ids = [
            r[0]
            for r in c.execute(
                "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s"
                " ORDER BY sample_index",
                (staged.session_id,),
            ).fetchall()
        ]
        assert len(sample_ids) == 3
        enc = c.execute("SELECT name_enc FROM vcf.samples WHERE sample_id = %s", (sample_ids[0],))
        name = open_sealed(phi, bytes(enc.fetchone()[0]), f"vcf.samples.name:{sample_ids[0]}")
        revealed = c.execute(
            "SELECT vcf.reveal_sample(%s, 'server unlock test')", (sample_ids[0],)
        ).fetchone()
        assert revealed is not None and revealed[0] == name.decode()
    for notice in notices:
        for key in (phi.material, local.seen_keys[-2]):
            assert not any(form in notice.encode() for form in key_forms(key))


def staging_key_id(c: psycopg.Connection[Any], session_id: uuid.UUID) -> uuid.UUID:
    row = c.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def test_ingest_from_psql(local: Server, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "psql.vcf", ["PSQL-A", "PSQL-B"], synthetic_records(5, 2))
    with local.connect() as c:
        staged = stage_file(c, LocalMasterKey(local.home / "master.key"), path)
        local.seen_keys.append(staging_key(c, local.home, staged.session_id).material)
    done = _psql(
        local, f"SELECT records, variants, state FROM vcf.vcf_ingest('{staged.session_id}')"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5|5|ingested"
    assert not any(form in done.stderr.encode() for form in key_forms(local.seen_keys[-1]))
    with local.connect() as c:
        row = c.execute(
            "SELECT state FROM vcf.data_keys WHERE key_id = %s",
            (staging_key_id(c, staged.session_id),),
        ).fetchone()
        assert row == ("destroyed",)


# ---------------------------------------------------------------- local: where the key lives


def test_vcfctl_lets_the_server_unwrap(local: Server, tmp_path: Path) -> None:
    """With in-server unwrapping configured, vcfctl sends no key: it calls vcf.unlock(key_id)."""
    import json
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(local.home)

    def vcfctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    path = write_vcf(tmp_path / "cli.vcf", ["CLI-SERVER-A"], synthetic_records(3, 1))
    staged = vcfctl("stage", "--format", "json", str(path))
    assert staged.returncode == 0, staged.stderr
    session_id = uuid.UUID(json.loads(staged.stdout)[0]["session_id"])
    with local.connect() as c:
        local.seen_keys.append(staging_key(c, local.home, session_id).material)
        head = _audit_head(c)
    ingested = vcfctl("ingest", str(session_id))
    assert ingested.returncode == 0, ingested.stderr
    with local.connect() as c:
        sample = c.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s", (session_id,)
        ).fetchone()
        assert sample is not None
    revealed = vcfctl("samples", "reveal", str(sample[0]), "--reason", "t", "--format", "json")
    assert revealed.returncode == 0, revealed.stderr
    assert json.loads(revealed.stdout)["name"] == "CLI-SERVER-A"
    with local.connect() as c:
        unlocks = c.execute(
            "SELECT details FROM vcf.audit_log"
            " WHERE action = 'unlock' AND succeeded AND audit_id > %s",
            (head,),
        ).fetchall()
    assert len(unlocks) >= 3  # staging + PHI key at ingest, PHI key at reveal
    assert all(r[0].get("via") == "server" for r in unlocks)


def test_key_is_never_readable_from_sql(local: Server) -> None:
    with local.connect() as c:
        phi = phi_key(c, local.home)
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (phi.key_id,))
            settings = c.execute(
                "SELECT name, setting FROM pg_settings WHERE name LIKE 'vcf\\_pg\\_loader.%'"
            ).fetchall()
            token = c.execute("SELECT current_setting(%s)", (SETTING + phi.key_id.hex,)).fetchone()
            assert token is not None and token[0].startswith("server:")
            for name, value in settings:
                for form in key_forms(phi.material):
                    assert form not in value.encode(), name
            # only the extension's own functions (running as its owner) get it
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (phi.key_id,)).fetchone()
            assert row is not None and bytes(row[0]) == phi.material
            row = c.execute("SELECT vcf._unlocked_key(%s)", (phi.key_id,)).fetchone()
            assert row is not None and bytes(row[0]) == phi.material
        row = c.execute("SELECT vcf._server_unlocked_key(%s)", (phi.key_id,)).fetchone()
        assert row == (None,)


def test_a_role_that_may_unlock_cannot_read_the_key(local: Server) -> None:
    with local.connect() as c:
        c.execute("DROP ROLE IF EXISTS srv_loader")
        c.execute(f"CREATE ROLE srv_loader {LOGIN} IN ROLE vcf_loader")
        phi_id = phi_key(c, local.home).key_id
    with psycopg.connect(local.conninfo, user="srv_loader") as c:
        c.execute("SELECT vcf.unlock(%s)", (phi_id,))
        for fn in (
            "_server_unlocked_key",
            "_unlocked_key",
            "_try_unlocked_key",
            "_server_unlock",
            "_server_unwrap",
        ):
            c.execute("SAVEPOINT s")
            with pytest.raises(errors.InsufficientPrivilege):
                c.execute(f"SELECT vcf.{fn}(%s)", (phi_id,))
            c.execute("ROLLBACK TO SAVEPOINT s")
        c.execute("SAVEPOINT s")
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute("SELECT * FROM vcf._server_generate_key(gen_random_uuid(), '{}')")
        c.execute("ROLLBACK TO SAVEPOINT s")
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute("DO LANGUAGE plpython3u $$ plpy.notice(repr(GD)) $$")


def test_a_token_is_bound_to_its_key_and_transaction(local: Server) -> None:
    with local.connect() as c:
        phi_id = phi_key(c, local.home).key_id
        other = _register_local(local, c)
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (phi_id,))
            token = c.execute("SELECT current_setting(%s)", (SETTING + phi_id.hex,)).fetchone()
            assert token is not None
            # the token of one key does not open another
            c.execute("SELECT set_config(%s, %s, true)", (SETTING + other.key_id.hex, token[0]))
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (other.key_id,)).fetchone()
            assert row == (None,)
        # nor the same key in a later transaction
        with c.transaction():
            c.execute("SELECT set_config(%s, %s, true)", (SETTING + phi_id.hex, token[0]))
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (phi_id,)).fetchone()
            assert row == (None,)
        # an unlock in a rolled-back savepoint is gone with it
        with c.transaction():
            c.execute("SAVEPOINT s")
            c.execute("SELECT vcf.unlock(%s)", (phi_id,))
            c.execute("ROLLBACK TO SAVEPOINT s")
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (phi_id,)).fetchone()
            assert row == (None,)
        # vcf._forget_key forgets it
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (phi_id,))
            c.execute("SELECT vcf._forget_key(%s)", (phi_id,))
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (phi_id,)).fetchone()
            assert row == (None,)


def test_unlocking_again_is_a_no_op(local: Server) -> None:
    with local.connect() as c:
        phi_id = phi_key(c, local.home).key_id
        with c.transaction():
            head = _audit_head(c)
            for _ in range(3):
                c.execute("SELECT vcf.unlock(%s)", (phi_id,))
            c.execute("SELECT vcf._unlocked_key(%s)", (phi_id,))
            assert len(_audit_rows(c, phi_id, head)) == 1


# ---------------------------------------------------------------- local: interoperability


def test_python_wrapped_key_unwraps_in_the_server(local: Server) -> None:
    with local.connect() as c:
        key = _register_local(local, c)
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (key.key_id,))
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (key.key_id,)).fetchone()
            assert row is not None and bytes(row[0]) == key.material


def test_server_generated_key_unwraps_in_python(local: Server) -> None:
    from vcf_pg_loader.keys.provider import WrappedKey

    key_id = uuid.uuid4()
    context = {"purpose": "phi", "database": "vcf", "key_id": str(key_id)}
    with local.connect() as c, c.transaction():
        row = c.execute(
            "SELECT provider, kek_id, wrapped_key, key_check FROM vcf._server_generate_key(%s, %s)",
            (key_id, Jsonb(context)),
        ).fetchone()
        assert row is not None
        provider, kek_id, wrapped, check = row
        master = LocalMasterKey(local.home / "master.key")
        assert (provider, kek_id) == ("local", master.kek_id)
        material = master.unwrap(WrappedKey(provider, kek_id, bytes(wrapped), context))
        local.seen_keys.append(material)
        assert bytes(check) == DataKey(key_id, material).check_value
        same = c.execute(
            "SELECT k = %s, vcf._key_check(k) = %s FROM vcf._server_unlocked_key(%s) AS k",
            (material, check, key_id),
        ).fetchone()
        assert same == (True, True)


# ---------------------------------------------------------------- local: refusals


def test_a_session_set_cannot_redirect_unwrapping(local: Server) -> None:
    evil = local.private_file("evil.key", os.urandom(32))
    with local.connect() as c:
        phi_id = phi_key(c, local.home).key_id
        c.execute(f"SET vcf_pg_loader.server_master_key_file = '{evil}'")
        c.execute("SET vcf_pg_loader.server_key_provider = 'aws-kms'")
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (phi_id,))  # with the configured file
    local.configure(server_key_provider=None)
    try:
        with local.connect() as c:
            c.execute("SET vcf_pg_loader.server_key_provider = 'local'")
            c.execute(f"SET vcf_pg_loader.server_master_key_file = '{evil}'")
            _refused(c, phi_id, "VP008", "server-side key unwrapping is not configured")
    finally:
        local.configure(server_key_provider="local")


def test_not_configured_keeps_vp004(local: Server, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "off.vcf", ["OFF-A"], synthetic_records(2, 1))
    with local.connect() as c:
        staged = stage_file(c, LocalMasterKey(local.home / "master.key"), path)
        local.seen_keys.append(staging_key(c, local.home, staged.session_id).material)
    local.configure(server_key_provider=None)
    try:
        with local.connect() as c:
            with pytest.raises(psycopg.Error) as raised:
                c.execute("SELECT * FROM vcf.vcf_ingest(%s)", (staged.session_id,))
            assert raised.value.diag.sqlstate == "VP004"
            phi_id = phi_key(c, local.home).key_id
            with pytest.raises(psycopg.Error) as raised:
                c.execute("SELECT vcf._unlocked_key(%s)", (phi_id,))
            assert raised.value.diag.sqlstate == "VP004"
            assert c.execute("SELECT vcf._try_unlocked_key(%s)", (phi_id,)).fetchone() == (None,)
    finally:
        local.configure(server_key_provider="local")


def test_unsafe_master_key_files_are_refused(local: Server) -> None:
    master = (local.home / "master.key").read_bytes()
    with local.connect() as c:
        phi_id = phi_key(c, local.home).key_id
    try:
        loose = local.private_file("loose.key", master, mode=0o644)
        local.configure(server_master_key_file=str(loose))
        with local.connect() as c:
            details = _refused(c, phi_id, "VP008", "is accessible by other users (mode 0644)")
            assert details["provider"] == "local"
        if os.geteuid() == 0:
            # readable by the server through its group, but owned by root
            foreign = local.private_file("foreign.key", master, mode=0o640)
            os.chown(foreign, 0, pwd.getpwnam(server_user().name).pw_gid)
            local.configure(server_master_key_file=str(foreign))
            with local.connect() as c:
                _refused(c, phi_id, "VP008", "is owned by uid 0, not by the server's OS user")
        local.configure(server_master_key_file="relative/master.key")
        with local.connect() as c:
            _refused(c, phi_id, "VP008", "must be an absolute path")
        local.configure(server_master_key_file=str(local.keys_dir / "missing.key"))
        with local.connect() as c:
            _refused(c, phi_id, "VP008", "cannot open the server's master key file")
        short = local.private_file("short.key", master[:16])
        local.configure(server_master_key_file=str(short))
        with local.connect() as c:
            _refused(c, phi_id, "VP008", "does not hold a 32-byte key")
        local.configure(server_key_provider="vault")
        with local.connect() as c:
            _refused(c, phi_id, "VP008", "is 'vault': not 'local' or 'aws-kms'")
    finally:
        local.configure(
            server_key_provider="local", server_master_key_file=str(local.keys_dir / "master.key")
        )


def test_wrong_master_key_is_refused(local: Server) -> None:
    other = local.private_file("other.key", os.urandom(32))
    with local.connect() as c:
        phi_id = phi_key(c, local.home).key_id
    local.configure(server_master_key_file=str(other))
    try:
        with local.connect() as c:
            _refused(c, phi_id, "VP003", "was wrapped by master key local:")
    finally:
        local.configure(server_master_key_file=str(local.keys_dir / "master.key"))


def test_altered_rows_are_refused(local: Server) -> None:
    with local.connect() as c:
        moved = _register_local(local, c, context_change="another-session")
        _refused(c, moved.key_id, "VP003", "does not unwrap under the server's master key")
        checked = _register_local(local, c)
        c.execute(
            "UPDATE vcf.data_keys SET key_check = %s WHERE key_id = %s",
            (bytes(16), checked.key_id),
        )
        _refused(c, checked.key_id, "VP003", f"wrong key material for data key {checked.key_id}")
        mangled = _register_local(local, c)
        c.execute(
            "UPDATE vcf.data_keys SET wrapped_key = '\\x01beef' WHERE key_id = %s",
            (mangled.key_id,),
        )
        _refused(c, mangled.key_id, "VP003", "is malformed")
        foreign = _register_local(local, c)
        c.execute("UPDATE vcf.data_keys SET provider = 'env' WHERE key_id = %s", (foreign.key_id,))
        _refused(c, foreign.key_id, "VP008", "was wrapped by provider 'env'")


def test_destroyed_and_unknown_keys_are_refused(local: Server) -> None:
    with local.connect() as c:
        doomed = _register_local(local, c)
        c.execute("SELECT vcf._destroy_key(%s)", (doomed.key_id,))
        _refused(c, doomed.key_id, "VP002", "does not exist or has been destroyed")
        _refused(c, uuid.uuid4(), "VP002", "does not exist or has been destroyed")
        with pytest.raises(psycopg.Error) as raised:
            c.execute("SELECT vcf.unlock(NULL::uuid)")
        assert raised.value.diag.sqlstate == "VP002"


def test_no_key_in_the_server_log(local: Server) -> None:
    """Last of the local tests: every key the tests above unlocked, in every form."""
    assert len(local.seen_keys) >= 5
    log = local.cluster.log_file.read_bytes()
    assert b"vcf.unlock(" in log  # log_statement = 'all' did log the statements
    for key in local.seen_keys:
        for form in key_forms(key):
            assert form not in log


# ---------------------------------------------------------------- aws-kms (moto)


@dataclass
class Kms:
    server: Server
    client: Any
    arn: str


@contextlib.contextmanager
def server_with_moto_kms(tmp: Path) -> Iterator[tuple[Server, Any, str]]:
    """A cluster of its own and a moto KMS server on 127.0.0.1: (server, KMS client, endpoint)."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    server = _start(tmp)
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "kms",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield server, client, endpoint
    finally:
        server.cluster.destroy()
        moto.stop()


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kms]:
    with server_with_moto_kms(tmp_path_factory.mktemp("server-unlock-kms")) as (
        server,
        client,
        endpoint,
    ):
        arn = client.create_key(Description="vcf-pg-loader server unlock")["KeyMetadata"]["Arn"]
        credentials = server.private_file(
            "aws-credentials",
            b"[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
        )
        server.configure(
            server_key_provider="aws-kms",
            aws_region="us-east-1",
            aws_endpoint_url=endpoint,
            aws_shared_credentials_file=str(credentials),
        )
        yield Kms(server, client, arn)


def _register_kms(kms: Kms, c: psycopg.Connection[Any], purpose: str = "staging") -> DataKey:
    key_id = uuid.uuid4()
    context = {"purpose": purpose, "database": "vcf", "key_id": str(key_id)}
    out = kms.client.generate_data_key(KeyId=kms.arn, NumberOfBytes=64, EncryptionContext=context)
    key = DataKey(key_id, bytes(out["Plaintext"]))
    c.execute(
        "SELECT vcf.key_register(%s, %s, 'aws-kms', %s, %s, %s, %s)",
        (key_id, purpose, out["KeyId"], out["CiphertextBlob"], Jsonb(context), key.check_value),
    )
    return key


def test_kms_unlock_in_the_server(kms: Kms) -> None:
    with kms.server.connect() as c:
        key = _register_kms(kms, c)
        with c.transaction():
            c.execute("SELECT vcf.unlock(%s)", (key.key_id,))
            row = c.execute("SELECT vcf._server_unlocked_key(%s)", (key.key_id,)).fetchone()
            assert row is not None and bytes(row[0]) == key.material
            details = c.execute(
                "SELECT details FROM vcf.audit_log WHERE action = 'unlock' AND target = %s",
                (str(key.key_id),),
            ).fetchone()
            assert details is not None
            assert details[0]["via"] == "server" and details[0]["provider"] == "aws-kms"


def test_kms_altered_context_is_refused(kms: Kms) -> None:
    with kms.server.connect() as c:
        key = _register_kms(kms, c)
        c.execute(
            "UPDATE vcf.data_keys SET encryption_context = encryption_context"
            ' || \'{"session_id": "another"}\' WHERE key_id = %s',
            (key.key_id,),
        )
        _refused(c, key.key_id, "VP003", "KMS refused to unwrap data key")


def test_kms_generate_in_the_server(kms: Kms) -> None:
    key_id = uuid.uuid4()
    context = {"purpose": "phi", "database": "vcf", "key_id": str(key_id)}
    kms.server.configure(aws_kms_key_id=kms.arn)
    try:
        with kms.server.connect() as c, c.transaction():
            row = c.execute(
                "SELECT provider, kek_id, wrapped_key, key_check"
                " FROM vcf._server_generate_key(%s, %s)",
                (key_id, Jsonb(context)),
            ).fetchone()
            assert row is not None
            assert (row[0], row[1]) == ("aws-kms", kms.arn)
            plain = kms.client.decrypt(
                CiphertextBlob=bytes(row[2]), EncryptionContext=context, KeyId=kms.arn
            )["Plaintext"]
            assert bytes(row[3]) == DataKey(key_id, plain).check_value
            same = c.execute("SELECT vcf._server_unlocked_key(%s) = %s", (key_id, plain))
            assert same.fetchone() == (True,)
    finally:
        kms.server.configure(aws_kms_key_id=None)


def test_kms_unsafe_credentials_and_unreachable_endpoint(kms: Kms) -> None:
    credentials = kms.server.keys_dir / "aws-credentials"
    with kms.server.connect() as c:
        key = _register_kms(kms, c)
        credentials.chmod(0o644)
        try:
            _refused(c, key.key_id, "VP008", "the AWS shared credentials file")
        finally:
            credentials.chmod(0o600)
    row = _psql(kms.server, "SELECT setting FROM pg_file_settings WHERE name LIKE '%endpoint%'")
    endpoint = row.stdout.strip().splitlines()[-1]
    kms.server.configure(aws_endpoint_url="http://127.0.0.1:1")
    try:
        with kms.server.connect() as c:
            _refused(c, key.key_id, "VP008", "KMS decrypt for data key")
    finally:
        kms.server.configure(aws_endpoint_url=endpoint)


def test_kms_end_to_end_ingest_from_psql(kms: Kms, tmp_path: Path) -> None:
    from vcf_pg_loader.keys.aws_kms import AwsKmsProvider

    provider = AwsKmsProvider(kms.arn, client=kms.client)
    with kms.server.connect() as c:
        # this cluster's PHI key becomes a KMS key (the bootstrap made a local one)
        c.execute(
            "UPDATE vcf.data_keys SET state = 'retired', retired_at = now()"
            " WHERE purpose = 'phi' AND state = 'active'"
        )
        phi = _register_kms(kms, c, purpose="phi")
        path = write_vcf(tmp_path / "kms.vcf", ["KMS-A", "KMS-B"], synthetic_records(4, 2))
        staged = stage_file(c, provider, path)
    done = _psql(kms.server, f"SELECT records, state FROM vcf.vcf_ingest('{staged.session_id}')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4|ingested"
    with kms.server.connect() as c:
        sid = c.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s AND sample_index = 1",
            (staged.session_id,),
        ).fetchone()
        assert sid is not None
        enc = c.execute("SELECT name_enc FROM vcf.samples WHERE sample_id = %s", sid).fetchone()
        assert enc is not None
        assert open_sealed(phi, bytes(enc[0]), f"vcf.samples.name:{sid[0]}") == b"KMS-A"
    log = kms.server.cluster.log_file.read_bytes()
    for form in key_forms(phi.material):
        assert form not in log


def test_kms_rotation_from_sql(kms: Kms) -> None:
    """CALL vcf.rotate_phi_key(): a new KMS PHI key made in the server, values moved, resumable.

    Runs after the end-to-end test, which left KMS-encrypted sample names.
    """
    kms.server.configure(aws_kms_key_id=kms.arn)
    try:
        with kms.server.connect() as c:
            names = c.execute("SELECT sample_id, name_enc FROM vcf.samples").fetchall()
            assert names
            first = c.execute("SELECT vcf.active_phi_key_id()").fetchone()
        started = _psql(kms.server, "CALL vcf.rotate_phi_key(1)")
        assert started.returncode == 0, started.stderr
        assert "rotation started" in started.stderr and "rotation finished" in started.stderr
        # a rotation begun and not run: the procedure resumes it
        begun = _psql(kms.server, "SELECT vcf.rotate_begin_in_server()")
        assert begun.returncode == 0, begun.stderr
        resumed = _psql(kms.server, "CALL vcf.rotate_phi_key(2)")
        assert resumed.returncode == 0, resumed.stderr
        assert "rotation resumed" in resumed.stderr
        with kms.server.connect() as c:
            status = c.execute("SELECT * FROM vcf.rotate_status()").fetchone()
            assert status is not None and status[1] is None and status[2] == 0
            keys = c.execute(
                "SELECT key_id, provider, kek_id, wrapped_key, encryption_context, state"
                " FROM vcf.data_keys WHERE purpose = 'phi' ORDER BY created_at"
            ).fetchall()
            assert first is not None and [k[5] for k in keys if k[0] == first[0]] == ["retired"]
            active = [k for k in keys if k[5] == "active"]
            assert len(active) == 1 and active[0][1:3] == ("aws-kms", kms.arn)
            plain = kms.client.decrypt(
                CiphertextBlob=bytes(active[0][3]), EncryptionContext=active[0][4], KeyId=kms.arn
            )["Plaintext"]
            new = DataKey(active[0][0], plain)
            for sample_id, _ in names:
                row = c.execute(
                    "SELECT name_enc FROM vcf.samples WHERE sample_id = %s", (sample_id,)
                ).fetchone()
                assert row is not None
                assert open_sealed(new, bytes(row[0]), f"vcf.samples.name:{sample_id}")
        log = kms.server.cluster.log_file.read_bytes()
        for form in key_forms(new.material):
            assert form not in log
    finally:
        kms.server.configure(aws_kms_key_id=None)
