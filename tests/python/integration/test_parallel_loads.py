"""Parallel loads: ingests of files that share variants and samples do not
wait on each other, cannot deadlock, write no duplicate (issue 11, item 3).

With vcf_pg_loader.ingest_concurrent on (vcfctl load --jobs), an ingest
commits the rows it shares with other files apart (vcf._share_variants,
vcf._share_samples, through the audit loopback). Without it, a second
ingest waits on the first one's uncommitted variants until the first
commits, and two multi-block files adding the same variants in opposite
orders deadlock: the controls below show both, so that the tests of the
concurrent mode would fail if it stopped working.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import phi_key, staging_key, write_vcf
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import StageResult, stage_file

GT = ["0/0", "0/1", "1/1", "0|1", "./."]
_FRESH = itertools.count(9_100_000, 10_000)


@pytest.fixture
def provider(home: Path) -> LocalMasterKey:
    return LocalMasterKey(home / "master.key")


def _records(chrom: str, start: int, n: int, samples: int, tag: int) -> list[str]:
    """n biallelic records; the same (chrom, start, n) gives the same variants,
    tag varies the rest of the line so that the content differs."""
    out = []
    for i in range(n):
        calls = "\t".join(GT[(i + s + tag) % len(GT)] for s in range(samples))
        out.append(f"{chrom}\t{start + i * 7}\t.\tC\tT\t{tag + 1}\tPASS\tDP={i % 50}\tGT\t{calls}")
    return out


def _cohort(tmp_path: Path, parts: list[list[str]], samples: list[str]) -> list[Path]:
    tag = uuid.uuid4().hex[:8]
    return [
        write_vcf(tmp_path / f"par-{tag}-{i}.vcf", samples, lines, header_extra=f"##par={tag}-{i}")
        for i, lines in enumerate(parts)
    ]


def _names(n: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"PAR-{tag}-{i}" for i in range(n)]


def _unlocked_client(
    conninfo: str, conn: psycopg.Connection[Any], home: Path, staged: StageResult, concurrent: bool
) -> psycopg.Connection[Any]:
    client = psycopg.connect(conninfo)
    unlock(client, staging_key(conn, home, staged.session_id))
    unlock(client, phi_key(conn, home))
    client.execute(f"SET vcf_pg_loader.ingest_concurrent = {'on' if concurrent else 'off'}")
    return client


def _ingest(client: psycopg.Connection[Any], staged: StageResult, engine: str) -> Any:
    row = client.execute(
        "SELECT state FROM vcf.vcf_ingest(%s, engine => %s)", (staged.session_id, engine)
    ).fetchone()
    return row[0] if row else None


def _no_duplicate_variants(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT count(*), count(DISTINCT (chrom, pos, ref, alt)) FROM vcf.variants"
    ).fetchone()
    assert row is not None and row[0] == row[1]


def _shared(conn: psycopg.Connection[Any], a: uuid.UUID, b: uuid.UUID) -> tuple[int, int]:
    """(variants both sessions' records use, samples both sessions name)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM (SELECT variant_id FROM vcf.records"
        "        WHERE session_id = %s INTERSECT"
        "        SELECT variant_id FROM vcf.records WHERE session_id = %s) v),"
        "       (SELECT count(*) FROM (SELECT sample_id FROM vcf.session_samples"
        "        WHERE session_id = %s INTERSECT"
        "        SELECT sample_id FROM vcf.session_samples WHERE session_id = %s) s)",
        (a, b, a, b),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.parametrize("shares", ["variants", "samples"])
@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent", "control"])
def test_an_ingest_does_not_wait_for_another_to_commit(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
    engines: list[str],
    concurrent: bool,
    shares: str,
) -> None:
    """A's ingest is done but not committed; B adds the same new variants (or
    names the same new samples): B finishes under a lock_timeout (control:
    B times out, waiting for A)."""
    for engine in engines:
        start = next(_FRESH)  # variants no earlier run committed
        names = _names(3)
        lines = [_records("chr7", start, 300, 3, tag) for tag in (0, 1)]
        if shares == "samples":
            lines[1] = _records("chr7", start + 5_000, 300, 3, 1)
            paths = _cohort(tmp_path, lines, names)
        else:
            paths = _cohort(tmp_path, lines[:1], names) + _cohort(tmp_path, lines[1:], _names(3))
        staged = [stage_file(conn, provider, p) for p in paths]
        a, b = (_unlocked_client(conninfo, conn, home, s, concurrent) for s in staged)
        try:
            assert _ingest(a, staged[0], engine) == "ingested"  # open, not committed
            b.execute("SET lock_timeout = '3s'")
            if not concurrent:
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    _ingest(b, staged[1], engine)
                b.rollback()
                a.rollback()
                for s in staged:
                    conn.execute("SELECT vcf.session_purge(%s)", (s.session_id,))
                continue
            assert _ingest(b, staged[1], engine) == "ingested"
            b.commit()
            a.commit()
        finally:
            a.close()
            b.close()
        expected = (300, 0) if shares == "variants" else (0, 3)
        assert _shared(conn, staged[0].session_id, staged[1].session_id) == expected
        _no_duplicate_variants(conn)
        assert conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone() == (True, None)


@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent", "control"])
def test_opposite_orders_do_not_deadlock(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
    engines: list[str],
    concurrent: bool,
) -> None:
    """A adds chr8's variants then chr9's, B chr9's then chr8's, in blocks of
    their own, both at once; each holds its first block's rows while it
    wants the other's. Concurrent: both load. Control: a deadlock (40P01)."""
    engine = engines[0]
    names = _names(2)
    first, second = (
        # new variants in each run: committed ones are no lock to wait on
        _records("chr8", 7_300_000 + 100_000 * concurrent, 3000, 2, 0),
        _records("chr9", 7_300_000 + 100_000 * concurrent, 3000, 2, 0),
    )
    # different samples: shared ones would make B wait at its header, before
    # it holds anything (the first test covers them)
    paths = _cohort(tmp_path, [first + second], names) + _cohort(
        tmp_path, [second + first], _names(2)
    )
    # small blocks (about 60 lines): each ingest is still in its first
    # chromosome's blocks when the other starts, whatever the timing
    staged = [stage_file(conn, provider, p, block_bytes=4096) for p in paths]
    clients = [_unlocked_client(conninfo, conn, home, s, concurrent) for s in staged]
    barrier = threading.Barrier(2, timeout=30)
    outcome: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            outcome[i] = _ingest(clients[i], staged[i], engine)
            # hold the transaction until the other is done or waiting
            barrier.wait()
            clients[i].commit()
        except psycopg.Error as exc:
            outcome[i] = exc
            clients[i].rollback()
            barrier.abort()
        except threading.BrokenBarrierError:
            clients[i].commit()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for c in clients:
        c.close()
    if concurrent:
        assert outcome == ["ingested", "ingested"], outcome
        assert _shared(conn, staged[0].session_id, staged[1].session_id) == (6000, 0)
    else:
        errors = [o for o in outcome if isinstance(o, psycopg.Error)]
        assert [e.diag.sqlstate for e in errors] == ["40P01"], outcome
    _no_duplicate_variants(conn)
    assert conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone() == (True, None)
    for s in staged:
        conn.execute(
            "SELECT vcf.session_purge(session_id) FROM vcf.sessions"
            " WHERE session_id = %s AND state <> 'ingested'",
            (s.session_id,),
        )


def test_concurrent_needs_read_committed(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
) -> None:
    """Rows committed apart are invisible to a REPEATABLE READ snapshot: refused
    up front (VP052), audited, nothing written."""
    [path] = _cohort(tmp_path, [_records("chr7", 9_400_000, 20, 1, 0)], _names(1))
    staged = stage_file(conn, provider, path)
    before = conn.execute("SELECT count(*) FROM vcf.variants").fetchone()
    with psycopg.connect(conninfo) as client:
        client.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        unlock(client, staging_key(conn, home, staged.session_id))
        unlock(client, phi_key(conn, home))
        client.execute("SET LOCAL vcf_pg_loader.ingest_concurrent = on")
        with pytest.raises(psycopg.Error) as caught:
            client.execute("SELECT * FROM vcf.vcf_ingest(%s)", (staged.session_id,))
        assert caught.value.diag.sqlstate == "VP052"
        assert "REPEATABLE READ" in (caught.value.diag.message_primary or "")
        client.rollback()
    assert conn.execute("SELECT count(*) FROM vcf.variants").fetchone() == before
    row = conn.execute(
        "SELECT details->>'sqlstate' FROM vcf.audit_log WHERE action = 'ingest'"
        " AND target = %s AND NOT succeeded",
        (str(staged.session_id),),
    ).fetchone()
    assert row == ("VP052",)
    conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))


def test_a_failed_concurrent_ingest_keeps_only_shared_rows(
    conninfo: str,
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    home: Path,
    tmp_path: Path,
    engines: list[str],
) -> None:
    """What docs/architecture.md promises for a failure: the variants of the
    blocks before the bad line and the new samples stay (committed apart,
    used by nothing); nothing of the session; the failure is audited."""
    for engine in engines:
        names = _names(2)
        good = _records("chr10", 4_400_000, 300, 2, 0)
        bad = "chr10\t4500000\t.\tA\tG\tnot-a-qual\tPASS\t.\tGT\t0/1\t0/1"
        [path] = _cohort(tmp_path, [[*good, bad]], names)
        staged = stage_file(conn, provider, path, block_bytes=4096)
        with _unlocked_client(conninfo, conn, home, staged, True) as client:
            with pytest.raises(psycopg.Error) as caught:
                _ingest(client, staged, engine)
            assert caught.value.diag.sqlstate == "VP040"
            client.rollback()
        kept = conn.execute(
            "SELECT count(*) FROM vcf.variants WHERE chrom = 'chr10'"
            " AND pos BETWEEN 4400000 AND 4400000 + 7 * 299"
            " AND NOT EXISTS (SELECT 1 FROM vcf.records r WHERE r.variant_id = variants.variant_id)"
        ).fetchone()
        assert kept is not None and 0 < kept[0] <= 300
        written = conn.execute(
            "SELECT (SELECT count(*) FROM vcf.records WHERE session_id = %(s)s)"
            "     + (SELECT count(*) FROM vcf.session_samples WHERE session_id = %(s)s)",
            {"s": staged.session_id},
        ).fetchone()
        assert written == (0,)
        row = conn.execute(
            "SELECT details->>'sqlstate' FROM vcf.audit_log WHERE action = 'ingest'"
            " AND target = %s AND NOT succeeded",
            (str(staged.session_id),),
        ).fetchone()
        assert row == ("VP040",)
        conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))


def test_vcfctl_load_jobs(vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    """One file per chromosome with the same samples, plus a copy of one and
    a broken file: --jobs 3 loads each valid file once, reports them in the
    order given, the broken one as failed (exit 3), the copy as already
    loaded; no duplicate variant, the audit chain verifies."""
    names = _names(4)
    paths = _cohort(
        tmp_path,
        [_records(f"chr{c}", 2_000_000, 500, 4, c) for c in (11, 12, 13)]
        + [_records("chr11", 2_000_000, 500, 4, 99)],  # chr11's variants again
        names,
    )
    broken = tmp_path / "broken.vcf"
    broken.write_text(paths[0].read_text().replace("\tC\tT\t12\t", "\tC\tT\tnot-a-qual\t", 1))
    copy = tmp_path / "copy.vcf"
    copy.write_bytes(paths[1].read_bytes())
    order = [*paths, broken, copy]
    result = vcfctl("load", "--jobs", "3", "--format", "json", *map(str, order), check=False)
    assert result.returncode == 3, result.stderr
    entries = json.loads(result.stdout)
    assert [e["file"] for e in entries] == [str(p) for p in order]
    states = [e["state"] for e in entries]
    assert [states[i] for i in (0, 2, 3, 4)] == ["ingested", "ingested", "ingested", "failed"]
    # the copy and its original load at the same time: one of them wins
    assert sorted([states[1], states[5]]) == ["already_loaded", "ingested"]
    assert entries[1]["session_id"] == entries[5]["session_id"]
    ids = [uuid.UUID(e["session_id"]) for e in entries[:4]]
    assert _shared(conn, ids[0], ids[3]) == (500, 4)
    assert _shared(conn, ids[1], ids[2]) == (0, 4)
    _no_duplicate_variants(conn)
    assert conn.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone() == (True, None)
