"""Throughput of stage, ingest and load against a raw COPY of the same records.

Everything runs in one throwaway embedded cluster, in one process, minutes
apart: the COPY yardstick is measured next to the steps it judges, so the
ratio (step time / COPY time) survives a noisy machine better than any
absolute rate. Each repetition starts from empty tables and a checkpoint so
that repetitions measure the same thing.

    python -m benchmarks.run [--records N] [--samples N] [--repeat K] [--json]
                             [--set NAME=VALUE] [--existing-variants N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from vcf_pg_loader.embedded import EmbeddedCluster
from vcf_pg_loader.errors import VcfPgError
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

from .synth import COPY_COLUMNS, YARDSTICK_DDL, SyntheticFiles, round_file, write_files

Conn = psycopg.Connection[Any]
YARDSTICK_TABLE = "bench.yardstick"
_COPY_CHUNK = 1 << 20
PRELOAD_CHROM = "chrBench"
_FLOOR_CANDIDATES = ("variants", "records", "record_lines", "calls")
YARDSTICK_RUNS = 3


@dataclass
class Step:
    """One measured step: its wall times per repetition and what it moved."""

    name: str
    records: int
    nbytes: int
    note: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self, yardstick: float) -> dict[str, Any]:
        t = self.median
        return {
            "step": self.name,
            "seconds": round(t, 3),
            "seconds_each": [round(s, 3) for s in self.seconds],
            "records_per_s": round(self.records / t),
            "mb_per_s": round(self.nbytes / t / 1e6, 2) if self.nbytes else None,
            "x_yardstick": round(t / yardstick, 2),
            "note": self.note,
        }


def log(message: str) -> None:
    """Say what is running, on stderr, so that --json output stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def parse_setting(text: str) -> tuple[str, str]:
    """NAME=VALUE from the command line, for --set."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def apply_settings(conn: Conn, settings: Sequence[tuple[str, str]]) -> None:
    """Session settings for what-if runs (e.g. jit=off); vcf_ingest inherits them."""
    for name, value in settings:
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def checkpoint(conn: Conn) -> None:
    """Flush what earlier steps dirtied so that it is not written during the next one."""
    conn.execute("CHECKPOINT")


def copy_yardstick(conn: Conn, path: Path) -> None:
    """Stream the pre-parsed text file through COPY, as psql's \\copy does."""
    with (
        open(path, "rb") as fh,
        conn.cursor().copy(f"COPY {YARDSTICK_TABLE} ({COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        while chunk := fh.read(_COPY_CHUNK):
            copy.write(chunk)


def preload_variants(conn: Conn, count: int) -> None:
    """Variants of 'earlier files', on a contig the synthetic file never uses.

    vcf.variants is shared by every file in the database; this shows how
    ingest time depends on its size, not only on the file's.
    """
    if count:
        conn.execute(
            "INSERT INTO vcf.variants (chrom, pos, ref, alt, allele_key)"
            " SELECT %s, g, 'A', 'C', vcf._allele_key('A', 'C') FROM generate_series(1, %s) g",
            (PRELOAD_CHROM, count),
        )
        conn.execute("VACUUM ANALYZE vcf.variants")


def reset_loaded(conn: Conn, tables: list[str]) -> None:
    """Empty what a load wrote, keeping preloaded variants (TRUNCATE when there are none)."""
    conn.execute("TRUNCATE " + ", ".join(f"vcf.{t}" for t in tables if t != "variants"))
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM vcf.variants WHERE chrom = %s)", (PRELOAD_CHROM,)
    ).fetchone()
    if row and row[0]:
        conn.execute("DELETE FROM vcf.variants WHERE chrom <> %s", (PRELOAD_CHROM,))
        conn.execute("VACUUM vcf.variants")
    else:
        conn.execute("TRUNCATE vcf.variants")


def prepare(conn: Conn) -> list[str]:
    """The yardstick table and empty copies of the tables a load writes, in a scratch schema.

    Returns the names of those tables: the ones of this extension version.
    """
    conn.execute("CREATE SCHEMA bench")
    conn.execute(YARDSTICK_DDL.format(table=YARDSTICK_TABLE))
    tables = [
        t
        for t in _FLOOR_CANDIDATES
        if conn.execute("SELECT to_regclass(%s)", (f"vcf.{t}",)).fetchone() != (None,)
    ]
    for table in tables:
        conn.execute(f"CREATE TABLE bench.{table} (LIKE vcf.{table} INCLUDING ALL)")
    return tables


def run_yardstick(conn: Conn, files: SyntheticFiles, step: Step) -> None:
    """COPY the pre-parsed rows a few times: the step is short, so one run is noise."""
    for _ in range(YARDSTICK_RUNS):
        conn.execute(f"TRUNCATE {YARDSTICK_TABLE}")
        checkpoint(conn)
        step.seconds.append(timed(lambda: copy_yardstick(conn, files.copy_text)))


def run_load(
    conn: Conn,
    provider: LocalMasterKey,
    files: SyntheticFiles,
    vcf: Path,
    steps: dict[str, Step],
    tables: list[str],
    engine: str | None = None,
) -> None:
    """Stage then ingest vcf (the records of files) as a fresh session into emptied tables.

    The load time is the wall time from the start of staging to the end of
    ingest, so it includes whatever happens between the two calls.
    """
    reset_loaded(conn, tables)
    checkpoint(conn)
    start = time.perf_counter()
    staged = stage_file(conn, provider, vcf)
    middle = time.perf_counter()
    result = ingest_session(conn, provider, staged.session_id, engine=engine)
    end = time.perf_counter()
    if result.records != files.records or result.variants != files.alt_alleles:
        raise RuntimeError(
            f"ingest wrote {result.records} records and {result.variants} variants,"
            f" expected {files.records} and {files.alt_alleles}"
        )
    steps["stage"].seconds.append(middle - start)
    steps["ingest"].seconds.append(end - middle)
    steps["load"].seconds.append(end - start)


def run_floor(conn: Conn, step: Step, tables: list[str]) -> None:
    """Time writing the rows the load just produced into empty copies of its tables.

    Same rows, same indexes, no parsing, no transfer: what the schema alone
    costs, which no ingest can beat. Server-side INSERT ... SELECT in one
    transaction, as vcf_ingest writes them.
    """
    conn.execute("TRUNCATE " + ", ".join(f"bench.{t}" for t in tables))
    checkpoint(conn)

    def write() -> None:
        with conn.transaction():
            for table in tables:
                conn.execute(
                    f"INSERT INTO bench.{table} SELECT * FROM vcf.{table}"
                    + (" WHERE chrom <> %s" if table == "variants" else ""),
                    (PRELOAD_CHROM,) if table == "variants" else None,
                )

    step.seconds.append(timed(write))


def run_rounds(
    conn: Conn,
    provider: LocalMasterKey,
    files: SyntheticFiles,
    steps: dict[str, Step],
    repeat: int,
    existing_variants: int = 0,
    engine: str | None = None,
) -> None:
    """Every step once per round, so each ratio compares runs minutes apart at most."""
    tables = prepare(conn)
    steps["floor"].note += ": " + ", ".join(f"vcf.{t}" for t in tables)
    preload_variants(conn, existing_variants)
    for i in range(repeat):
        run_yardstick(conn, files, steps["copy"])
        vcf = round_file(files, i + 1)
        run_load(conn, provider, files, vcf, steps, tables, engine)
        vcf.unlink()
        run_floor(conn, steps["floor"], tables)
        last = ", ".join(f"{s.name} {s.seconds[-1]:.2f} s" for s in steps.values())
        log(f"round {i + 1}/{repeat}: {last}")


def peak_rss_mib() -> float:
    """Peak RSS of this process (Linux reports KiB); the server's memory is not included."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_version() -> str:
    """The commit measured, with '-dirty' when the working tree differs from it."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def extension_fingerprint(conn: Conn) -> str:
    """Hash of the installed extension's functions: which SQL the numbers belong to.

    The extension files are installed system-wide and the working tree may
    differ from the commit, so the commit alone does not say what ran.
    """
    row = conn.execute(
        "SELECT e.extversion, left(md5(string_agg(pg_get_functiondef(p.oid), '' ORDER BY"
        " p.oid::regprocedure::text)), 12) FROM pg_extension e"
        " JOIN pg_depend d ON d.refobjid = e.oid AND d.classid = 'pg_proc'::regclass"
        " JOIN pg_proc p ON p.oid = d.objid AND p.prokind IN ('f', 'p')"
        " WHERE e.extname = 'vcf_pg_loader' GROUP BY e.extversion"
    ).fetchone()
    return f"{row[0]} ({row[1]})" if row else "?"


def configuration(
    conn: Conn,
    files: SyntheticFiles,
    repeat: int,
    session: Sequence[tuple[str, str]],
    existing_variants: int,
) -> dict[str, Any]:
    row = conn.execute("SHOW server_version").fetchone()
    settings = dict(
        conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings"
            " WHERE name IN ('shared_buffers', 'max_wal_size', 'synchronous_commit',"
            " 'wal_level', 'fsync', 'jit')"
        ).fetchall()
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "records": files.records,
        "samples": files.samples,
        "multiallelic_records": files.multiallelic,
        "alt_alleles": files.alt_alleles,
        "calls": files.alt_alleles * files.samples,
        "vcf_mb": round(files.vcf_bytes / 1e6, 2),
        "repeat": repeat,
        "existing_variants": existing_variants,
        "source": source_version(),
        "extension": extension_fingerprint(conn),
        "postgresql": str(row[0]) if row else "?",
        "settings": settings,
        "session_settings": dict(session),
        "cores": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
    }


def make_steps(files: SyntheticFiles) -> dict[str, Step]:
    vcf = files.vcf_bytes
    return {
        "copy": Step(
            "copy (yardstick)",
            files.records,
            files.copy_bytes,
            f"text COPY of pre-parsed rows, one row per record, GTs as text[]"
            f" ({YARDSTICK_RUNS} runs per round)",
        ),
        "stage": Step("stage", files.records, vcf, "read, check, encrypt, binary COPY of blocks"),
        "ingest": Step("ingest", files.records, vcf, "vcf_ingest: decrypt, parse, write tables"),
        "load": Step("load", files.records, vcf, "stage + ingest, end to end"),
        "floor": Step(
            "schema floor",
            files.records,
            0,
            "INSERT ... SELECT of the loaded rows into empty copies (same indexes) of",
        ),
    }


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_table(config: dict[str, Any], rows: list[dict[str, Any]], rss: float) -> str:
    lines = [
        f"records {config['records']}, samples {config['samples']}, "
        f"{config['alt_alleles']} alt alleles ({config['multiallelic_records']} multi-allelic "
        f"records), {config['calls']} calls, VCF {config['vcf_mb']} MB",
        f"PostgreSQL {config['postgresql']}, {config['cores']} cores, {config['machine']}, "
        f"median of {config['repeat']}, {config['date']}",
        f"source {config['source']}, extension {config['extension']}",
        *(
            [f"session settings: {config['session_settings']}"]
            if config["session_settings"]
            else []
        ),
        *(
            [f"{config['existing_variants']} variants in the database before each load"]
            if config["existing_variants"]
            else []
        ),
        "",
        f"{'step':<18} {'seconds':>8} {'records/s':>10} {'MB/s':>7} {'x COPY':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r['step']:<18} {r['seconds']:>8.2f} {r['records_per_s']:>10,} "
            f"{_mb(r['mb_per_s']):>7} {r['x_yardstick']:>7.2f}"
        )
    lines += ["", *(f"{r['step']}: {r['note']}" for r in rows)]
    lines += ["", f"peak RSS of the Python process: {rss:.0f} MiB"]
    return "\n".join(lines)


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Generate the file, start a private cluster, measure every step, tear it down."""
    repeat = args.repeat
    log(f"writing {args.records} records x {args.samples} samples to {work}")
    files = write_files(work, args.records, args.samples)
    steps = make_steps(files)
    # htslib's Python binding takes about 0.25 s to import, once per process:
    # a start-up cost of vcfctl, not a throughput, so the first stage must not pay it.
    importlib.import_module("cyvcf2")
    cluster = EmbeddedCluster(home)
    try:
        log("starting a throwaway embedded cluster")
        cluster.ensure_ready()
        provider = LocalMasterKey(home / "master.key")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            apply_settings(conn, args.set)
            run_rounds(conn, provider, files, steps, repeat, args.existing_variants, args.engine)
            config = configuration(conn, files, repeat, args.set, args.existing_variants)
    finally:
        cluster.destroy()
    yardstick = steps["copy"].median
    return {
        "config": config,
        "steps": [s.as_dict(yardstick) for s in steps.values()],
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def add_ingest_options(parser: argparse.ArgumentParser, scope: str) -> None:
    """--engine and --set, shared with benchmarks.ingest_profile."""
    parser.add_argument(
        "--engine",
        choices=["auto", "plpython", "plpgsql"],
        default="auto",
        help="ingest block parser (auto: plpython when installed)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=parse_setting,
        metavar="NAME=VALUE",
        help=f"session setting for {scope}, e.g. jit=off (repeatable)",
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Stage, ingest and load throughput against a raw COPY, in one run.",
    )
    parser.add_argument("--records", type=int, default=200_000, help="data lines (200000)")
    parser.add_argument("--samples", type=int, default=1, help="sample columns (1)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; median (1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_ingest_options(parser, "every step")
    parser.add_argument(
        "--existing-variants",
        type=int,
        default=0,
        metavar="N",
        help="variants already in the database before each load, as if from other files (0)",
    )
    args = parser.parse_args(argv)
    if args.records < 1 or args.samples < 0 or args.repeat < 1 or args.existing_variants < 0:
        parser.error(
            "--records and --repeat must be at least 1, --samples and --existing-variants"
            " at least 0"
        )
    return args


def in_throwaway_dirs(
    measure: Callable[[Path, Path, argparse.Namespace], dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any] | None:
    """Run a benchmark with a temporary home and work directory; None if it failed."""
    with (
        tempfile.TemporaryDirectory(prefix="vcf-bench-home-") as home,
        tempfile.TemporaryDirectory(prefix="vcf-bench-data-") as work,
    ):
        try:
            return measure(Path(home), Path(work), args)
        except VcfPgError as exc:
            log(f"failed: {exc}")
            return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = in_throwaway_dirs(benchmark, args)
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report["config"], report["steps"], report["peak_rss_mib"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
