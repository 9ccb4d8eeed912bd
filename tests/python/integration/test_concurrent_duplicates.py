"""The same content loaded twice at once is written once (issue 9, item 8).

Content identity is a unique index (vcf.sessions_one_ingested_per_content),
so whatever the timing exactly one session ends 'ingested', its rows are
there once, and the other is refused with VP050 naming the winner, which
vcfctl reports as already_loaded (and purges the losing session).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import phi_key, staging_key, synthetic_records, write_vcf
from vcf_pg_loader.errors import AlreadyLoaded
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import StageResult, stage_file


@pytest.fixture
def provider(home: Path) -> LocalMasterKey:
    return LocalMasterKey(home / "master.key")


def _file(tmp_path: Path, records: int = 200, samples: int = 2) -> tuple[Path, str]:
    tag = uuid.uuid4().hex[:10]
    names = [f"DUP-{tag}-{i}" for i in range(samples)]
    path = write_vcf(
        tmp_path / f"dup-{tag}.vcf",
        names,
        # far from the positions other tests query (docs/queries.md's region)
        synthetic_records(records, samples, start=50_000_000),
        header_extra=f"##source=dup-{tag}",
    )
    return path, tag


def _sessions(conn: psycopg.Connection[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = conn.execute(
        "SELECT session_id, state FROM vcf.sessions WHERE session_id = ANY(%s)", (ids,)
    ).fetchall()
    return {uuid.UUID(str(r[0])): str(r[1]) for r in rows}


def _check_written_once(
    conn: psycopg.Connection[Any], sha: bytes, records: int, samples: int
) -> uuid.UUID:
    """Exactly one ingested session holds the content, with its rows once; the chain verifies."""
    rows = conn.execute(
        "SELECT session_id FROM vcf.sessions WHERE content_sha256 = %s AND state = 'ingested'",
        (sha,),
    ).fetchall()
    assert len(rows) == 1, rows
    winner = uuid.UUID(str(rows[0][0]))
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM vcf.records r JOIN vcf.sessions s USING (session_id)"
        "        WHERE s.content_sha256 = %s),"
        "       (SELECT count(*) FROM vcf.session_samples x JOIN vcf.sessions s USING (session_id)"
        "        WHERE s.content_sha256 = %s)",
        (sha, sha),
    ).fetchone()
    assert counts == (records, samples)
    assert conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone() == (True, None)
    return winner


def _sha(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> bytes:
    row = conn.execute(
        "SELECT content_sha256 FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    return bytes(row[0])


def _loser_is_shredded(conn: psycopg.Connection[Any], session_id: uuid.UUID) -> None:
    row = conn.execute(
        "SELECT s.state, k.state,"
        " (SELECT count(*) FROM vcf.staged_blocks b WHERE b.session_id = s.session_id)"
        " FROM vcf.sessions s JOIN vcf.data_keys k ON k.key_id = s.staging_key_id"
        " WHERE s.session_id = %s",
        (session_id,),
    ).fetchone()
    assert row == ("purged", "destroyed", 0)


@pytest.mark.parametrize("first", [0, 1])
def test_both_staged_then_ingested_in_either_order(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, tmp_path: Path, first: int
) -> None:
    path, _ = _file(tmp_path)
    staged = [stage_file(conn, provider, path), stage_file(conn, provider, path)]
    assert _sessions(conn, [s.session_id for s in staged]) == {
        s.session_id: "staged" for s in staged
    }, "stage_finish sees nothing ingested yet: both are staged"
    winner, loser = staged[first], staged[1 - first]

    done = ingest_session(conn, provider, winner.session_id)
    assert done.state == "ingested"
    with pytest.raises(AlreadyLoaded) as caught:
        ingest_session(conn, provider, loser.session_id)
    assert caught.value.session_id == str(winner.session_id)

    assert _check_written_once(conn, _sha(conn, winner.session_id), 200, 2) == winner.session_id
    _loser_is_shredded(conn, loser.session_id)
    row = conn.execute(
        "SELECT details->>'sqlstate', details->>'error' FROM vcf.audit_log"
        " WHERE action = 'ingest' AND target = %s AND NOT succeeded",
        (str(loser.session_id),),
    ).fetchone()
    assert row == ("VP050", f"this content is already loaded as session {winner.session_id}")


def _other_is_blocked_or_done(
    admin: psycopg.Connection[Any], pid: int, done: threading.Event
) -> bool:
    if done.is_set():
        return True
    row = admin.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.parametrize("run", [1, 2, 3])
def test_overlapping_ingests_behind_a_barrier(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
    run: int,
) -> None:
    """Both ingests start together; each one that finishes keeps its transaction
    open until the other is blocked on a lock (or done), so they really overlap:
    the second is decided by the unique index, not by the early check."""
    path, _ = _file(tmp_path, records=400)
    staged: list[StageResult] = [stage_file(conn, provider, path) for _ in range(2)]
    keys = [staging_key(conn, home, s.session_id) for s in staged]
    phi = phi_key(conn, home)
    clients = [psycopg.connect(conninfo) for _ in range(2)]
    pids = [c.info.backend_pid for c in clients]
    barrier = threading.Barrier(2, timeout=30)
    finished = [threading.Event(), threading.Event()]
    outcome: list[Any] = [None, None]
    held_open = [False, False]

    def run_one(i: int) -> None:
        client = clients[i]
        try:
            unlock(client, keys[i])
            unlock(client, phi)
            barrier.wait()
            row = client.execute(
                "SELECT state FROM vcf.vcf_ingest(%s)", (staged[i].session_id,)
            ).fetchone()
            with psycopg.connect(conninfo, autocommit=True) as admin:
                deadline = time.monotonic() + 60
                while not _other_is_blocked_or_done(admin, pids[1 - i], finished[1 - i]):
                    assert time.monotonic() < deadline, "the other ingest never blocked"
                    time.sleep(0.02)
                held_open[i] = not finished[1 - i].is_set()
            client.commit()
            outcome[i] = row
        except psycopg.Error as exc:
            client.rollback()
            outcome[i] = exc
        finally:
            finished[i].set()

    threads = [threading.Thread(target=run_one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        c.close()

    won = [i for i in range(2) if outcome[i] == ("ingested",)]
    assert len(won) == 1, outcome
    w, lose = won[0], 1 - won[0]
    assert held_open[w], "the winner's transaction was open while the other waited"
    error = outcome[lose]
    assert isinstance(error, psycopg.Error), outcome
    assert error.diag.sqlstate == "VP050", error.diag.message_primary
    assert error.diag.message_detail == str(staged[w].session_id)
    assert _check_written_once(conn, _sha(conn, staged[w].session_id), 400, 2) == (
        staged[w].session_id
    )
    assert _sessions(conn, [staged[lose].session_id]) == {staged[lose].session_id: "staged"}
    conn.execute("SELECT vcf.session_purge(%s)", (staged[lose].session_id,))


def test_overlapping_reloads_one_wins(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
) -> None:
    """Two reloads of one ingested session: the second is refused (VP050), not applied twice."""
    path, _ = _file(tmp_path)
    first = stage_file(conn, provider, path)
    ingest_session(conn, provider, first.session_id)
    reloads = [stage_file(conn, provider, path, reload=True) for _ in range(2)]
    keys = [staging_key(conn, home, s.session_id) for s in reloads]
    phi = phi_key(conn, home)
    with psycopg.connect(conninfo) as a, psycopg.connect(conninfo) as b:
        for client, key in zip((a, b), keys, strict=True):
            unlock(client, key)
            unlock(client, phi)
        a.execute("SELECT * FROM vcf.vcf_ingest(%s)", (reloads[0].session_id,)).fetchall()
        result: list[Any] = []

        def second() -> None:
            try:
                b.execute("SELECT * FROM vcf.vcf_ingest(%s)", (reloads[1].session_id,))
                result.append(None)
            except psycopg.Error as exc:
                result.append(exc)
            b.rollback()

        t = threading.Thread(target=second)
        t.start()
        with psycopg.connect(conninfo, autocommit=True) as admin:
            deadline = time.monotonic() + 60
            while not _other_is_blocked_or_done(admin, b.info.backend_pid, threading.Event()):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        a.commit()
        t.join(timeout=60)
    [error] = result
    assert isinstance(error, psycopg.Error)
    assert error.diag.sqlstate == "VP050" and error.diag.message_detail == str(
        reloads[0].session_id
    )
    sha = _sha(conn, first.session_id)
    assert _check_written_once(conn, sha, 200, 2) == reloads[0].session_id
    assert _sessions(conn, [first.session_id]) == {first.session_id: "replaced"}
    conn.execute("SELECT vcf.session_purge(%s)", (reloads[1].session_id,))


@pytest.mark.parametrize("run", [1, 2])
def test_two_vcfctl_loads_started_at_once(
    home: Path, cluster: Any, conn: psycopg.Connection[Any], tmp_path: Path, run: int
) -> None:
    """Two processes, no coordination: the file is large enough (30,000 records,
    about 3 s here) that both stage before either ingest commits, so the loser
    is decided at ingest (before the fix both ingested, in every run)."""
    path, _ = _file(tmp_path, records=30_000, samples=3)
    copy = tmp_path / "same-content-other-name.vcf"
    copy.write_bytes(path.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    env.update(cluster.client_env())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vcf_pg_loader", "load", "--format", "json", str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for p in (path, copy)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [json.loads(out)[0] for out, _ in outputs]
    states = sorted(r["state"] for r in results)
    assert states == ["already_loaded", "ingested"], results
    winner = next(r for r in results if r["state"] == "ingested")
    loser = next(r for r in results if r["state"] == "already_loaded")
    assert loser["session_id"] == winner["session_id"]
    sha = _sha(conn, uuid.UUID(winner["session_id"]))
    assert _check_written_once(conn, sha, 30_000, 3) == uuid.UUID(winner["session_id"])
    left = conn.execute(
        "SELECT count(*) FROM vcf.sessions WHERE content_sha256 = %s"
        " AND state IN ('staging', 'staged')",
        (sha,),
    ).fetchone()
    assert left == (0,), "the loser left no staged session behind"
