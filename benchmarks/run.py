"""A load against the raw bytes and the rows it stores, per engine, in one run.

Everything runs in one throwaway embedded cluster, in one process, minutes
apart: the two COPY yardsticks are measured next to the steps they judge, so
the ratios (step time / COPY time) survive a noisy machine better than any
absolute rate. For each file shape (records x samples):

- ``raw COPY``: the file's data lines, one text column, into an UNLOGGED table
  without indexes: the physical limit of getting those bytes into the server.
- ``rows COPY``: binary COPY of exactly the rows one load stored in the
  per-record tables (variants, records with their genotype columns,
  record_lines), into empty tables identical to ours (``LIKE ... INCLUDING
  ALL``: same indexes, constraints, storage and compression), one
  transaction: the fair yardstick, what the schema costs.
- ``stage``: ``vcfctl stage`` as a child process (its peak RSS is vcfctl's).
- ``ingest <engine>``: ``vcf_ingest`` on a fresh connection (its backend's
  peak private memory is sampled), for each engine.
- ``load <engine>``: stage + ingest.

and what the load left on disk (benchmarks/storage.py): bytes per table, per
genotype call and against the gzipped file.

    python -m benchmarks.run [--shape RECORDSxSAMPLES ...] [--records N --samples N]
                             [--repeat K] [--engine both|plpython|plpgsql] [--json]
                             [--set NAME=VALUE] [--existing-variants N]
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
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

from . import storage
from .memory import backend_peak, run_child
from .synth import SyntheticFiles, round_file, write_files

Conn = psycopg.Connection[Any]
PRELOAD_CHROM = "chrBench"
YARDSTICK_RUNS = 3
DEFAULT_SHAPES = ((200_000, 1), (50_000, 20), (2_000, 1_000))
# vcf.calls is a view over vcf.records since 0.4.0: nothing of its own to copy
_PER_RECORD_TABLES = storage.PER_RECORD
_COPY_CHUNK = 1 << 20
# a delimiter never in a VCF line (tabs are), so each line is one text value
_RAW_COPY = "COPY bench.raw_lines (line) FROM STDIN (FORMAT text, DELIMITER E'\\x1f')"


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


def parse_shape(text: str) -> tuple[int, int]:
    """RECORDSxSAMPLES from the command line, for --shape."""
    m = re.fullmatch(r"([0-9_]+)x([0-9_]+)", text.strip())
    if not m or int(m[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected RECORDSxSAMPLES, e.g. 50000x20, got {text!r}")
    return int(m[1]), int(m[2])


def apply_settings(conn: Conn, settings: Sequence[tuple[str, str]]) -> None:
    """Session settings for what-if runs (e.g. jit=off); vcf_ingest inherits them."""
    for name, value in settings:
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def checkpoint(conn: Conn) -> None:
    """Flush what earlier steps dirtied so that it is not written during the next one."""
    conn.execute("CHECKPOINT")


def peak_rss_mib() -> float:
    """Peak RSS of this process (Linux reports KiB); the server's memory is not included."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Step:
    """One measured step: its wall times per repetition and what it moved."""

    name: str
    note: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self, files: SyntheticFiles, raw: float, rows: float) -> dict[str, Any]:
        t = self.median
        calls = files.alt_alleles * files.samples
        return {
            "step": self.name,
            "seconds": round(t, 3),
            "seconds_each": [round(s, 3) for s in self.seconds],
            "records_per_s": round(files.records / t),
            "calls_per_s": round(calls / t) if calls else None,
            "x_raw_copy": round(t / raw, 2),
            "x_rows_copy": round(t / rows, 2),
            "note": self.note,
        }


@dataclass
class Shape:
    """One file shape's measurements."""

    files: SyntheticFiles
    lines: Path
    steps: dict[str, Step]
    memory: dict[str, float | None] = field(default_factory=dict)
    stored: storage.Storage | None = None


def write_data_lines(files: SyntheticFiles) -> Path:
    """The VCF's data lines alone, for the raw COPY."""
    path = files.vcf.with_suffix(".lines")
    with open(files.vcf, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for line in src:
            if not line.startswith("#"):
                dst.write(line)
    return path


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


def reset_loaded(conn: Conn) -> None:
    """Empty what loads wrote, keeping preloaded variants (TRUNCATE when there are none)."""
    conn.execute("TRUNCATE vcf.records, vcf.record_lines")
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM vcf.variants WHERE chrom = %s)", (PRELOAD_CHROM,)
    ).fetchone()
    if row and row[0]:
        conn.execute("DELETE FROM vcf.variants WHERE chrom <> %s", (PRELOAD_CHROM,))
        conn.execute("VACUUM vcf.variants")
    else:
        conn.execute("TRUNCATE vcf.variants")


def prepare(conn: Conn) -> None:
    """The raw-lines table and empty copies of the per-record tables, in a scratch schema."""
    conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")
    conn.execute("CREATE SCHEMA bench")
    conn.execute("CREATE UNLOGGED TABLE bench.raw_lines (line text)")
    for table in _PER_RECORD_TABLES:
        conn.execute(f"CREATE TABLE bench.{table} (LIKE vcf.{table} INCLUDING ALL)")


def copy_raw_lines(conn: Conn, lines: Path) -> float:
    """COPY the data lines, streamed in 1 MiB chunks as psql's \\copy does."""
    conn.execute("TRUNCATE bench.raw_lines")
    checkpoint(conn)

    def copy() -> None:
        with (
            open(lines, "rb") as fh,
            conn.cursor().copy(_RAW_COPY) as cp,
        ):
            while chunk := fh.read(_COPY_CHUNK):
                cp.write(chunk)

    return timed(copy)


def copy_stored_rows(conn: Conn) -> float:
    """Binary COPY of the rows the last load stored into the identical empty tables.

    The rows are read out first (not timed); the timed part is the COPY FROM
    of all tables in one transaction, as one ingest writes them.
    """
    dumps: dict[str, bytes] = {}
    for table in _PER_RECORD_TABLES:
        where = f" WHERE chrom <> '{PRELOAD_CHROM}'" if table == "variants" else ""
        out = io.BytesIO()
        with conn.cursor().copy(
            f"COPY (SELECT * FROM vcf.{table}{where}) TO STDOUT (FORMAT binary)"
        ) as cp:
            for data in cp:
                out.write(data)
        dumps[table] = out.getvalue()
    conn.execute("TRUNCATE " + ", ".join(f"bench.{t}" for t in _PER_RECORD_TABLES))
    checkpoint(conn)

    def copy() -> None:
        with conn.transaction():
            for table, data in dumps.items():
                with conn.cursor().copy(f"COPY bench.{table} FROM STDIN (FORMAT binary)") as cp:
                    for start in range(0, len(data), _COPY_CHUNK):
                        cp.write(data[start : start + _COPY_CHUNK])

    return timed(copy)


def vcfctl_stage(home: Path, vcf: Path) -> tuple[float, str, float]:
    """Run `vcfctl stage` as a child; (seconds, session id, its peak RSS in MiB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    child = run_child(
        [sys.executable, "-m", "vcf_pg_loader", "stage", "--format", "json", str(vcf)], env
    )
    if child.returncode != 0:
        raise RuntimeError(f"vcfctl stage exited {child.returncode}: {child.stderr[-2000:]}")
    result = json.loads(child.stdout)[0]
    return child.seconds, str(result["session_id"]), child.peak_rss_mib


def run_load(
    cluster: EmbeddedCluster,
    provider: LocalMasterKey,
    shape: Shape,
    vcf: Path,
    engine: str,
    settings: Sequence[tuple[str, str]],
) -> None:
    """Stage (vcfctl, a child) then ingest (a fresh connection) into emptied tables."""
    files = shape.files
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        reset_loaded(conn)
        checkpoint(conn)
    stage_s, session_id, stage_rss = vcfctl_stage(cluster.home, vcf)
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        apply_settings(conn, settings)
        with backend_peak(conn.info.backend_pid) as peak:
            start = time.perf_counter()
            result = ingest_session(conn, provider, uuid.UUID(session_id), engine=engine)
            ingest_s = time.perf_counter() - start
    if result.records != files.records or result.variants != files.alt_alleles:
        raise RuntimeError(
            f"ingest wrote {result.records} records and {result.variants} variants,"
            f" expected {files.records} and {files.alt_alleles}"
        )
    shape.steps["stage"].seconds.append(stage_s)
    shape.steps[f"ingest {engine}"].seconds.append(ingest_s)
    shape.steps[f"load {engine}"].seconds.append(stage_s + ingest_s)
    _keep_max(shape.memory, "vcfctl stage", stage_rss)
    _keep_max(shape.memory, f"backend ingest {engine}", peak.mib)


def _keep_max(memory: dict[str, float | None], key: str, value: float | None) -> None:
    old = memory.get(key)
    memory[key] = value if old is None or (value is not None and value > old) else old


def make_steps(engines: Sequence[str]) -> dict[str, Step]:
    steps = {
        "raw": Step(
            "raw COPY",
            f"the data lines as one text column into an UNLOGGED table, no index"
            f" ({YARDSTICK_RUNS} runs per round)",
        ),
        "rows": Step(
            "rows COPY",
            "binary COPY of the rows one load stored into identical empty tables, one transaction",
        ),
        "stage": Step("stage", "vcfctl stage, a child process: read, check, encrypt, COPY blocks"),
    }
    for engine in engines:
        steps[f"ingest {engine}"] = Step(
            f"ingest {engine}", "vcf_ingest: decrypt, parse, write tables, audit"
        )
    for engine in engines:
        steps[f"load {engine}"] = Step(f"load {engine}", "stage + ingest")
    return steps


def measure_shape(
    cluster: EmbeddedCluster,
    provider: LocalMasterKey,
    work: Path,
    records: int,
    samples: int,
    args: argparse.Namespace,
) -> Shape:
    """Every step of one shape, round after round."""
    directory = work / f"{records}x{samples}"
    directory.mkdir()
    log(f"writing {records} records x {samples} samples")
    files = write_files(directory, records, samples)
    shape = Shape(files, write_data_lines(files), make_steps(args.engines))
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        apply_settings(conn, args.set)
        prepare(conn)
    for i in range(args.repeat):
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            for _ in range(YARDSTICK_RUNS):
                shape.steps["raw"].seconds.append(copy_raw_lines(conn, shape.lines))
        for engine in args.engines:
            vcf = round_file(files, len(shape.steps["stage"].seconds) + 1)
            run_load(cluster, provider, shape, vcf, engine, args.set)
            vcf.unlink()
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            if shape.stored is None:
                calls = files.alt_alleles * files.samples
                shape.stored = storage.measure(conn, calls, files.vcf, directory)
            shape.steps["rows"].seconds.append(copy_stored_rows(conn))
        last = ", ".join(f"{s.name} {s.seconds[-1]:.2f} s" for s in shape.steps.values())
        log(f"{records}x{samples} round {i + 1}/{args.repeat}: {last}")
    return shape


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


def configuration(conn: Conn, args: argparse.Namespace) -> dict[str, Any]:
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
        "repeat": args.repeat,
        "engines": list(args.engines),
        "existing_variants": args.existing_variants,
        "source": source_version(),
        "extension": extension_fingerprint(conn),
        "postgresql": str(row[0]) if row else "?",
        "settings": settings,
        "session_settings": dict(args.set),
        "cores": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
    }


def shape_report(shape: Shape) -> dict[str, Any]:
    files = shape.files
    raw = shape.steps["raw"].median
    rows = shape.steps["rows"].median
    steps = [s.as_dict(files, raw, rows) for s in shape.steps.values() if s.seconds]
    by_name = {s.name: s.median for s in shape.steps.values() if s.seconds}
    ratios = {}
    if "ingest plpython" in by_name and "ingest plpgsql" in by_name:
        ratios["plpgsql_over_plpython_ingest"] = round(
            by_name["ingest plpgsql"] / by_name["ingest plpython"], 2
        )
    return {
        "records": files.records,
        "samples": files.samples,
        "multiallelic_records": files.multiallelic,
        "alt_alleles": files.alt_alleles,
        "calls": files.alt_alleles * files.samples,
        "vcf_mb": round(files.vcf_bytes / 1e6, 2),
        "steps": steps,
        "ratios": ratios,
        "peak_rss_mib": {k: None if v is None else round(v, 1) for k, v in shape.memory.items()},
        "storage": shape.stored.as_dict() if shape.stored else None,
    }


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Start a private cluster, measure every shape, tear it down."""
    # htslib's Python binding takes about 0.25 s to import, once per process:
    # a start-up cost, not a throughput (vcfctl stage, a child, pays its own).
    importlib.import_module("cyvcf2")
    cluster = EmbeddedCluster(home)
    shapes: list[Shape] = []
    try:
        log("starting a throwaway embedded cluster")
        cluster.ensure_ready()
        provider = LocalMasterKey(home / "master.key")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            preload_variants(conn, args.existing_variants)
            config = configuration(conn, args)
        for records, samples in args.shapes:
            shapes.append(measure_shape(cluster, provider, work, records, samples, args))
    finally:
        cluster.destroy()
    return {"config": config, "shapes": [shape_report(s) for s in shapes]}


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_shape(s: dict[str, Any]) -> list[str]:
    lines = [
        f"== {s['records']} records x {s['samples']} samples: {s['alt_alleles']} alt alleles"
        f" ({s['multiallelic_records']} multi-allelic records), {s['calls']} calls,"
        f" VCF {s['vcf_mb']} MB",
        f"{'step':<16} {'seconds':>8} {'records/s':>10} {'calls/s':>10} {'x raw':>7} {'x rows':>7}",
    ]
    for r in s["steps"]:
        calls = "-" if r["calls_per_s"] is None else f"{r['calls_per_s']:,}"
        lines.append(
            f"{r['step']:<16} {r['seconds']:>8.2f} {r['records_per_s']:>10,} {calls:>10}"
            f" {r['x_raw_copy']:>7.2f} {r['x_rows_copy']:>7.2f}"
        )
    for name, value in s["ratios"].items():
        lines.append(f"{name}: {value}")
    lines.append(
        "peak RSS (MiB): "
        + ", ".join(f"{k} {_mib(v)}" for k, v in s["peak_rss_mib"].items())
        + " (backend: private memory, RssAnon)"
    )
    st = s["storage"]
    if st:
        tables = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in st["tables_bytes"].items())
        per_call = (
            f"; per call: genotype columns {st['genotype_bytes_per_call']} B,"
            f" everything {st['all_bytes_per_call']} B"
            if st["calls"]
            else ""
        )
        lines.append(
            f"stored (MB): {tables}; total {st['total_bytes'] / 1e6:.1f} ="
            f" {st['x_gz']}x the gzipped VCF ({st['gz_bytes'] / 1e6:.2f} MB){per_call}"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    c = report["config"]
    lines = [
        f"PostgreSQL {c['postgresql']}, {c['cores']} cores, {c['machine']},"
        f" median of {c['repeat']}, {c['date']}",
        f"source {c['source']}, extension {c['extension']}, engines {', '.join(c['engines'])}",
        *([f"session settings: {c['session_settings']}"] if c["session_settings"] else []),
        *(
            [f"{c['existing_variants']} variants in the database before each load"]
            if c["existing_variants"]
            else []
        ),
    ]
    for s in report["shapes"]:
        lines += ["", *format_shape(s)]
    if report["shapes"]:
        lines += ["", *(f"{r['step']}: {r['note']}" for r in report["shapes"][0]["steps"])]
    return "\n".join(lines)


def add_ingest_options(parser: argparse.ArgumentParser, scope: str) -> None:
    """--engine and --set, for benchmarks.ingest_profile."""
    parser.add_argument(
        "--engine",
        choices=["auto", "plpython", "plpgsql"],
        default="auto",
        help="ingest block parser (auto: plpython when installed)",
    )
    add_set_option(parser, scope)


def add_set_option(parser: argparse.ArgumentParser, scope: str) -> None:
    """--set NAME=VALUE, repeatable: session settings for what-if runs."""
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
        description="A load against a raw COPY of its lines and a COPY of the rows it stores,"
        " per engine, with memory and storage, in one run.",
    )
    parser.add_argument(
        "--shape",
        action="append",
        type=parse_shape,
        metavar="RECORDSxSAMPLES",
        help="a file shape (repeatable; default 200000x1, 50000x20 and 2000x1000)",
    )
    parser.add_argument("--records", type=int, help="data lines of a single shape")
    parser.add_argument("--samples", type=int, default=1, help="with --records: samples (1)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; median (1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--engine",
        choices=["both", "plpython", "plpgsql"],
        default="both",
        help="ingest engines to measure (both)",
    )
    add_set_option(parser, "every ingest")
    parser.add_argument(
        "--existing-variants",
        type=int,
        default=0,
        metavar="N",
        help="variants already in the database before each load, as if from other files (0)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.existing_variants < 0 or args.samples < 0:
        parser.error("--repeat must be at least 1, --samples and --existing-variants at least 0")
    if args.records is not None and args.shape:
        parser.error("give --shape or --records, not both")
    if args.records is not None and args.records < 1:
        parser.error("--records must be at least 1")
    args.shapes = (
        args.shape
        or ([(args.records, args.samples)] if args.records is not None else None)
        or list(DEFAULT_SHAPES)
    )
    args.engines = ["plpython", "plpgsql"] if args.engine == "both" else [args.engine]
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


def report_main(
    args: argparse.Namespace,
    measure: Callable[[Path, Path, argparse.Namespace], dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
) -> int:
    """Measure in throwaway directories, print the report (JSON with --json); exit code."""
    report = in_throwaway_dirs(measure, args)
    if report is None:
        return 1
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return report_main(parse_args(argv), benchmark, format_report)


if __name__ == "__main__":
    sys.exit(main())
