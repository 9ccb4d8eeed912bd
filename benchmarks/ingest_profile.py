"""Where ingest spends its time: one ingest with auto_explain on every nested statement.

auto_explain (session-level LOAD, in this throwaway cluster only) sends the
plan and duration of each statement that vcf_ingest and its helpers run back
to the client as a NOTICE; they are summed per statement text, with the time
each spent in JIT compilation. Durations nest: the statement that calls
vcf._ingest_block includes the statements inside it, and a statement with no
text is a call of a non-inlined SQL function. Instrumentation adds overhead,
so compare shares, not totals, with benchmarks.run.

    python -m benchmarks.ingest_profile [--records N] [--samples N] [--set jit=off] [--plans]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.errors import Diagnostic

from vcf_pg_loader.embedded import EmbeddedCluster
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

from .run import add_ingest_options, apply_settings, log, timed
from .synth import write_files

_DURATION = re.compile(r"duration: ([0-9.]+) ms")


@dataclass
class StatementStats:
    text: str
    calls: int = 0
    total_ms: float = 0.0
    jit_ms: float = 0.0
    slowest_ms: float = 0.0
    slowest_plan: str = ""


@dataclass
class Collector:
    """Notice handler that sums auto_explain durations and JIT time per statement."""

    stats: dict[str, StatementStats] = field(default_factory=dict)

    def __call__(self, diag: Diagnostic) -> None:
        message = diag.message_primary or ""
        duration = _DURATION.search(message)
        if duration is None:
            return
        ms = float(duration.group(1))
        plan = _plan(message)
        text = " ".join(str(plan.get("Query Text", "")).split())
        entry = self.stats.setdefault(text, StatementStats(text))
        entry.calls += 1
        entry.total_ms += ms
        entry.jit_ms += float(plan.get("JIT", {}).get("Timing", {}).get("Total", 0.0))
        if ms > entry.slowest_ms:
            entry.slowest_ms, entry.slowest_plan = ms, message


def _plan(message: str) -> dict[str, Any]:
    """The JSON document after auto_explain's 'duration: ... plan:' line."""
    try:
        document = json.loads(message.split("\n", 1)[1])
    except (IndexError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def enable_auto_explain(conn: psycopg.Connection[Any], timing: bool) -> None:
    for statement in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET auto_explain.log_analyze = on",
        f"SET auto_explain.log_timing = {'on' if timing else 'off'}",
        "SET auto_explain.log_format = 'json'",
        "SET auto_explain.log_level = 'notice'",
        "SET client_min_messages = 'notice'",
    ):
        conn.execute(statement)


def profile(home: Path, work: Path, args: argparse.Namespace) -> tuple[float, list[StatementStats]]:
    """Stage a synthetic file, then ingest it once under auto_explain."""
    files = write_files(work, args.records, args.samples)
    cluster = EmbeddedCluster(home)
    collector = Collector()
    try:
        cluster.ensure_ready()
        provider = LocalMasterKey(home / "master.key")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            apply_settings(conn, args.set)
            staged = stage_file(conn, provider, files.vcf)
            conn.execute("CHECKPOINT")
            enable_auto_explain(conn, not args.no_timing)
            conn.add_notice_handler(collector)
            seconds = timed(
                lambda: ingest_session(conn, provider, staged.session_id, engine=args.engine)
            )
    finally:
        cluster.destroy()
    return seconds, sorted(collector.stats.values(), key=lambda s: -s.total_ms)


def report(seconds: float, stats: list[StatementStats], top: int, plans: bool) -> str:
    jit = sum(s.jit_ms for s in stats)
    lines = [
        f"instrumented ingest: {seconds:.2f} s, of which JIT compilation {jit / 1000:.2f} s",
        "",
        f"{'total ms':>10} {'JIT ms':>7} {'calls':>7} {'max ms':>8}  statement",
    ]
    for s in stats[:top]:
        text = s.text[:100] or "(no text: a non-inlined SQL function body)"
        lines.append(
            f"{s.total_ms:>10.0f} {s.jit_ms:>7.0f} {s.calls:>7} {s.slowest_ms:>8.0f}  {text}"
        )
    if plans:
        for s in stats[:top]:
            lines += ["", f"--- {s.text[:80]} ({s.slowest_ms:.0f} ms)", s.slowest_plan]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest_profile",
        description="Per-statement time of one ingest, from auto_explain.",
    )
    parser.add_argument("--records", type=int, default=200_000, help="data lines (200000)")
    parser.add_argument("--samples", type=int, default=1, help="sample columns (1)")
    parser.add_argument("--top", type=int, default=12, help="statements to list (12)")
    parser.add_argument("--plans", action="store_true", help="print the slowest plans (JSON)")
    parser.add_argument(
        "--no-timing", action="store_true", help="row counts only: less instrumentation overhead"
    )
    add_ingest_options(parser, "the ingest")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="vcf-bench-home-") as home,
        tempfile.TemporaryDirectory(prefix="vcf-bench-data-") as work,
    ):
        log(f"profiling one ingest of {args.records} records x {args.samples} samples")
        seconds, stats = profile(Path(home), Path(work), args)
    print(report(seconds, stats, args.top, args.plans))
    return 0


if __name__ == "__main__":
    sys.exit(main())
