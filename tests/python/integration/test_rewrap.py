"""vcfctl keys rewrap against a moto KMS server: every key moves under a new KMS key
(or from local/env to KMS), names still read back, a second run is a no-op, each key
is audited, failures are reported per key, and vcf.rewrap_key refuses stale writes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer
from psycopg.conninfo import make_conninfo

from helpers import LOGIN, key_forms, phi_key, synthetic_records, write_vcf

PHI_KEY = base64.b64encode(bytes(range(100, 132))).decode()


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto KMS server and the environment that points a subprocess at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    empty = tmp_path_factory.mktemp("aws") / "none"
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kms(aws: dict[str, str]) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=aws["AWS_ENDPOINT_URL"],
        region_name=aws["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _new_key(kms: Any, alias: str) -> str:
    arn = str(kms.create_key(Description=alias)["KeyMetadata"]["Arn"])
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def _database(cluster: Any, name: str) -> str:
    """A fresh database with the extension (its owner's conninfo)."""
    cluster.drop_database(name)
    return str(cluster.create_database(name))


def _keys(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute(
            "SELECT key_id::text, purpose, provider, kek_id, state, key_check,"
            " encryption_context FROM vcf.data_keys WHERE state <> 'destroyed' ORDER BY key_id"
        ).fetchall()


def _audit(url: str, action: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute(
            "SELECT acting_role, target, succeeded, details FROM vcf.audit_log"
            " WHERE action = %s ORDER BY chain_no",
            (action,),
        ).fetchall()


def _load(vcfctl: Any, url: str, env: dict[str, str], path: Path, *extra: str) -> list[int]:
    """Load a file; return its sample ids in column order."""
    out = vcfctl("--db", url, *extra, "load", "--format", "json", str(path), env=env)
    assert out.returncode == 0, out.stderr
    sid = json.loads(out.stdout)[0]["session_id"]
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s ORDER BY sample_index",
            (sid,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def _reveal(vcfctl: Any, url: str, env: dict[str, str], sample_id: int) -> str:
    out = vcfctl(
        "--db",
        url,
        "samples",
        "reveal",
        str(sample_id),
        "--reason",
        "rewrap test",
        "--format",
        "json",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["name"])


def _rewrap(vcfctl: Any, url: str, env: dict[str, str], *args: str) -> Any:
    return vcfctl("--db", url, "keys", "rewrap", *args, env=env)


def test_rewrap_to_a_second_kms_key(
    cluster: Any, vcfctl: Any, aws: dict[str, str], kms: Any, tmp_path: Path
) -> None:
    first, second = _new_key(kms, "alias/rw-first"), _new_key(kms, "alias/rw-second")
    url = _database(cluster, "rewrap_kms")
    env = {**aws, "VCF_PG_LOADER_HOME": str(tmp_path / "home")}
    init = vcfctl("--db", url, "--kms-key-id", "alias/rw-first", "keys", "init", env=env)
    assert init.returncode == 0, init.stderr
    assert "provider aws-kms" in init.stdout
    assert not (tmp_path / "home" / "master.key").exists()
    names = [f"Rewrap {uuid.uuid4().hex[:6]}", "Rewrap Two"]
    vcf = write_vcf(tmp_path / "a.vcf", names, synthetic_records(4, 2))
    ids = _load(vcfctl, url, env, vcf, "--kms-key-id", "alias/rw-first")
    other = write_vcf(tmp_path / "b.vcf", ["Staged Only"], synthetic_records(2, 1, start=7))
    staged = vcfctl(
        "--db", url, "--kms-key-id", first, "stage", "--format", "json", str(other), env=env
    )
    assert staged.returncode == 0, staged.stderr
    staged_sid = json.loads(staged.stdout)[0]["session_id"]
    before = _keys(url)
    assert len(before) == 2 and {k[3] for k in before} == {first}

    # A key admin (not a superuser) rewraps, with no KMS key configured at all.
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP ROLE IF EXISTS rewrap_admin")
        c.execute(f"CREATE ROLE rewrap_admin {LOGIN}")
        c.execute("SELECT vcf.grant_role('vcf_key_admin', 'rewrap_admin')")
    admin_url = make_conninfo(url, user="rewrap_admin")
    result = _rewrap(
        vcfctl, admin_url, env, "--to-kms-key-id", "alias/rw-second", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"] == {"rewrapped": 2, "moved": 0, "skipped": 0, "failed": 0}
    assert {(k["from_kek_id"], k["to_kek_id"]) for k in report["keys"]} == {(first, second)}

    after = _keys(url)
    assert {k[3] for k in after} == {second} and {k[2] for k in after} == {"aws-kms"}
    # Key ids, purposes, states, check values and contexts stay.
    assert [(k[0], k[1], k[4], k[5], k[6]) for k in after] == [
        (k[0], k[1], k[4], k[5], k[6]) for k in before
    ]
    audit = _audit(url, "rewrap")
    assert sorted(r[1] for r in audit) == sorted(k[0] for k in before)
    assert all(r[0] == "rewrap_admin" and r[2] for r in audit)
    assert all((r[3]["from_kek_id"], r[3]["to_kek_id"]) == (first, second) for r in audit)

    # KMS itself says the blobs are now under the second key.
    with psycopg.connect(url, autocommit=True) as c:
        for blob, context in c.execute(
            "SELECT wrapped_key, encryption_context FROM vcf.data_keys WHERE state <> 'destroyed'"
        ).fetchall():
            assert (
                kms.decrypt(CiphertextBlob=bytes(blob), EncryptionContext=context)["KeyId"]
                == second
            )
    env_second = {**env, "VCF_PG_LOADER_KMS_KEY_ID": "alias/rw-second"}
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names
    ingest = vcfctl("--db", url, "ingest", staged_sid, env=env_second)
    assert ingest.returncode == 0, ingest.stderr

    # Again: a no-op that succeeds.
    again = _rewrap(vcfctl, url, env, "--to-kms-key-id", second)
    assert again.returncode == 0, again.stderr
    assert "already under this KMS key" in again.stdout
    assert "rewrap: 0 rewrapped, 0 moved, 1 skipped, 0 failed" in again.stdout
    assert len(_audit(url, "rewrap")) == 2
    # Without a target: re-encrypted under the same KMS key, still readable.
    same = _rewrap(vcfctl, url, env)
    assert same.returncode == 0, same.stderr
    assert "rewrap: 1 rewrapped" in same.stdout and {k[3] for k in _keys(url)} == {second}
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names


def test_rewrap_moves_local_and_env_keys_to_kms(
    cluster: Any, vcfctl: Any, aws: dict[str, str], kms: Any, tmp_path: Path
) -> None:
    target = _new_key(kms, "alias/rw-migrate")
    url = _database(cluster, "rewrap_local")
    home = tmp_path / "home"
    env = {**aws, "VCF_PG_LOADER_HOME": str(home)}
    assert vcfctl("--db", url, "keys", "init", env=env).returncode == 0
    names = ["Local Patient", f"Local {uuid.uuid4().hex[:6]}"]
    ids = _load(vcfctl, url, env, write_vcf(tmp_path / "l.vcf", names, synthetic_records(3, 2)))
    env_key = {**env, "VCF_PG_LOADER_PHI_KEY": PHI_KEY}
    staged = vcfctl(
        "--db",
        url,
        "stage",
        "--format",
        "json",
        str(write_vcf(tmp_path / "e.vcf", ["Env Patient"], synthetic_records(2, 1))),
        env=env_key,
    )
    assert staged.returncode == 0, staged.stderr
    providers = {k[2] for k in _keys(url)}
    assert providers == {"local", "env"}
    listed = vcfctl("--db", url, "keys", "list", "--format", "json", env=env)
    assert {k["provider"]: k["weaker"] for k in json.loads(listed.stdout)} == {
        "local": None,
        "env": "plaintext key in the environment",
    }
    table = vcfctl("--db", url, "keys", "list", env=env)
    assert "env (weaker: plaintext key" in table.stdout  # the cell may wrap

    # Without a target, local and env keys stay, and say why.
    skip = _rewrap(vcfctl, url, env)
    assert skip.returncode == 0, skip.stderr
    assert skip.stdout.count("--to-kms-key-id KEY moves it to KMS") == 2
    assert {k[2] for k in _keys(url)} == {"local", "env"}

    # Without VCF_PG_LOADER_PHI_KEY the env key fails; the local one still moves.
    partial = _rewrap(vcfctl, url, env, "--to-kms-key-id", "alias/rw-migrate", "--format", "json")
    assert partial.returncode == 5
    report = json.loads(partial.stdout)
    assert report["summary"] == {"rewrapped": 0, "moved": 1, "skipped": 0, "failed": 1}
    [failed] = [k for k in report["keys"] if k["action"] == "failed"]
    assert (
        failed["from_provider"] == "env" and "VCF_PG_LOADER_PHI_KEY is not set" in failed["detail"]
    )
    assert "1 of 2 keys could not be rewrapped" in partial.stderr
    assert "Traceback" not in partial.stderr

    done = _rewrap(vcfctl, url, env_key, "--to-kms-key-id", target)
    assert done.returncode == 0, done.stderr
    assert "moved" in done.stdout and "rewrap: 0 rewrapped, 1 moved, 1 skipped" in done.stdout
    assert {(k[2], k[3]) for k in _keys(url)} == {("aws-kms", target)}
    details = [r[3] for r in _audit(url, "rewrap") if r[2]]
    assert sorted(d["from_provider"] for d in details) == ["env", "local"]
    assert all(d["to_provider"] == "aws-kms" and d["to_kek_id"] == target for d in details)

    # The master key file and VCF_PG_LOADER_PHI_KEY are no longer needed.
    (home / "master.key").rename(home / "master.key.gone")
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names
    sid = json.loads(staged.stdout)[0]["session_id"]
    ingest = vcfctl("--db", url, "--kms-key-id", target, "ingest", sid, env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert _rewrap(vcfctl, url, env, "--to-kms-key-id", target).returncode == 0


def test_unknown_target_changes_nothing(
    cluster: Any, vcfctl: Any, aws: dict[str, str], kms: Any, tmp_path: Path
) -> None:
    url = _database(cluster, "rewrap_bad")
    env = {**aws, "VCF_PG_LOADER_HOME": str(tmp_path / "home")}
    _new_key(kms, "alias/rw-bad")
    assert (
        vcfctl("--db", url, "--kms-key-id", "alias/rw-bad", "keys", "init", env=env).returncode == 0
    )
    before = _keys(url)
    result = _rewrap(vcfctl, url, env, "--to-kms-key-id", "alias/does-not-exist")
    assert result.returncode == 5
    assert result.stderr.splitlines()[0] == (
        "vcfctl: error: KMS describe_key (key alias/does-not-exist): KMS key not found"
    )
    unreachable = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    down = _rewrap(vcfctl, url, unreachable)
    assert down.returncode == 5 and "cannot reach the KMS endpoint" in down.stdout
    assert _keys(url) == before and _audit(url, "rewrap") == []


def test_rewrap_key_refuses_stale_and_bad_writes(
    cluster: Any,
    vcfctl: Any,
    aws: dict[str, str],
    kms: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vcf_pg_loader.config import Settings
    from vcf_pg_loader.keys.providers import ProviderSet
    from vcf_pg_loader.keys.rewrap import _rewrap_one

    first, second = _new_key(kms, "alias/rw-cas-1"), _new_key(kms, "alias/rw-cas-2")
    url = _database(cluster, "rewrap_cas")
    env = {**aws, "VCF_PG_LOADER_HOME": str(tmp_path / "home")}
    assert vcfctl("--db", url, "--kms-key-id", first, "keys", "init", env=env).returncode == 0
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    providers = ProviderSet(Settings(home=tmp_path))
    query = (
        "SELECT key_id, purpose, provider, kek_id, wrapped_key, encryption_context, key_check"
        " FROM vcf.data_keys WHERE purpose = 'phi'"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        stale = conn.execute(query).fetchone()
        assert stale is not None
        # Someone else rewraps it between our read and our write.
        assert _rewrap(vcfctl, url, env, "--to-kms-key-id", second).returncode == 0
        current = conn.execute(query).fetchone()
        assert current is not None and current[3] == second
        result = _rewrap_one(conn, providers, None, stale)
        assert result.action == "failed" and "was changed since it was read" in str(result.detail)
        assert conn.execute(query).fetchone() == current

        key_id, old = stale[0], bytes(stale[4])
        args: list[tuple[Any, ...]] = [
            (key_id, hashlib.sha256(old).digest(), first, "aws-kms", old),  # stale sha
            (key_id, hashlib.sha256(bytes(current[4])).digest(), first, "vault", old),
            (key_id, hashlib.sha256(bytes(current[4])).digest(), "", "aws-kms", old),
            (key_id, hashlib.sha256(bytes(current[4])).digest(), first, "aws-kms", b""),
            (uuid.uuid4(), hashlib.sha256(old).digest(), first, "aws-kms", old),
        ]
        codes = []
        for a in args:
            with pytest.raises(psycopg.Error) as err:
                conn.execute("SELECT vcf.rewrap_key(%s, %s, %s, %s, %s)", a)
            codes.append(err.value.diag.sqlstate)
        assert codes == ["VP061", "VP062", "VP062", "VP062", "VP002"]
        assert conn.execute(query).fetchone() == current
        refused = [r for r in _audit(url, "rewrap") if not r[2]]
        assert [r[3]["sqlstate"] for r in refused] == [
            "VP061",
            "VP061",
        ]  # ours, then the direct call
        # A rewrapped key that does not match its check value is never written.
        conn.execute(
            "UPDATE vcf.data_keys SET key_check = '\\x00000000000000000000000000000000'"
            " WHERE key_id = %s",
            (key_id,),
        )
        changed = conn.execute(query).fetchone()
        assert changed is not None
        result = _rewrap_one(conn, providers, None, changed)
        assert result.action == "failed" and "check value differs" in str(result.detail)
        assert conn.execute(query).fetchone() == changed
        # Destroyed keys are not rewrapped.
        conn.execute(
            "UPDATE vcf.data_keys SET state = 'destroyed', wrapped_key = NULL WHERE key_id = %s",
            (key_id,),
        )
        with pytest.raises(psycopg.Error) as err:
            conn.execute(
                "SELECT vcf.rewrap_key(%s, %s, %s, %s, %s)",
                (key_id, hashlib.sha256(old).digest(), first, "aws-kms", old),
            )
        assert err.value.diag.sqlstate == "VP060"
    assert os.environ["AWS_REGION"] == aws["AWS_REGION"]


# ------------------------------------------- a new wrapped form must be proven (VP063)

_REWRAP = "SELECT vcf.rewrap_key(%s, %s, %s, %s, %s)"
_REWRAP_PROVEN = "SELECT vcf.rewrap_key(%s, %s, %s, %s, %s, %b)"


def _phi_row(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT key_id, provider, kek_id, wrapped_key, encryption_context, key_check"
        " FROM vcf.data_keys WHERE purpose = 'phi' AND state = 'active'"
    ).fetchone()
    assert row is not None
    return tuple(row)


def _vp063(conn: psycopg.Connection[Any], sql: str, args: tuple[Any, ...]) -> str:
    with pytest.raises(psycopg.Error) as err, conn.cursor(binary=True) as cur:
        cur.execute(sql, args)
    assert err.value.diag.sqlstate == "VP063", err.value.diag.message_primary
    assert "unchanged" in (err.value.diag.message_hint or "")
    primary = str(err.value.diag.message_primary)
    assert not primary.startswith("plpy")
    return primary


def test_unproven_wrappings_are_refused(
    cluster: Any, vcfctl: Any, aws: dict[str, str], kms: Any, tmp_path: Path
) -> None:
    """No companion (as on RDS): the caller must send the key it unwrapped from the new form.

    Garbage, a valid KMS wrapping of another key and a wrong proof are refused
    (VP063, audited, no key material in the row), the stored wrapping stays and
    the names still read back.
    """
    target = _new_key(kms, "alias/rw-proof")
    url = _database(cluster, "rewrap_proof")
    home = tmp_path / "home"
    env = {**aws, "VCF_PG_LOADER_HOME": str(home)}
    assert vcfctl("--db", url, "keys", "init", env=env).returncode == 0
    names = ["Proof Patient", f"Proof {uuid.uuid4().hex[:6]}"]
    ids = _load(vcfctl, url, env, write_vcf(tmp_path / "p.vcf", names, synthetic_records(3, 2)))
    with psycopg.connect(url, autocommit=True) as conn:
        before = _phi_row(conn)
        key_id, _, _, wrapped, context, _ = before
        real = phi_key(conn, home)
        cas = hashlib.sha256(bytes(wrapped)).digest()
        # a valid KMS wrapping, under the key's own context, of another key
        other = os.urandom(64)
        foreign = kms.encrypt(KeyId=target, Plaintext=other, EncryptionContext=context)
        blob = bytes(foreign["CiphertextBlob"])

        no_proof = _vp063(conn, _REWRAP, (key_id, cas, target, "aws-kms", os.urandom(200)))
        assert "cannot prove the new wrapping" in no_proof
        assert "cannot prove" in _vp063(conn, _REWRAP, (key_id, cas, target, "aws-kms", blob))
        refused = [
            _vp063(conn, _REWRAP_PROVEN, (key_id, cas, target, "aws-kms", blob, other)),
            _vp063(conn, _REWRAP_PROVEN, (key_id, cas, target, "aws-kms", blob, os.urandom(64))),
            _vp063(
                conn, _REWRAP_PROVEN, (key_id, cas, target, "aws-kms", blob, real.material[:32])
            ),
        ]
        assert all("the key given as proof is not this data key" in m for m in refused)
        assert _phi_row(conn) == before

    rows = [r for r in _audit(url, "rewrap") if not r[2]]
    assert len(rows) == 5 and all(r[3]["sqlstate"] == "VP063" for r in rows)
    assert all(r[1] == str(key_id) and r[3]["to_kek_id"] == target for r in rows)
    text = json.dumps([r[3] for r in rows]).encode()
    for secret in (real.material, other):
        assert not any(form in text for form in key_forms(secret))
    # The key is still unlockable: the names read back; and vcfctl still moves it to KMS.
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names
    moved = _rewrap(vcfctl, url, env, "--to-kms-key-id", target)
    assert moved.returncode == 0, moved.stderr
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names
    [done] = [r for r in _audit(url, "rewrap") if r[2]]
    assert done[3]["proof"] == "client" and done[3]["to_kek_id"] == target


def _previous(conn: psycopg.Connection[Any], key_id: Any) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT previous_provider, previous_kek_id, previous_wrapped_key"
        " FROM vcf.data_keys WHERE key_id = %s",
        (key_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_client_proven_rewrap_keeps_the_old_form_for_undo(
    cluster: Any, vcfctl: Any, aws: dict[str, str], tmp_path: Path
) -> None:
    """The limit of a client's proof: a key admin with the real key can swap in garbage. The
    replaced form is kept (and stays the one kept through further rewraps), vcf.rewrap_undo puts
    it back, only the owner may let it go, and destroying the key erases it too."""
    url = _database(cluster, "rewrap_undo")
    home = tmp_path / "home"
    env = {**aws, "VCF_PG_LOADER_HOME": str(home)}
    assert vcfctl("--db", url, "keys", "init", env=env).returncode == 0
    names = ["Undo Patient"]
    ids = _load(vcfctl, url, env, write_vcf(tmp_path / "u.vcf", names, synthetic_records(2, 1)))
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP ROLE IF EXISTS undo_admin")
        c.execute(f"CREATE ROLE undo_admin {LOGIN}")
        c.execute("SELECT vcf.grant_role('vcf_key_admin', 'undo_admin')")
        real = phi_key(c, home)
    admin_url = make_conninfo(url, user="undo_admin")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        original = _phi_row(conn)
        key_id, provider, kek_id, wrapped = original[:4]
        for n in (1, 2):
            current = bytes(_phi_row(conn)[3])
            with conn.cursor(binary=True) as cur:
                cur.execute(
                    _REWRAP_PROVEN,
                    (
                        key_id,
                        hashlib.sha256(current).digest(),
                        f"arn:aws:kms:eu-west-2:000000000000:key/garbage-{n}",
                        "aws-kms",
                        os.urandom(150),
                        real.material,
                    ),
                )
            # the kept form is the original one, not the unproven garbage in between
            assert _previous(conn, key_id) == (provider, kek_id, wrapped)
        broken = _reveal_fails(vcfctl, url, env, ids[0])
        assert broken.returncode != 0
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT vcf._forget_previous_wrapping(%s)", (key_id,))
        assert err.value.diag.sqlstate == "42501"

        conn.execute("SELECT vcf.rewrap_undo(%s)", (key_id,))
        assert _phi_row(conn) == original and _previous(conn, key_id) == (None, None, None)
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT vcf.rewrap_undo(%s)", (key_id,))
        assert err.value.diag.sqlstate == "VP064"
    assert [_reveal(vcfctl, url, env, i) for i in ids] == names
    rewraps = _audit(url, "rewrap")
    assert [(r[2], r[3]["proof"], r[3]["kept_for_undo"]) for r in rewraps] == [
        (True, "client", kek_id),
        (True, "client", kek_id),
    ]
    undo = _audit(url, "rewrap_undo")
    assert [(r[0], r[2]) for r in undo] == [("undo_admin", True), ("undo_admin", False)]
    assert undo[0][3]["to_kek_id"] == kek_id and undo[1][3]["sqlstate"] == "VP064"
    text = json.dumps([r[3] for r in rewraps + undo]).encode()
    assert not any(form in text for form in key_forms(real.material))

    # The owner lets a kept form go; destroying a key erases its kept form too.
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            "UPDATE vcf.data_keys SET previous_provider = provider, previous_kek_id = kek_id,"
            " previous_wrapped_key = wrapped_key, previous_replaced_at = now()"
            " WHERE key_id = %s",
            (key_id,),
        )
        assert c.execute("SELECT vcf._forget_previous_wrapping(%s)", (key_id,)).fetchone() == (
            True,
        )
        assert _previous(c, key_id) == (None, None, None)
        assert c.execute("SELECT vcf._forget_previous_wrapping(%s)", (key_id,)).fetchone() == (
            False,
        )
        assert [r[2] for r in _audit(url, "rewrap_forget")] == [True]
        staged = vcfctl(
            "--db",
            url,
            "stage",
            "--format",
            "json",
            str(write_vcf(tmp_path / "s.vcf", ["Staged"], synthetic_records(2, 1))),
            env=env,
        )
        assert staged.returncode == 0, staged.stderr
        sid = json.loads(staged.stdout)[0]["session_id"]
        staging = c.execute(
            "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (sid,)
        ).fetchone()
        assert staging is not None
        c.execute(
            "UPDATE vcf.data_keys SET previous_provider = provider, previous_kek_id = kek_id,"
            " previous_wrapped_key = wrapped_key, previous_replaced_at = now()"
            " WHERE key_id = %s",
            staging,
        )
        assert vcfctl("--db", url, "ingest", sid, env=env).returncode == 0
        row = c.execute(
            "SELECT state, wrapped_key, previous_wrapped_key, previous_kek_id"
            " FROM vcf.data_keys WHERE key_id = %s",
            staging,
        ).fetchone()
        assert row == ("destroyed", None, None, None)


def _reveal_fails(vcfctl: Any, url: str, env: dict[str, str], sample_id: int) -> Any:
    return vcfctl("--db", url, "samples", "reveal", str(sample_id), "--reason", "t", env=env)
