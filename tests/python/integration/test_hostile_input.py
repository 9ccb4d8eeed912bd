"""Hostile input is bounded: limits refuse in one line naming file and line, memory stays bounded.

Issue 9 item 7. Each limit (docs/architecture.md, "Limits") refuses with exit
3 and nothing staged, and its flag raises it. What only the database can hold
(ALT alleles per line, CHROM length) is enforced by both engines with VP040,
whatever a client stages. 100,000 samples load with both engines.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import phi_key, staging_key, synthetic_records, table_counts, write_vcf
from vcf_pg_loader import vcf_source
from vcf_pg_loader.errors import EXIT_BAD_INPUT
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import stage_file

MIB = 1 << 20
HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tMRN-0042\n"
)

ENGINES = ["plpgsql", pytest.param("plpython", marks=pytest.mark.plpython)]


def one_line_bomb(path: Path, prefix: bytes, mib: int) -> Path:
    """A gzip file whose line after prefix is mib MiB of 'A', written streaming (~1 KiB per MiB)."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    chunk = b"A" * MIB
    with open(path, "wb") as fh:
        fh.write(z.compress(prefix))
        for _ in range(mib):
            fh.write(z.compress(chunk))
        fh.write(z.compress(b"\n"))
        fh.write(z.flush())
    return path


def run_measured(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, int]:
    """vcfctl in a subprocess: exit status, stderr, its own peak RSS in MiB."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    full_env["VCF_PG_LOADER_HOME"] = str(home)
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcf_pg_loader", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=full_env,
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, usage.ru_maxrss // 1024


def assert_refused(
    result: subprocess.CompletedProcess[str], path: Path, message: str, flag: str
) -> None:
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"vcfctl: error: {path}: line "), lines[0]
    assert message in lines[0] and flag in lines[0], lines[0]
    assert "MRN-0042" not in result.stderr and "Traceback" not in result.stderr


def long_line_vcf(tmp: Path, length: int, *, compress: bool) -> Path:
    fixed = "chr1\t7\t.\tA\tG\t.\t.\t"
    info = "X=" + "A" * (length - len(fixed) - 2 - len("\tGT\t0/1"))
    line = f"{fixed}{info}\tGT\t0/1"
    assert len(line) == length
    return write_vcf(
        tmp / ("long.vcf.gz" if compress else "long.vcf"),
        ["MRN-0042"],
        [*synthetic_records(3, 1), line],
        compress=compress,
    )


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("command", ["stage", "load"])
def test_line_over_the_limit_is_refused_then_admitted_by_the_flag(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path, command: str, compress: bool
) -> None:
    path = long_line_vcf(tmp_path, 2 * MIB + 1, compress=compress)
    before = table_counts(conn)
    result = vcfctl(command, "--reload", "--max-line-bytes", "2MiB", str(path))
    assert_refused(result, path, "line 8: longer than the limit of 2 MiB", "--max-line-bytes")
    assert table_counts(conn) == before
    result = vcfctl(command, "--reload", "--format", "json", "--max-line-bytes", "3MiB", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["records"] == 4


def test_the_limits_have_environment_variables(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = long_line_vcf(tmp_path, MIB + 1, compress=False)
    before = table_counts(conn)
    result = vcfctl("stage", str(path), env={"VCF_PG_LOADER_MAX_LINE_BYTES": "1048576"})
    assert_refused(result, path, "longer than the limit of 1 MiB", "--max-line-bytes")
    assert table_counts(conn) == before
    result = vcfctl("stage", str(path), env={"VCF_PG_LOADER_MAX_LINE_BYTES": "x"})
    assert result.returncode == 2 and "not a positive byte count" in result.stderr


@pytest.mark.parametrize("where", ["data", "header"])
def test_one_line_gzip_bomb_is_refused_with_bounded_memory(
    home: Path, cluster: Any, conn: psycopg.Connection[Any], tmp_path: Path, where: str
) -> None:
    """Default limits: 512 MiB of one line (about 500 KiB compressed) stops at 64 MiB."""
    prefix = (
        HEADER.encode() + b"chr1\t1\t.\tA\tG\t.\t.\tX="
        if where == "data"
        else b"##fileformat=VCFv4.2\n##bomb="
    )
    path = one_line_bomb(tmp_path / "bomb.vcf.gz", prefix, 512)
    assert path.stat().st_size < 2 * MIB
    before = table_counts(conn)
    code, err, rss = run_measured(home, "load", str(path), env=cluster.client_env())
    assert code == EXIT_BAD_INPUT, err
    line = 4 if where == "data" else 2
    assert f"{path}: line {line}: longer than the limit of 64 MiB" in err
    assert len(err.strip().splitlines()) == 1
    print(f"vcfctl peak RSS {rss} MiB")
    assert rss < 512, f"vcfctl peaked at {rss} MiB"
    assert table_counts(conn) == before


def test_many_line_bomb_over_the_decompressed_limit(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = tmp_path / "many.vcf.gz"
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    line = b"chr1\t1\t.\tA\tG\t.\t.\tX=" + b"A" * 1000 + b"\tGT\t0/1\n"
    with open(path, "wb") as fh:
        fh.write(z.compress(HEADER.encode()))
        for _ in range(40_000):  # 40 MB decompressed
            fh.write(z.compress(line))
        fh.write(z.flush())
    before = table_counts(conn)
    result = vcfctl("load", "--max-decompressed-bytes", "16MiB", str(path))
    assert_refused(
        result,
        path,
        "the content (decompressed) is larger than the limit of 16 MiB",
        "--max-decompressed-bytes",
    )
    assert table_counts(conn) == before
    # ratio guard: past 64 MiB only, so this 40 MB file is not judged by it
    result = vcfctl("stage", "--max-ratio", "2", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    sid = json.loads(result.stdout)[0]["session_id"]
    assert vcfctl("sessions", "purge", sid).returncode == 0


def test_too_many_samples(vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    """The default (500,000) refuses 500,001 sample columns before htslib parses them."""
    names = [f"MRN-{i}" for i in range(500_001)]
    path = write_vcf(tmp_path / "wide.vcf", names, [])
    before = table_counts(conn)
    result = vcfctl("load", str(path))
    assert_refused(
        result, path, "line 4: 500001 samples, more than the limit of 500000", "--max-samples"
    )
    small = write_vcf(tmp_path / "small.vcf", names[:3], synthetic_records(2, 3))
    result = vcfctl("load", "--reload", "--max-samples", "2", str(small))
    assert_refused(result, small, "3 samples, more than the limit of 2", "--max-samples")
    assert table_counts(conn) == before
    result = vcfctl("load", "--reload", "--max-samples", "3", str(small))
    assert result.returncode == 0, result.stderr


def _stage_unchecked(
    conn: psycopg.Connection[Any], home: Path, path: Path, monkeypatch: pytest.MonkeyPatch
) -> uuid.UUID:
    """Stage as a hostile client could: without vcfctl's own ALT and CHROM checks."""
    monkeypatch.setattr(vcf_source, "MAX_ALT_ALLELES", 10**9)
    monkeypatch.setattr(vcf_source, "MAX_CHROM_BYTES", 10**9)
    staged = stage_file(conn, LocalMasterKey(home / "master.key"), path, reload=True)
    return staged.session_id


def _ingest_error(
    conn: psycopg.Connection[Any], home: Path, sid: uuid.UUID, engine: str
) -> psycopg.Error:
    conn.execute("BEGIN")
    try:
        unlock(conn, staging_key(conn, home, sid))
        unlock(conn, phi_key(conn, home))
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT * FROM vcf.vcf_ingest(%s, engine => %s)", (sid, engine))
    finally:
        conn.execute("ROLLBACK")
    return err.value


def _random_chrom(n: int) -> str:
    rng = random.Random(7)
    return "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n)
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "chr1\t5\t.\tA\t" + ",".join(["C"] * 32768) + "\t.\t.\t.\tGT\t0/1",
            "more than 32767 ALT alleles",
        ),
        (_random_chrom(3000) + "\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1", "CHROM is longer than 1000 bytes"),
        (_random_chrom(1001) + "\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1", "CHROM is longer than 1000 bytes"),
    ],
    ids=["alts", "chrom3000", "chrom1001"],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_database_refuses_what_its_tables_cannot_hold(
    conn: psycopg.Connection[Any],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vcfctl: Any,
    line: str,
    reason: str,
    engine: str,
) -> None:
    """VP040 naming the line from either engine, not 'smallint out of range' or 'index row'."""
    path = write_vcf(tmp_path / "x.vcf", ["MRN-0042"], [*synthetic_records(2, 1), line])
    sid = _stage_unchecked(conn, home, path, monkeypatch)
    err = _ingest_error(conn, home, sid, engine)
    assert err.diag.sqlstate == "VP040", err.diag.message_primary
    assert err.diag.message_primary == f"session {sid}: line 7: {reason}"
    conn.execute("SELECT vcf.session_purge(%s)", (sid,))
    monkeypatch.undo()
    # vcfctl refuses it first, with the same words
    result = vcfctl("load", "--reload", "--engine", engine, str(path))
    assert_refused(result, path, f"line 7: {reason}", "")


def test_chrom_at_the_limit_loads(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path, engines: list[str]
) -> None:
    """1000 bytes of CHROM (multi-byte UTF-8 counted in bytes) load with both engines.

    (32767 ALT alleles load too, but a line with K alleles writes K records
    rows each holding the K-element ALT list: about 30 s per engine, so the
    ALT boundary is tested in vcfctl only, tests/python/unit.)
    """
    lines = [
        _random_chrom(1000) + "\t5\t.\tA\tC,G\t.\t.\t.\tGT\t0/1",
        "é" * 500 + "\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1",
    ]
    path = write_vcf(tmp_path / "edge.vcf", ["MRN-0042"], lines)
    for engine in engines:
        result = vcfctl("load", "--reload", "--engine", engine, "--format", "json", str(path))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[0]["variants"] == 3
    path = write_vcf(tmp_path / "over.vcf", ["MRN-0042"], ["é" * 500 + "x" + lines[1][500:]])
    assert_refused(vcfctl("load", str(path)), path, "CHROM is longer than 1000 bytes", "")


@pytest.mark.parametrize("engine", ENGINES)
def test_100k_samples_load(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path, engine: str
) -> None:
    """Header handling is linear in the sample count: before, 100,000 samples never finished."""
    n = 100_000
    records = [f"chr7\t{p}\t.\tA\tG\t50\tPASS\t.\tGT\t" + "\t".join(["0/1"] * n) for p in (1, 2)]
    path = write_vcf(tmp_path / f"wide-{engine}.vcf", [f"W{engine}-{i}" for i in range(n)], records)
    result = vcfctl("load", "--reload", "--engine", engine, "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)[0]
    assert (entry["samples"], entry["records"], entry["calls"]) == (n, 2, 2 * n)


def test_sample_lookups_use_the_index_whatever_the_statistics(
    tmp_path_factory: pytest.TempPathFactory, new_server: Any
) -> None:
    """Statistics taken while vcf.samples was small must not make every lookup a table scan.

    Each sample column is looked up by blind index with a cached plan; planned
    for a small table, a sequential scan would be kept for all of them and the
    header would be quadratic in its sample count (20,000 new samples took
    27 s instead of 2 s). Counted, not timed: the scans of vcf.samples.
    """
    home = tmp_path_factory.mktemp("stale-samples")
    cluster = new_server(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    env.update(cluster.client_env())

    def load(path: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", "load", "--engine", "plpgsql", str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    def scans(conn: psycopg.Connection[Any]) -> tuple[int, int]:
        """(sequential scans, index scans) of vcf.samples so far."""
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables"
            " WHERE relid = 'vcf.samples'::regclass"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    n_small, n = 60, 20_000
    small = write_vcf(
        home / "small.vcf",
        [f"SMALL-{i}" for i in range(n_small)],
        ["chr1\t1\t.\tA\tG\t.\t.\t.\tGT\t" + "\t".join(["0/1"] * n_small)],
    )
    load(small)
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute("ANALYZE vcf.samples")
        before = scans(conn)
        wide = write_vcf(
            home / "wide.vcf",
            [f"WIDE-{i}" for i in range(n)],
            ["chr1\t2\t.\tA\tG\t.\t.\t.\tGT\t" + "\t".join(["0/1"] * n)],
        )
        load(wide)
        after = before
        for _ in range(100):  # a backend's counters reach the view when it exits
            after = scans(conn)
            if after[1] >= before[1] + n:
                break
            time.sleep(0.1)
    assert after[1] >= before[1] + n, "the lookups did not reach the statistics"
    seq = after[0] - before[0]
    assert seq < 100, f"{seq} sequential scans of vcf.samples for {n} samples"
