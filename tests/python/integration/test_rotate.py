"""PHI key rotation and crypto-shredding: vcfctl keys rotate / destroy, vcf.rotate_*.

A rotation killed halfway (the test kills vcfctl while a batch waits on a row
lock) leaves every sample name readable; loading and looking up by name work
while it is half done; resuming finishes it; then no value uses the old key
and destroying it succeeds. These tests use their own cluster: they change
which PHI key is active.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import synthetic_records, write_vcf
from vcf_pg_loader.crypto import seal
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import load_data_key, unlock


@dataclass
class Rig:
    home: Path
    conninfo: str
    tmp: Path
    server_env: dict[str, str]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
        env["VCF_PG_LOADER_HOME"] = str(self.home)
        env.update(self.server_env)
        return env

    def vcfctl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=600,
            **kw,
        )

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, autocommit=True)

    def provider(self) -> LocalMasterKey:
        return LocalMasterKey(self.home / "master.key")

    def load(self, names: list[str], tag: str) -> str:
        path = write_vcf(self.tmp / f"{tag}.vcf", names, synthetic_records(3, len(names)))
        out = self.vcfctl("load", "--format", "json", str(path))
        assert out.returncode == 0, out.stderr
        return str(json.loads(out.stdout)[0]["session_id"])


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, new_server: Any) -> Rig:
    home = tmp_path_factory.mktemp("rotate-home")
    cluster = new_server(home)
    return Rig(
        home, str(cluster.conninfo()), tmp_path_factory.mktemp("rotate-data"), cluster.client_env()
    )


def _status(conn: psycopg.Connection[Any]) -> tuple[Any, Any, int]:
    row = conn.execute(
        "SELECT active_key, retiring_key, remaining FROM vcf.rotate_status()"
    ).fetchone()
    assert row is not None
    return row[0], row[1], int(row[2])


def _ids(conn: psycopg.Connection[Any], session_id: str) -> list[int]:
    rows = conn.execute(
        "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s ORDER BY sample_index",
        (session_id,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _reveal_all(rig: Rig, conn: psycopg.Connection[Any], ids: list[int]) -> list[str]:
    """Every name, in one transaction with the PHI keys in use unlocked (as vcfctl does)."""
    keys = conn.execute(
        "SELECT key_id FROM vcf.data_keys WHERE purpose = 'phi' AND state IN ('active', 'retiring')"
    ).fetchall()
    with conn.transaction():
        for (key_id,) in keys:
            unlock(conn, load_data_key(conn, rig.provider(), uuid.UUID(str(key_id))))
        return [
            str(conn.execute("SELECT vcf.reveal_sample(%s, 'rotation test')", (i,)).fetchone()[0])  # type: ignore[index]
            for i in ids
        ]


def _key_users(conn: psycopg.Connection[Any], key_id: Any) -> int:
    row = conn.execute("SELECT vcf._phi_values_using(%s)", (key_id,)).fetchone()
    assert row is not None
    return int(row[0])


def _wait_no_rotator(conn: psycopg.Connection[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%vcf.rotate_batch%%'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()
        if row is not None and not row[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the killed rotation's backend did not go away")


def test_killed_rotation_stays_readable_resumes_and_the_old_key_is_shredded(rig: Rig) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"Patient {tag} {i:03d} Ü" for i in range(240)]
    first = rig.load(names, "first")
    with rig.connect() as conn:
        ids = _ids(conn, first)
        old_key, retiring, _ = _status(conn)
        assert retiring is None
        total = _key_users(conn, old_key)
        assert total == len(names) + 2  # the names, the header and the source path

        # Hold one sample's row so that the rotation blocks in the middle, then kill it there.
        blocker = rig.connect()
        blocker.execute("BEGIN")
        blocker.execute("SELECT 1 FROM vcf.samples WHERE sample_id = %s FOR UPDATE", (ids[150],))
        proc = subprocess.Popen(
            [sys.executable, "-m", "vcf_pg_loader", "keys", "rotate", "--batch-size", "20"],
            env=rig.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(conn, "rotate_batch")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        _wait_no_rotator(conn)

        new_key, retiring, remaining = _status(conn)
        assert retiring == old_key and new_key != old_key
        assert 0 < remaining < total
        assert _key_users(conn, new_key) == total - remaining == 140
        states = dict(
            conn.execute("SELECT key_id, state FROM vcf.data_keys WHERE purpose = 'phi'").fetchall()
        )
        assert states[old_key] == "retiring" and states[new_key] == "active"

        # Half done: every name reads back, whichever key it is under.
        assert _reveal_all(rig, conn, ids) == names

    # Half done: loading maps known names (moved or not) to their samples, and find works.
    second_names = [names[0], names[200], f"Patient {tag} new"]
    second = rig.load(second_names, "second")
    with rig.connect() as conn:
        second_ids = _ids(conn, second)
        assert second_ids[:2] == [ids[0], ids[200]]
        assert second_ids[2] not in ids
    for name, expected in (
        (names[0], ids[0]),
        (names[200], ids[200]),
        (second_names[2], second_ids[2]),
    ):
        found = rig.vcfctl("samples", "find", "-", input=name + "\n")
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip() == str(expected)

    # The retiring key cannot be destroyed while the rotation is moving its values.
    refused = rig.vcfctl("keys", "destroy", str(old_key), "--yes")
    assert refused.returncode == 5, refused.stderr
    assert "a rotation is moving its values" in refused.stderr

    resumed = rig.vcfctl("keys", "rotate", "--batch-size", "20", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True and summary["retired_key"] == str(old_key)
    assert summary["rotated"] == remaining  # the new names were written under the new key
    with rig.connect() as conn:
        assert _status(conn) == (new_key, None, 0)
        assert _key_users(conn, old_key) == 0
        row = conn.execute(
            "SELECT state, retired_at IS NOT NULL FROM vcf.data_keys WHERE key_id = %s", (old_key,)
        ).fetchone()
        assert row == ("retired", True)
        assert _reveal_all(rig, conn, ids + second_ids[2:]) == names + second_names[2:]
    found = rig.vcfctl("samples", "find", "-", input=names[150] + "\n")
    assert found.stdout.strip() == str(ids[150])

    # The active key cannot be destroyed; the retired one can, once.
    active = rig.vcfctl("keys", "destroy", str(new_key), "--yes")
    assert active.returncode == 5 and "it is the active PHI key" in active.stderr
    destroyed = rig.vcfctl("keys", "destroy", str(old_key), "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert f"destroyed: data key {old_key}" in destroyed.stdout
    again = rig.vcfctl("keys", "destroy", str(old_key), "--yes")
    assert again.returncode == 0 and "already destroyed" in again.stdout
    with rig.connect() as conn:
        row = conn.execute(
            "SELECT state, wrapped_key IS NULL FROM vcf.data_keys WHERE key_id = %s", (old_key,)
        ).fetchone()
        assert row == ("destroyed", True)
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM vcf.audit_log WHERE action IN"
                " ('rotate_begin', 'rotate_batch', 'rotate_finish', 'destroy')"
                " AND (target = %s OR details->>'from_key' = %s) ORDER BY chain_no",
                (str(old_key), str(old_key)),
            ).fetchall()
        ]
        assert actions[0] == "rotate_begin" and actions[-2:] == ["rotate_finish", "destroy"]
        assert actions.count("rotate_batch") >= 8
        refusals = conn.execute(
            "SELECT details->>'sqlstate' FROM vcf.audit_log WHERE action = 'destroy'"
            " AND NOT succeeded AND target IN (%s, %s)",
            (str(old_key), str(new_key)),
        ).fetchall()
        assert sorted(r[0] for r in refusals) == ["VP083", "VP083"]


def test_destroy_is_refused_while_a_value_uses_a_retired_key(rig: Rig) -> None:
    rig.load([f"Lone {uuid.uuid4().hex[:6]}"], "lone")
    with rig.connect() as conn:
        before, _, _ = _status(conn)
        old = load_data_key(conn, rig.provider(), before)
    done = rig.vcfctl("keys", "rotate")
    assert done.returncode == 0, done.stderr
    assert "is retired" in done.stdout
    with rig.connect() as conn:
        session = conn.execute(
            "SELECT session_id FROM vcf.sessions ORDER BY created_at LIMIT 1"
        ).fetchone()
        assert session is not None
        # A value under the retired key, as if restored from a backup taken before the rotation.
        conn.execute(
            "UPDATE vcf.sessions SET header_enc = %s WHERE session_id = %s",
            (seal(old, b"restored", f"vcf.sessions.header:{session[0]}"), session[0]),
        )
        assert _key_users(conn, before) == 1
    refused = rig.vcfctl("keys", "destroy", str(before), "--yes")
    assert refused.returncode == 5
    assert "is still used by 1 stored value(s)" in refused.stderr
    with rig.connect() as conn:
        row = conn.execute(
            "SELECT state FROM vcf.data_keys WHERE key_id = %s", (before,)
        ).fetchone()
        assert row == ("retired",)


def test_destroy_asks_before_it_shreds(rig: Rig) -> None:
    with rig.connect() as conn:
        active, _, _ = _status(conn)
    asked = rig.vcfctl("keys", "destroy", str(active), input="n\n")
    assert asked.returncode != 0 and "Destroy data key" in asked.stderr
    unknown = rig.vcfctl("keys", "destroy", str(uuid.uuid4()), "--yes")
    assert unknown.returncode == 5 and "does not exist" in unknown.stderr
    bad = rig.vcfctl("keys", "destroy", "not-a-uuid", "--yes")
    assert bad.returncode == 2


def test_rotation_functions_refuse_bad_calls(rig: Rig) -> None:
    with rig.connect() as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT * FROM vcf.rotate_batch(0)")
        active, _, _ = _status(conn)
        other = uuid.uuid4()
        with pytest.raises(psycopg.Error) as wrong_context:
            conn.execute(
                "SELECT vcf.rotate_begin(%s, 'local', 'k', '\\x00'::bytea, %s::jsonb, %s)",
                (other, json.dumps({"purpose": "phi", "key_id": str(uuid.uuid4())}), b"\x00" * 16),
            )
        assert wrong_context.value.diag.sqlstate == "VP081"
        # Without a rotation in progress a batch is a no-op that says it is finished.
        row = conn.execute(
            "SELECT from_key, to_key, rotated, finished FROM vcf.rotate_batch(10)"
        ).fetchone()
        assert row == (None, active, 0, True)

    started = rig.vcfctl(
        "load",
        "--format",
        "json",
        str(write_vcf(rig.tmp / "x.vcf", ["X1"], synthetic_records(2, 1))),
    )
    assert started.returncode == 0, started.stderr
    with rig.connect() as conn:
        from vcf_pg_loader.keys.rotation import begin_rotation

        begin_rotation(conn, rig.provider())
        with pytest.raises(psycopg.Error) as twice:
            conn.execute(
                "SELECT vcf.rotate_begin(%s, 'local', 'k', '\\x00'::bytea, %s::jsonb, %s)",
                (other, json.dumps({"purpose": "phi", "key_id": str(other)}), b"\x00" * 16),
            )
        assert twice.value.diag.sqlstate == "VP080"
        with pytest.raises(psycopg.Error) as locked:
            conn.execute("SELECT * FROM vcf.rotate_batch(10)")
        assert locked.value.diag.sqlstate == "VP004"
    finish = rig.vcfctl("keys", "rotate")
    assert finish.returncode == 0 and "resuming rotation" in finish.stderr


def test_a_rotation_waits_for_an_ingest_under_the_old_key(rig: Rig) -> None:
    """An ingest holds the active key: a rotation begins only after it commits, so no
    value is ever written under a key that is already retiring."""
    import threading

    from vcf_pg_loader.keys.rotation import begin_rotation, rotate
    from vcf_pg_loader.staging import stage_file

    path = write_vcf(
        rig.tmp / "race.vcf", [f"Race {uuid.uuid4().hex[:6]}"], synthetic_records(3, 1)
    )
    with rig.connect() as loader, rig.connect() as watcher:
        staged = stage_file(loader, rig.provider(), path)
        old, _, _ = _status(loader)
        staging_id = loader.execute(
            "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (staged.session_id,)
        ).fetchone()
        assert staging_id is not None
        loader.execute("BEGIN")
        for key_id, expect in (
            (staging_id[0], {"session_id": str(staged.session_id)}),
            (old, None),
        ):
            unlock(loader, load_data_key(loader, rig.provider(), key_id, expect))
        loader.execute("SELECT * FROM vcf.vcf_ingest(%s)", (staged.session_id,))
        began: list[Any] = []

        def rotate_now() -> None:
            with rig.connect() as admin:
                began.append(begin_rotation(admin, rig.provider()))

        rotator = threading.Thread(target=rotate_now)
        rotator.start()
        _wait_for(watcher, "rotate_begin")
        assert not began  # still waiting for the ingest
        loader.execute("COMMIT")
        rotator.join(timeout=60)
        assert began and began[0].retiring_key == old
        rotate(watcher, rig.provider(), 50)
        assert _key_users(watcher, old) == 0
        assert _reveal_all(rig, watcher, _ids(watcher, str(staged.session_id)))[0].startswith(
            "Race"
        )


def _wait_for(conn: psycopg.Connection[Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            (f"%{what}%",),
        ).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing waited on a lock in {what}")


def test_a_tampered_value_stops_the_rotation_and_it_resumes_once_restored(rig: Rig) -> None:
    rig.load([f"Tamper {uuid.uuid4().hex[:6]}"], "tamper")
    with rig.connect() as conn:
        from vcf_pg_loader.keys.rotation import begin_rotation

        begin_rotation(conn, rig.provider())
        target = conn.execute(
            "SELECT sample_id, name_enc FROM vcf.samples ORDER BY sample_id LIMIT 1"
        ).fetchone()
        assert target is not None
        original = bytes(target[1])
        flipped = original[:-1] + bytes([original[-1] ^ 1])
        conn.execute(
            "UPDATE vcf.samples SET name_enc = %s WHERE sample_id = %s", (flipped, target[0])
        )
    stopped = rig.vcfctl("keys", "rotate")
    assert stopped.returncode == 6, stopped.stderr
    assert f"the name of sample {target[0]} does not decrypt" in stopped.stderr
    with rig.connect() as conn:
        _, retiring, remaining = _status(conn)
        assert retiring is not None and remaining > 0
        conn.execute(
            "UPDATE vcf.samples SET name_enc = %s WHERE sample_id = %s", (original, target[0])
        )
    resumed = rig.vcfctl("keys", "rotate")
    assert resumed.returncode == 0, resumed.stderr
    with rig.connect() as conn:
        assert _status(conn)[1:] == (None, 0)
