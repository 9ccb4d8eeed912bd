"""Parallel loads: files that share every variant and sample, one after another and at once.

The same synthetic file is written ``--files`` times with one header line
more each (new content, the same records and samples: the worst case for
waiting, as with one cohort split by sample batch), and loaded three ways,
each into emptied tables with new samples:

- ``serial``: one ``vcfctl load F1 F2 ...``;
- ``processes``: one ``vcfctl load Fi`` process per file, all started at once
  (what users did before ``--jobs``: each ingest waits for the others'
  uncommitted variants and samples);
- ``jobs``: one ``vcfctl load --jobs N F1 F2 ...`` (shared rows committed
  apart, block by block).

Each is timed from start to exit of the processes, against a raw COPY of all
the files' data lines measured in the same run. ``--engine`` picks the
ingest engine.

    python -m benchmarks.jobs [--records N] [--samples N] [--files K] [--engine E] [--json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from vcf_pg_loader.embedded import EmbeddedCluster

from .run import (
    copy_raw_lines,
    log,
    prepare,
    report_main,
    source_version,
    write_data_lines,
)
from .synth import round_file, write_files

MODES = ("serial", "processes", "jobs")


def empty_loaded(conn: psycopg.Connection[Any]) -> None:
    """What the loads wrote, samples too, so that each mode starts from the same state."""
    conn.execute(
        "TRUNCATE vcf.records, vcf.record_lines, vcf.variants, vcf.session_samples, vcf.samples"
    )
    conn.execute("CHECKPOINT")


def run_mode(mode: str, paths: list[Path], env: dict[str, str], engine: str) -> float:
    """Seconds from the first process's start to the last one's exit."""
    load = [sys.executable, "-m", "vcf_pg_loader", "load", "--engine", engine]
    argvs = {
        "serial": [[*load, *map(str, paths)]],
        "processes": [[*load, str(p)] for p in paths],
        "jobs": [[*load, "--jobs", str(len(paths)), *map(str, paths)]],
    }[mode]
    start = time.perf_counter()
    children = [
        subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for a in argvs
    ]
    for child in children:
        _, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"{mode}: vcfctl load exited {child.returncode}: {err[-2000:]}")
    return time.perf_counter() - start


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    log(f"writing {args.records} records x {args.samples} samples, {args.files} copies")
    files = write_files(work, args.records, args.samples)
    lines = write_data_lines(files)
    cluster = EmbeddedCluster(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    seconds: dict[str, float] = {}
    try:
        cluster.ensure_ready()
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            prepare(conn)
            raw = sum(copy_raw_lines(conn, lines) for _ in range(args.files))
            for i, mode in enumerate(MODES):
                empty_loaded(conn)
                paths = [round_file(files, 100 * i + k) for k in range(args.files)]
                seconds[mode] = run_mode(mode, paths, env, args.engine)
                log(f"{mode}: {seconds[mode]:.2f} s")
                for p in paths:
                    p.unlink()
    finally:
        cluster.destroy()
    records = files.records * args.files
    return {
        "config": {
            "records": files.records,
            "samples": files.samples,
            "files": args.files,
            "engine": args.engine,
            "cores": os.cpu_count(),
            "source": source_version(),
        },
        "raw_copy_seconds": round(raw, 3),
        "modes": {
            mode: {
                "seconds": round(s, 2),
                "records_per_s": round(records / s),
                "x_serial": round(s / seconds["serial"], 2),
                "x_raw_copy": round(s / raw, 1),
            }
            for mode, s in seconds.items()
        },
    }


def format_table(data: dict[str, Any]) -> str:
    c = data["config"]
    out = [
        f"{c['files']} files of {c['records']} records x {c['samples']} samples, all variants"
        f" and samples shared; engine {c['engine']}; {c['cores']} cores; {c['source']}",
        f"raw COPY of all data lines: {data['raw_copy_seconds']:.3f} s",
        "",
        f"{'mode':<10} {'seconds':>8} {'records/s':>10} {'x serial':>9} {'x raw COPY':>11}",
    ]
    for mode, m in data["modes"].items():
        out.append(
            f"{mode:<10} {m['seconds']:>8.2f} {m['records_per_s']:>10} "
            f"{m['x_serial']:>9.2f} {m['x_raw_copy']:>11.1f}"
        )
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs", description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--files", type=int, default=2, help="copies loaded (and --jobs N)")
    parser.add_argument("--engine", choices=["plpython", "plpgsql"], default="plpython")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.files < 2:
        parser.error("--files must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return report_main(parse_args(argv), benchmark, format_table)


if __name__ == "__main__":
    raise SystemExit(main())
