"""vcf.rewrap_key with in-server unwrapping (plpython companion): the server proves a new wrapped
form itself, by unwrapping it under the new KEK and the stored encryption context, before it
replaces the old one. Garbage, a wrapping of another key, or one under another master key is
refused (VP063) even when the caller sends the real key as its proof; the old form stays, the
key still unlocks in the server; vcfctl keys rewrap to KMS sends no key at all.

A rewrap the server cannot prove (the caller's proof only) keeps the form it replaced until the
server unwraps the new one: the first in-server unlock drops it.

One cluster (clusters of their own, as in test_server_unlock.py): first the local provider,
then aws-kms against a moto server; the tests run in order.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from test_rewrap import _REWRAP, _REWRAP_PROVEN, _phi_row, _vp063
from test_server_unlock import Server, server_with_moto_kms

from helpers import key_forms, phi_key
from vcf_pg_loader.keys.symmetric import kek_fingerprint, wrap

pytestmark = pytest.mark.plpython


@dataclass
class World:
    server: Server
    kms: Any
    endpoint: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with server_with_moto_kms(tmp_path_factory.mktemp("rewrap-in-server")) as (
        server,
        client,
        endpoint,
    ):
        master = server.private_file("master.key", (server.home / "master.key").read_bytes())
        server.configure(server_key_provider="local", server_master_key_file=str(master))
        yield World(server, client, endpoint)


def _refusals(c: psycopg.Connection[Any], key_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = c.execute(
        "SELECT details FROM vcf.audit_log WHERE action = 'rewrap' AND target = %s"
        " AND NOT succeeded ORDER BY audit_id",
        (str(key_id),),
    ).fetchall()
    return [dict(r[0]) for r in rows]


def _unlocks_in_server(c: psycopg.Connection[Any], key_id: uuid.UUID) -> None:
    with c.transaction():
        c.execute("SELECT vcf.unlock(%s)", (key_id,))
        row = c.execute("SELECT vcf._server_unlocked_key(%s) IS NOT NULL", (key_id,)).fetchone()
        assert row == (True,)


def test_local_the_server_proves_the_new_form(world: World) -> None:
    server = world.server
    master = (server.home / "master.key").read_bytes()
    with server.connect() as c:
        before = _phi_row(c)
        key_id, provider, kek_id, wrapped, context, _ = before
        assert (provider, kek_id) == ("local", "local:" + kek_fingerprint(master))
        real = phi_key(c, server.home).material
        cas = hashlib.sha256(bytes(wrapped)).digest()
        other = os.urandom(64)
        elsewhere = os.urandom(32)

        # garbage, even with the real key as the caller's proof
        for sql, args in [
            (_REWRAP, (key_id, cas, kek_id, "local", os.urandom(93))),
            (_REWRAP_PROVEN, (key_id, cas, kek_id, "local", os.urandom(93), real)),
        ]:
            assert "the server cannot unwrap it to this key" in _vp063(c, sql, args)
        # a valid wrapping of another key under the server's master key and this context
        foreign = wrap(master, other, context)
        message = _vp063(c, _REWRAP_PROVEN, (key_id, cas, kek_id, "local", foreign, other))
        assert "unwraps to another key" in message
        # the real key, under another context (another key's) or another master key
        moved = wrap(master, real, dict(context, key_id=str(uuid.uuid4())))
        assert "does not unwrap" in _vp063(c, _REWRAP, (key_id, cas, kek_id, "local", moved))
        lost = wrap(elsewhere, real, context)
        other_kek = "local:" + kek_fingerprint(elsewhere)
        assert "was wrapped by master key" in _vp063(
            c, _REWRAP_PROVEN, (key_id, cas, other_kek, "local", lost, real)
        )
        assert _phi_row(c) == before
        refusals = _refusals(c, key_id)
        assert len(refusals) == 5 and {r["sqlstate"] for r in refusals} == {"VP063"}
        text = json.dumps(refusals).encode()
        assert not any(form in text for key in (real, other) for form in key_forms(key))
        _unlocks_in_server(c, key_id)

        # the same key wrapped again under the server's master key: proven by the server
        again = wrap(master, real, context)
        c.execute(_REWRAP, (key_id, cas, kek_id, "local", again))
        assert bytes(_phi_row(c)[3]) == again
        row = c.execute(
            "SELECT details FROM vcf.audit_log WHERE action = 'rewrap' AND target = %s"
            " AND succeeded",
            (str(key_id),),
        ).fetchone()
        assert row is not None and row[0]["proof"] == "server"
        _unlocks_in_server(c, key_id)
    log = server.cluster.log_file.read_bytes()
    assert not any(form in log for form in key_forms(other))


def _configure_kms(world: World) -> None:
    credentials = world.server.private_file(
        "aws-credentials",
        b"[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    world.server.configure(
        server_key_provider="aws-kms",
        aws_region="us-east-1",
        aws_endpoint_url=world.endpoint,
        aws_shared_credentials_file=str(credentials),
    )


def _previous(c: psycopg.Connection[Any], key_id: uuid.UUID) -> tuple[Any, ...]:
    row = c.execute(
        "SELECT previous_provider, previous_kek_id, previous_wrapped_key"
        " FROM vcf.data_keys WHERE key_id = %s",
        (key_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_an_unlock_in_the_server_drops_the_kept_form(world: World) -> None:
    """A rewrap the server could not prove (its provider is local, the new form is KMS) keeps
    the old form; the first in-server unlock through the new form, once the server unwraps KMS
    keys, proves it and drops the old one."""
    server, kms = world.server, world.kms
    arn = str(kms.create_key(Description="client proven")["KeyMetadata"]["Arn"])
    with server.connect() as c:
        key_id, provider, kek_id, wrapped, context, _ = _phi_row(c)
        real = phi_key(c, server.home).material
        blob = bytes(
            kms.encrypt(KeyId=arn, Plaintext=real, EncryptionContext=context)["CiphertextBlob"]
        )
        cas = hashlib.sha256(bytes(wrapped)).digest()
        with c.cursor(binary=True) as cur:
            cur.execute(_REWRAP_PROVEN, (key_id, cas, arn, "aws-kms", blob, real))
        assert _previous(c, key_id) == (provider, kek_id, wrapped)
        row = c.execute(
            "SELECT details FROM vcf.audit_log WHERE action = 'rewrap' AND succeeded"
            " ORDER BY audit_id DESC LIMIT 1"
        ).fetchone()
        assert row is not None and row[0]["proof"] == "client"
        assert row[0]["kept_for_undo"] == kek_id
    _configure_kms(world)
    with server.connect() as c:
        _unlocks_in_server(c, key_id)
        assert _previous(c, key_id) == (None, None, None)
        row = c.execute(
            "SELECT details FROM vcf.audit_log WHERE action = 'unlock' AND target = %s"
            " AND succeeded ORDER BY audit_id DESC LIMIT 1",
            (str(key_id),),
        ).fetchone()
        assert row is not None and row[0]["previous_wrapping"] == "dropped"
        _unlocks_in_server(c, key_id)  # nothing kept any more: nothing said
        row = c.execute(
            "SELECT details FROM vcf.audit_log WHERE action = 'unlock' AND target = %s"
            " AND succeeded ORDER BY audit_id DESC LIMIT 1",
            (str(key_id),),
        ).fetchone()
        assert row is not None and "previous_wrapping" not in row[0]
        with pytest.raises(psycopg.Error) as err:
            c.execute("SELECT vcf.rewrap_undo(%s)", (key_id,))
        assert err.value.diag.sqlstate == "VP064"


def test_kms_vcfctl_rewrap_sends_no_key(world: World) -> None:
    """Rewrapping the (now KMS) PHI key under another KMS key with the server on aws-kms:
    proven in the server, no key sent."""
    server, kms = world.server, world.kms
    arn = str(kms.create_key(Description="rewrap in server")["KeyMetadata"]["Arn"])
    _configure_kms(world)
    with server.connect() as c:
        key_id, provider, kek_id, wrapped, context, _ = _phi_row(c)
        assert provider == "aws-kms"
        real = bytes(
            kms.decrypt(CiphertextBlob=bytes(wrapped), EncryptionContext=context, KeyId=kek_id)[
                "Plaintext"
            ]
        )
        cas = hashlib.sha256(bytes(wrapped)).digest()
        # KMS refuses garbage; the real key as the caller's proof does not help
        garbage = os.urandom(180)
        message = _vp063(c, _REWRAP_PROVEN, (key_id, cas, arn, "aws-kms", garbage, real))
        assert "KMS refused to unwrap" in message
        # a valid KMS wrapping of another key under this context
        foreign = kms.encrypt(KeyId=arn, Plaintext=os.urandom(64), EncryptionContext=context)
        blob = bytes(foreign["CiphertextBlob"])
        assert "unwraps to another key" in _vp063(c, _REWRAP, (key_id, cas, arn, "aws-kms", blob))
        # the embedded cluster logs no bind parameters; here it must, to show none is a key
        c.execute("ALTER SYSTEM SET log_parameter_max_length = -1")
        c.execute("SELECT pg_reload_conf()")
        log_start = server.cluster.log_file.stat().st_size

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "AWS_"))}
    env.update(
        VCF_PG_LOADER_HOME=str(server.home),
        AWS_ENDPOINT_URL=world.endpoint,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [sys.executable, "-m", "vcf_pg_loader", "keys", "rewrap", "--to-kms-key-id", arn],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "rewrapped" in done.stdout
    with server.connect() as c:
        c.execute("ALTER SYSTEM RESET log_parameter_max_length")
        c.execute("SELECT pg_reload_conf()")
        _, provider, kek_id, _, _, _ = _phi_row(c)
        assert (provider, kek_id) == ("aws-kms", arn)
        proofs = c.execute(
            "SELECT details->>'proof' FROM vcf.audit_log WHERE action = 'rewrap' AND succeeded"
            " AND details->>'to_kek_id' = %s",
            (arn,),
        ).fetchall()
        assert proofs and {p[0] for p in proofs} == {"server"}
        _unlocks_in_server(c, key_id)
    # log_statement = 'all' logs bind parameters: no key went over the connection
    with server.cluster.log_file.open("rb") as f:
        f.seek(log_start)
        log = f.read()
    assert b"rewrap_key" in log and b"parameters: $1 = " in log
    assert not any(form in log for form in key_forms(real))
