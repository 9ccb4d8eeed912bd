"""Transport: a real TLS cluster, certificates made here, keys and PHI only over TLS or a socket.

One throwaway cluster with ssl = on, listening on 127.0.0.1 (a free port),
its server certificate signed by a CA made by the test, for the DNS name
"localhost" only (no IP address), so that connecting to 127.0.0.1 with
verify-full really exercises libpq's host name check. pg_hba.conf:

* tls_login: hostssl only, scram-sha-256 (the RDS rds.force_ssl = 1 case);
* plain_login: host (TLS or not), scram-sha-256, for the refusals;
* the local socket: trust, for the test's own admin connection.

What is shown: vcfctl load with verify-full and the right CA, the password
from VCF_PG_LOADER_DB_PASSWORD and from a Secrets Manager secret (moto's
server); a wrong CA, a wrong host name and sslmode=disable against the
hostssl-only login fail with one clear line (exit 4); over TCP without TLS
vcfctl refuses to send a key, staged data or a sample name (exit 4, nothing
reaches the server), and the server refuses vcf.unlock(key_id, key),
vcf.reveal_sample and vcf.find_sample itself (VP009, audited); an RDS IAM
token made by botocore is what is sent as the password, over TLS.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from cryptography import x509
from psycopg.conninfo import make_conninfo

from conftest import DATA
from helpers import phi_key, synthetic_records, write_vcf
from tls_certs import ca_pem, make_ca, make_server_cert, write_server_file
from vcf_pg_loader.config import load_settings
from vcf_pg_loader.embedded import DATABASE, SUPERUSER, EmbeddedCluster

pytestmark = pytest.mark.own_cluster

PASSWORD = "tls-test-Pw-5d1e"


@dataclass
class TlsServer:
    cluster: EmbeddedCluster
    port: int
    ca: Path
    wrong_ca: Path

    @property
    def home(self) -> Path:
        return self.cluster.home

    def admin(self) -> psycopg.Connection[Any]:
        """The test's own connection: the Unix socket, as the superuser."""
        info = make_conninfo(
            host=str(self.cluster.socket_dir), port=str(self.port), dbname=DATABASE, user=SUPERUSER
        )
        return psycopg.connect(info, autocommit=True)

    def url(self, user: str = "tls_login", host: str = "localhost") -> str:
        return f"host={host} port={self.port} dbname={DATABASE} user={user}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    tmp = tmp_path_factory.mktemp("tls")
    cluster = EmbeddedCluster(tmp / "home")
    cluster.ensure_ready()
    try:
        ca_key, ca = make_ca("vcf-pg-loader test CA")
        _, wrong = make_ca("some other CA")
        ca_file, wrong_file = tmp / "ca.pem", tmp / "wrong-ca.pem"
        ca_file.write_bytes(ca_pem(ca))
        wrong_file.write_bytes(ca_pem(wrong))
        cert, key = make_server_cert(ca_key, ca, [x509.DNSName("localhost")])
        write_server_file(cluster.data_dir / "server.crt", cert)
        write_server_file(cluster.data_dir / "server.key", key)
        port = _free_port()
        with open(cluster.data_dir / "vcf_pg_loader.conf", "a") as fh:
            fh.write(
                "# test_tls.py\n"
                "ssl = on\n"
                "ssl_cert_file = 'server.crt'\n"
                "ssl_key_file = 'server.key'\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {port}\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        (cluster.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all tls_login 127.0.0.1/32 scram-sha-256\n"
            "hostssl all iam_login 127.0.0.1/32 scram-sha-256\n"
            "host all plain_login 127.0.0.1/32 scram-sha-256\n"
        )
        cluster.stop()
        cluster.start()
        server = TlsServer(cluster, port, ca_file, wrong_file)
        with server.admin() as c:
            for role in ("tls_login", "plain_login", "iam_login"):
                c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
                c.execute(f"GRANT vcf_loader, vcf_phi_reader TO {role}")
        yield server
    finally:
        cluster.destroy()


def _env(server: TlsServer, **extra: str) -> dict[str, str]:
    return {"VCF_PG_LOADER_HOME": str(server.home), **extra}


def _tls_env(server: TlsServer, **extra: str) -> dict[str, str]:
    return _env(
        server,
        VCF_PG_LOADER_DB_URL=server.url(),
        VCF_PG_LOADER_TLS_MODE="verify-full",
        VCF_PG_LOADER_TLS_CA_CERT=str(server.ca),
        VCF_PG_LOADER_DB_PASSWORD=PASSWORD,
        **extra,
    )


def _audit(server: TlsServer, since: int = 0) -> list[Any]:
    with server.admin() as c:
        return c.execute(
            "SELECT action, succeeded, details, host(client_addr), session_role FROM vcf.audit_log"
            " WHERE audit_id > %s ORDER BY audit_id",
            (since,),
        ).fetchall()


def _head(server: TlsServer) -> int:
    with server.admin() as c:
        row = c.execute("SELECT coalesce(max(audit_id), 0) FROM vcf.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def _error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert lines and lines[0].startswith("vcfctl: error: "), stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), stderr
    return lines[0]


def test_verify_full_load_with_password_from_environment(tls: TlsServer, vcfctl: Any) -> None:
    since = _head(tls)
    out = vcfctl("load", "--format", "json", str(DATA / "example.vcf"), env=_tls_env(tls))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["variants"] == 9
    unlocks = [r for r in _audit(tls, since) if r[0] == "unlock"]
    # the keys went to vcf.unlock over TCP (a client address), so over TLS
    assert unlocks and all(r[1] and r[3] == "127.0.0.1" and r[4] == "tls_login" for r in unlocks)


def test_verify_full_load_with_password_from_secrets_manager(
    tls: TlsServer, vcfctl: Any, tmp_path: Path
) -> None:
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        client = boto3.client(
            "secretsmanager",
            endpoint_url=aws["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        secret = {
            "username": "tls_login",
            "password": PASSWORD,
            "host": "localhost",
            "port": tls.port,
            "dbname": DATABASE,
        }
        client.create_secret(Name="vcf/tls-loader", SecretString=json.dumps(secret))
        vcf = write_vcf(tmp_path / "s.vcf", ["S1", "S2"], synthetic_records(20, 2))
        env = _env(tls, VCF_PG_LOADER_TLS_CA_CERT=str(tls.ca), **aws)
        out = vcfctl(
            "--db-secret-id", "vcf/tls-loader", "load", "--format", "json", str(vcf), env=env
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)[0]["variants"] == 20
        assert PASSWORD not in out.stdout + out.stderr
        wrong = vcfctl("--db-secret-id", "vcf/none", "sessions", "list", env=env)
        assert wrong.returncode == 4
        assert "ResourceNotFoundException" in _error_line(wrong.stderr)
    finally:
        moto.stop()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"VCF_PG_LOADER_TLS_CA_CERT": "wrong"},
            "the server's TLS certificate is not signed by the CA you gave",
        ),
        (
            {"VCF_PG_LOADER_DB_URL": "127.0.0.1"},
            "the server's TLS certificate is not for the host name you connect to",
        ),
        (
            {"VCF_PG_LOADER_TLS_MODE": "disable", "VCF_PG_LOADER_DB_URL": "127.0.0.1"},
            "the server accepts this login only over TLS",
        ),
    ],
    ids=["wrong-ca", "wrong-host-name", "disable-on-hostssl"],
)
def test_connection_refusals_are_one_clear_line(
    tls: TlsServer, vcfctl: Any, change: dict[str, str], message: str
) -> None:
    env = _tls_env(tls)
    if change.get("VCF_PG_LOADER_TLS_CA_CERT") == "wrong":
        change = {**change, "VCF_PG_LOADER_TLS_CA_CERT": str(tls.wrong_ca)}
    if change.get("VCF_PG_LOADER_DB_URL") == "127.0.0.1":
        change = {**change, "VCF_PG_LOADER_DB_URL": tls.url(host="127.0.0.1")}
    env.update(change)
    out = vcfctl("sessions", "list", env=env)
    assert out.returncode == 4, out.stderr
    assert _error_line(out.stderr) == f"vcfctl: error: cannot connect to the database: {message}"
    assert PASSWORD not in out.stderr


def test_same_host_name_check_passes_with_the_right_name(tls: TlsServer) -> None:
    """The wrong-host-name refusal is libpq's check: the certificate's name itself works."""
    from vcf_pg_loader.db import connection_params

    settings = load_settings(
        environ={k: v for k, v in _tls_env(tls).items() if k.startswith("VCF_PG_LOADER_")}
    )
    with psycopg.connect(**connection_params(settings)) as c:
        assert c.pgconn.ssl_in_use
        row = c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)


def _plain(tls: TlsServer, **kw: Any) -> psycopg.Connection[Any]:
    info = tls.url(user="plain_login", host="127.0.0.1") + f" password={PASSWORD}"
    return psycopg.connect(info, autocommit=True, **kw)


def test_server_refuses_unlock_over_tcp_without_tls(tls: TlsServer) -> None:
    with tls.admin() as c:
        key = phi_key(c, tls.home)
    since = _head(tls)
    with _plain(tls, sslmode="disable") as c:
        assert not c.pgconn.ssl_in_use
        with pytest.raises(psycopg.Error) as err, c.transaction():
            c.execute("SELECT vcf.unlock(%s, %s)", (key.key_id, key.material))
            c.execute("SELECT vcf._unlocked_key(%s)", (key.key_id,))
        assert err.value.sqlstate == "VP009" and "TCP without TLS" in str(err.value)
        assert key.material.hex() not in str(err.value) + str(err.value.diag.message_hint)
        for call, args in (
            # refused before the key is even checked: a wrong key gets VP009, not VP003
            ("SELECT vcf.unlock(%s, %s)", (key.key_id, bytes(64))),
            ("SELECT vcf.reveal_sample(1, 'ticket 1')", ()),
            ("SELECT vcf.find_sample(%s, 'ticket 1')", ("NA00001",)),
        ):
            with pytest.raises(psycopg.Error) as err:
                c.execute(call, args)
            assert err.value.sqlstate == "VP009"
    rows = _audit(tls, since)
    assert [(r[0], r[1], r[2].get("sqlstate"), r[3]) for r in rows] == [
        ("unlock", False, "VP009", "127.0.0.1"),
        ("unlock", False, "VP009", "127.0.0.1"),
        ("reveal", False, "VP009", "127.0.0.1"),
        ("find", False, "VP009", "127.0.0.1"),
    ]
    assert rows[0][2]["refused"] == "TCP without TLS"
    # the same login, the same host line, over TLS: unlocked
    with _plain(tls, sslmode="require") as c, c.transaction():
        c.execute("SELECT vcf.unlock(%s, %s)", (key.key_id, key.material))
        assert c.execute("SELECT vcf.find_sample('NA00001', 'ticket 2')").fetchone() is not None


def test_socket_unlock_still_works(tls: TlsServer) -> None:
    with tls.admin() as c, c.transaction():
        key = phi_key(c, tls.home)
        c.execute("SELECT vcf.unlock(%s, %s)", (key.key_id, key.material))


def test_vcfctl_refuses_to_send_keys_or_phi_over_tcp_without_tls(
    tls: TlsServer, vcfctl: Any, tmp_path: Path
) -> None:
    env = _env(
        tls,
        VCF_PG_LOADER_DB_URL=tls.url(user="plain_login", host="localhost"),
        VCF_PG_LOADER_TLS_MODE="disable",
        VCF_PG_LOADER_DB_PASSWORD=PASSWORD,
    )
    # not sensitive: allowed (and doctor says why the transport is a problem)
    listed = vcfctl("sessions", "list", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    doctor = vcfctl("doctor", env=env)
    assert "TCP without TLS" in doctor.stdout
    since = _head(tls)
    with tls.admin() as c:
        sessions = c.execute("SELECT count(*) FROM vcf.sessions").fetchone()
    vcf = write_vcf(tmp_path / "p.vcf", ["P1"], synthetic_records(5, 1))
    for args, what in (
        (("samples", "reveal", "1", "--reason", "ticket 3"), "a data key (vcf.unlock)"),
        (("samples", "find", "NA00001", "--reason", "ticket 3"), "a data key (vcf.unlock)"),
        (("load", str(vcf)), "staged data (vcf.stage_begin)"),
        (("stage", str(vcf)), "staged data (vcf.stage_begin)"),
    ):
        out = vcfctl(*args, env=env)
        assert out.returncode == 4, (args, out.stderr)
        line = _error_line(out.stderr)
        assert f"refusing to send {what} over TCP without TLS" in line
        assert "Unix socket" in out.stderr and "VCF_PG_LOADER_TLS_MODE=verify-full" in out.stderr
    # nothing reached the server: no unlock, reveal or find was audited, no session made
    assert [r for r in _audit(tls, since) if r[0] in ("unlock", "reveal", "find")] == []
    with tls.admin() as c:
        assert c.execute("SELECT count(*) FROM vcf.sessions").fetchone() == sessions


def test_iam_token_is_sent_as_the_password_over_tls(
    tls: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's real token (offline signing), set as the role's password, logs in over TLS."""
    from vcf_pg_loader import db

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    made: list[str] = []
    real = db.rds_auth_token

    def token_that_the_server_knows(host: str, port: int, user: str) -> str:
        token = real(host, port, user)
        made.append(token)
        with tls.admin() as c:
            c.execute(f"ALTER ROLE {user} PASSWORD '{token}'")
        return token

    monkeypatch.setattr(db, "rds_auth_token", token_that_the_server_knows)
    settings = load_settings(
        db_url=tls.url(user="iam_login"),
        iam_auth=True,
        tls_ca_cert=tls.ca,
        home=tls.home,
        environ={},
    )
    with db.connect(settings) as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("SELECT current_user").fetchone() == ("iam_login",)
    assert made and made[0].startswith(f"localhost:{tls.port}/?Action=connect&DBUser=iam_login")
    assert made[0] not in repr(settings)
    # without TLS the token is not even made
    made.clear()
    with pytest.raises(Exception, match="--iam-auth requires TLS"):
        load_settings(db_url=tls.url(user="iam_login"), iam_auth=True, tls_mode="prefer")
    assert made == []


def test_guard_covers_every_form_of_the_sensitive_statements(tls: TlsServer) -> None:
    """db.connect over clear TCP: what carries a key or PHI is refused however it is written."""
    from psycopg import sql
    from psycopg.rows import dict_row

    from vcf_pg_loader.db import TCP, InsecureTransportError, connect, transport

    with tls.admin() as c:
        key = phi_key(c, tls.home)
    settings = load_settings(
        db_url=tls.url(user="plain_login", host="127.0.0.1"),
        tls_mode="disable",
        home=tls.home,
        environ={"VCF_PG_LOADER_DB_PASSWORD": PASSWORD},
    )
    since = _head(tls)
    with connect(settings) as c:
        assert transport(c) == TCP
        refused: list[Any] = [
            "SELECT vcf.unlock(%s, %b)",
            b"select VCF.Unlock(\n %s,\n %s)",
            sql.SQL("SELECT {}.{}(%s, %s)").format(sql.Identifier("vcf"), sql.Identifier("unlock")),
            "SELECT * FROM vcf.reveal_sample(%s, %s)",
            "SELECT vcf.find_sample(%s, %s)",
            "SELECT vcf.stage_begin(%s, %s)",
        ]
        for query in refused:
            with pytest.raises(InsecureTransportError):
                c.execute(query, (key.key_id, key.material))
            with pytest.raises(InsecureTransportError), c.cursor(row_factory=dict_row) as cur:
                cur.executemany(query, [(key.key_id, key.material)])
        for copy in (
            "COPY vcf.staged_blocks (session_id) FROM STDIN",
            'copy "vcf"."staged_blocks"',
        ):
            with pytest.raises(InsecureTransportError), c.cursor() as cur:
                cur.copy(copy)
        # not sensitive: reaches the server. The in-server vcf.unlock(key_id) sends no key and
        # is not refused for the transport (here it fails as not configured: VP008)
        assert c.execute("SELECT count(*) FROM vcf.sessions").fetchone() is not None
        with pytest.raises(psycopg.Error) as err:
            c.execute("SELECT vcf.unlock(%s)", (key.key_id,))
        assert err.value.sqlstate in ("VP008", "42501")
    assert [r for r in _audit(tls, since) if r[2].get("sqlstate") == "VP009"] == []
