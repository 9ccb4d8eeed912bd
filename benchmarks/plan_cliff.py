"""Ingest time when the statistics of vcf.variants mislead the planner (issue 11, item 2).

vcf.variants is shared by every file, so its statistics describe other
loads, or none. For each engine, in one throwaway embedded cluster, the same
file is ingested:

- ``clean``: into emptied tables, VACUUM ANALYZE'd (statistics that are right);
- ``analyze``: the same, with ``ANALYZE vcf.variants`` running over and over on
  another connection while the ingest runs (as autovacuum may);
- ``stale``: after a load, an ANALYZE and a TRUNCATE of what it wrote, so the
  column statistics describe rows that are gone;
- ``existing``: into a database already holding N variants (2,000,000), analyzed.

Each is reported as the ratio to ``clean`` of the same engine; the
acceptance bound is 1.5x. ``--compare-version V --compare-companion W``
runs the same scenarios in a second database created at those released
versions, in the same run, for a before and after. The test
(tests/python/integration/test_plan_cliff.py) asserts the plan shape; the
times are here.

    python -m benchmarks.plan_cliff [--records N] [--samples N] [--existing-variants N]
        [--engine plpython|plpgsql] [--scenario analyze|stale|existing]
        [--compare-version V --compare-companion W] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vcf_pg_loader import EXTENSION_VERSION
from vcf_pg_loader.embedded import EmbeddedCluster
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import init_phi_key
from vcf_pg_loader.staging import stage_file

from .background import repeating
from .run import PRELOAD_CHROM, log, report_main, source_version
from .synth import SyntheticFiles, round_file, write_files

Conn = psycopg.Connection[Any]
SCENARIOS = ("clean", "analyze", "stale", "existing")
# besides vcf.variants; vcf.calls too where it is a table (before 0.4.0, a view since)
_WRITTEN = ("vcf.records", "vcf.record_lines")
_ANALYZE_PAUSE_S = 0.2


@dataclass
class Result:
    version: str
    engine: str
    scenario: str
    seconds: float


class Database:
    """One database of the cluster at one extension version, and the file loaded into it."""

    def __init__(self, conn: Conn, files: SyntheticFiles, provider: LocalMasterKey) -> None:
        self.conn = conn
        self.files = files
        self.provider = provider
        self.rounds = 0
        self.written = ", ".join(written_tables(conn))

    def empty(self) -> None:
        """What loads wrote (and preloaded variants) gone; statistics right: the table is empty."""
        self.conn.execute(f"TRUNCATE {self.written}, vcf.variants")
        self.conn.execute("VACUUM ANALYZE vcf.variants")

    def keep_preloaded(self) -> None:
        """What loads wrote gone, the preloaded variants kept and analyzed."""
        self.conn.execute(f"TRUNCATE {self.written}")
        self.conn.execute("DELETE FROM vcf.variants WHERE chrom <> %s", (PRELOAD_CHROM,))
        self.conn.execute("VACUUM ANALYZE vcf.variants")

    def preload(self, count: int) -> None:
        self.conn.execute(
            "INSERT INTO vcf.variants (chrom, pos, ref, alt, allele_key)"
            " SELECT %s, g, 'A', 'C', vcf._allele_key('A', 'C') FROM generate_series(1, %s) g",
            (PRELOAD_CHROM, count),
        )
        self.conn.execute("VACUUM ANALYZE vcf.variants")

    def ingest(self, engine: str) -> float:
        """Stage a fresh copy of the file (not timed), then time its ingest."""
        self.rounds += 1
        vcf = round_file(self.files, self.rounds)
        try:
            staged = stage_file(self.conn, self.provider, vcf)
        finally:
            vcf.unlink()
        self.conn.execute("CHECKPOINT")
        start = time.perf_counter()
        result = ingest_session(self.conn, self.provider, staged.session_id, engine=engine)
        seconds = time.perf_counter() - start
        if result.records != self.files.records:
            raise RuntimeError(f"ingest wrote {result.records} records of {self.files.records}")
        return seconds


def written_tables(conn: Conn) -> list[str]:
    """The tables a load writes besides vcf.variants, at this database's extension version."""
    row = conn.execute(
        "SELECT relkind = 'r' FROM pg_class WHERE oid = to_regclass('vcf.calls')"
    ).fetchone()
    return [*_WRITTEN, *(["vcf.calls"] if row and row[0] else [])]


@contextmanager
def analyzing(conninfo: str) -> Iterator[list[int]]:
    """ANALYZE vcf.variants over and over on another connection until the block ends."""
    with (
        psycopg.connect(conninfo, autocommit=True) as other,
        repeating(lambda: other.execute("ANALYZE vcf.variants"), _ANALYZE_PAUSE_S) as count,
    ):
        yield count


def run_scenarios(
    db: Database, conninfo: str, version: str, args: argparse.Namespace
) -> list[Result]:
    """clean, then the chosen scenarios, for each engine."""
    results: list[Result] = []
    chosen = args.scenario

    def record(engine: str, scenario: str, seconds: float) -> None:
        results.append(Result(version, engine, scenario, seconds))
        log(f"{version} {engine} {scenario}: {seconds:.2f} s")

    for engine in args.engine:
        db.empty()
        record(engine, "clean", db.ingest(engine))
        if "analyze" in chosen:
            db.empty()
            with analyzing(conninfo) as count:
                seconds = db.ingest(engine)
            log(f"  ({count[0]} ANALYZE runs during that ingest)")
            record(engine, "analyze", seconds)
        if "stale" in chosen:
            db.empty()
            db.ingest(engine)  # a full table ...
            db.conn.execute("ANALYZE vcf.variants")  # ... its statistics ...
            db.conn.execute(f"TRUNCATE {db.written}, vcf.variants")  # ... and it is empty
            record(engine, "stale", db.ingest(engine))
    if "existing" in chosen:
        db.empty()
        db.preload(args.existing_variants)
        for engine in args.engine:
            db.keep_preloaded()
            record(engine, "existing", db.ingest(engine))
    return results


def create_database(cluster: EmbeddedCluster, name: str, core: str, companion: str) -> str:
    """A database of the cluster with both extensions at the given (released) versions."""
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = cluster.conninfo(name)
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(
            sql.SQL("CREATE EXTENSION vcf_pg_loader VERSION {} CASCADE").format(sql.Literal(core))
        )
        c.execute(
            sql.SQL("CREATE EXTENSION vcf_pg_loader_plpython VERSION {} CASCADE").format(
                sql.Literal(companion)
            )
        )
    return conninfo


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    log(f"writing {args.records} records x {args.samples} samples to {work}")
    files = write_files(work, args.records, args.samples)
    importlib.import_module("cyvcf2")  # a start-up cost, not the first ingest's
    cluster = EmbeddedCluster(home)
    results: list[Result] = []
    try:
        log("starting a throwaway embedded cluster")
        cluster.ensure_ready()
        provider = LocalMasterKey(home / "master.key")
        targets = [(EXTENSION_VERSION, cluster.conninfo())]
        if args.compare_version:
            name = "bench_" + args.compare_version.replace(".", "_")
            conninfo = create_database(cluster, name, args.compare_version, args.compare_companion)
            targets.append((args.compare_version, conninfo))
        for version, conninfo in targets:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                init_phi_key(conn, provider)
                db = Database(conn, files, provider)
                results += run_scenarios(db, conninfo, version, args)
    finally:
        cluster.destroy()
    return report(results, files, args)


def report(
    results: list[Result], files: SyntheticFiles, args: argparse.Namespace
) -> dict[str, Any]:
    clean = {(r.version, r.engine): r.seconds for r in results if r.scenario == "clean"}
    rows = [
        {
            "version": r.version,
            "engine": r.engine,
            "scenario": r.scenario,
            "seconds": round(r.seconds, 2),
            "x_clean": round(r.seconds / clean[(r.version, r.engine)], 2),
        }
        for r in results
    ]
    return {
        "config": {
            "records": files.records,
            "samples": files.samples,
            "existing_variants": args.existing_variants,
            "source": source_version(),
        },
        "rows": rows,
    }


def format_table(data: dict[str, Any]) -> str:
    config = data["config"]
    lines = [
        f"records {config['records']}, samples {config['samples']}, existing variants"
        f" {config['existing_variants']}, source {config['source']}",
        "",
        f"{'version':<8} {'engine':<9} {'scenario':<9} {'seconds':>8} {'x clean':>8}",
    ]
    for r in data["rows"]:
        lines.append(
            f"{r['version']:<8} {r['engine']:<9} {r['scenario']:<9} {r['seconds']:>8.2f}"
            f" {r['x_clean']:>8.2f}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plan_cliff",
        description="Ingest time with misleading statistics on vcf.variants, against clean ones.",
    )
    parser.add_argument("--records", type=int, default=200_000, help="data lines (200000)")
    parser.add_argument("--samples", type=int, default=1, help="sample columns (1)")
    parser.add_argument(
        "--existing-variants",
        type=int,
        default=2_000_000,
        metavar="N",
        help="variants already in the database for the 'existing' scenario (2000000)",
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=["plpython", "plpgsql"],
        help="engine to measure (repeatable; default both)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS[1:],
        help="scenario to measure besides clean (repeatable; default all)",
    )
    parser.add_argument(
        "--compare-version", metavar="V", help="also measure extension version V (released)"
    )
    parser.add_argument(
        "--compare-companion",
        metavar="W",
        help="the companion version released with V (needed with --compare-version)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.records < 1 or args.samples < 0 or args.existing_variants < 1:
        parser.error("--records and --existing-variants must be at least 1, --samples at least 0")
    if bool(args.compare_version) != bool(args.compare_companion):
        parser.error("--compare-version and --compare-companion go together")
    args.engine = args.engine or ["plpython", "plpgsql"]
    args.scenario = args.scenario or list(SCENARIOS[1:])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return report_main(parse_args(argv), benchmark, format_table)


if __name__ == "__main__":
    sys.exit(main())
