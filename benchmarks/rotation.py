"""Throughput of a PHI key rotation against a raw COPY of the same values.

Loads files with many samples into a throwaway embedded cluster, then times
full rotations (vcfctl's own code: keys.rotation, batches each committed) and,
in the same run, a binary COPY of the same rows (sample id, encrypted name,
blind index) into a plain table: the ratio says what re-encrypting in the
database costs over writing the bytes.

    python -m benchmarks.rotation [--samples N] [--files N] [--batch-size N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from vcf_pg_loader.embedded import EmbeddedCluster
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.rotation import begin_rotation, rotate
from vcf_pg_loader.staging import stage_file

from .run import YARDSTICK_RUNS, in_throwaway_dirs, log

Conn = psycopg.Connection[Any]
_YARDSTICK_DDL = (
    "CREATE TABLE IF NOT EXISTS bench.rotation_yardstick"
    " (sample_id bigint PRIMARY KEY, name_enc bytea NOT NULL, blind_index bytea NOT NULL UNIQUE)"
)


def write_file(path: Path, file_no: int, samples: int) -> Path:
    """A VCF with `samples` sample columns and two records."""
    names = [f"Rotation Bench {file_no}-{i:06d}" for i in range(samples)]
    header = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "##contig=<ID=chr1>",
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *names]
        ),
    ]
    records = [
        "\t".join(["chr1", str(pos), ".", "A", "G", "50", "PASS", ".", "GT", *(["0/1"] * samples)])
        for pos in (100, 200)
    ]
    path.write_text("\n".join(header + records) + "\n")
    return path


def copy_yardstick(conn: Conn) -> float:
    """Seconds to COPY the samples' rows (as stored) into a plain table with the same keys."""
    rows = conn.execute("SELECT sample_id, name_enc, blind_index FROM vcf.samples").fetchall()
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    conn.execute(_YARDSTICK_DDL)
    conn.execute("TRUNCATE bench.rotation_yardstick")
    conn.execute("CHECKPOINT")
    start = time.perf_counter()
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(
            "COPY bench.rotation_yardstick (sample_id, name_enc, blind_index) FROM STDIN"
            " (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "bytea", "bytea"])
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - start


def time_rotation(conn: Conn, provider: LocalMasterKey, batch_size: int) -> tuple[float, int]:
    """Seconds for one whole rotation, and the values it moved."""
    conn.execute("CHECKPOINT")
    moved = 0

    def count(result: Any) -> None:
        nonlocal moved
        moved += result.rotated

    start = time.perf_counter()
    begin_rotation(conn, provider)
    rotate(conn, provider, batch_size, count)
    return time.perf_counter() - start, moved


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    cluster = EmbeddedCluster(home)
    try:
        log("starting a throwaway embedded cluster")
        cluster.ensure_ready()
        provider = LocalMasterKey(home / "master.key")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            for n in range(args.files):
                log(f"loading file {n + 1} of {args.files} ({args.samples} samples)")
                path = write_file(work / f"rotation-{n}.vcf", n, args.samples)
                staged = stage_file(conn, provider, path)
                ingest_session(conn, provider, staged.session_id)
            copies = [copy_yardstick(conn) for _ in range(YARDSTICK_RUNS)]
            rotations = []
            for r in range(args.repeat):
                log(f"rotation {r + 1} of {args.repeat}, batches of {args.batch_size}")
                rotations.append(time_rotation(conn, provider, args.batch_size))
            row = conn.execute("SELECT count(*) FROM vcf.samples").fetchone()
            samples = int(row[0]) if row else 0
    finally:
        cluster.destroy()
    copy_s = statistics.median(copies)
    rotate_s = statistics.median(s for s, _ in rotations)
    values = rotations[0][1]
    return {
        "samples": samples,
        "values": values,
        "batch_size": args.batch_size,
        "repeat": args.repeat,
        "copy_seconds": round(copy_s, 4),
        "rotation_seconds": round(rotate_s, 3),
        "values_per_second": round(values / rotate_s),
        "ratio_to_copy": round(rotate_s / copy_s, 1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rotation",
        description="PHI key rotation throughput against a raw COPY of the same values.",
    )
    parser.add_argument("--samples", type=int, default=5000, help="samples per file (5000)")
    parser.add_argument("--files", type=int, default=4, help="files loaded (4)")
    parser.add_argument("--batch-size", type=int, default=500, help="rotation batch (500)")
    parser.add_argument("--repeat", type=int, default=3, help="rotations timed; median (3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args(argv)
    if min(args.samples, args.files, args.batch_size, args.repeat) < 1:
        parser.error("every count must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = in_throwaway_dirs(benchmark, args)
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, value in report.items():
            print(f"{name:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
