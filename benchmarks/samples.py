"""Load time against the sample count: header handling must be linear in it.

Files with 10,000, 30,000 and 100,000 samples and a few records are staged
and ingested with each engine in one throwaway embedded cluster. Each engine
loads its own sample names, so both pay for creating every sample (blind
index, encrypted name). The header's share is read from
pg_stat_user_functions (track_functions = all). Issue 9 item 7: before, 10k
samples took 6 s, 30k 37 s, and 100k never finished.

    python -m benchmarks.samples [--samples 10000,30000,100000] [--records N] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from vcf_pg_loader.embedded import EmbeddedCluster
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

from .run import checkpoint, extension_fingerprint, log, peak_rss_mib, source_version

ENGINES = ("plpgsql", "plpython")
_GTS = ("0/0", "0/1", "1/1", "./.")


def write_wide(path: Path, samples: int, records: int, prefix: str) -> int:
    """A VCF with many sample columns and a few GT records; returns its size."""
    with open(path, "w") as fh:
        fh.write(
            "##fileformat=VCFv4.2\n"
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
            "##contig=<ID=chr1>\n"
        )
        names = "\t".join(f"{prefix}-{i:07d}" for i in range(samples))
        fh.write(f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{names}\n")
        for r in range(records):
            calls = "\t".join(_GTS[(r + s) % len(_GTS)] for s in range(samples))
            fh.write(f"chr1\t{100 + r}\t.\tA\tG\t50\tPASS\t.\tGT\t{calls}\n")
    return path.stat().st_size


def header_seconds(conn: psycopg.Connection[Any]) -> float:
    """Time spent in vcf._ingest_header since the last reset, from the statistics."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute(
        "SELECT coalesce(sum(total_time), 0) FROM pg_stat_user_functions"
        " WHERE schemaname = 'vcf' AND funcname = '_ingest_header'"
    ).fetchone()
    return float(row[0]) / 1000 if row else 0.0


def measure(
    conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    work: Path,
    samples: int,
    records: int,
    engine: str,
) -> dict[str, Any]:
    path = work / f"wide-{samples}-{engine}.vcf"
    size = write_wide(path, samples, records, f"{engine}{samples}")
    checkpoint(conn)
    conn.execute("SELECT pg_stat_reset()")
    start = time.perf_counter()
    staged = stage_file(conn, provider, path)
    middle = time.perf_counter()
    done = ingest_session(conn, provider, staged.session_id, engine=engine)
    end = time.perf_counter()
    path.unlink()
    if done.samples != samples or done.calls != samples * records:
        raise RuntimeError(f"loaded {done.samples} samples and {done.calls} calls")
    return {
        "samples": samples,
        "engine": engine,
        "records": records,
        "vcf_mb": round(size / 1e6, 2),
        "stage_s": round(middle - start, 3),
        "ingest_s": round(end - middle, 3),
        "header_s": round(header_seconds(conn), 3),
        "load_s": round(end - start, 3),
        "us_per_sample": round((end - start) / samples * 1e6, 1),
    }


def configuration_basics(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("SHOW server_version").fetchone()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source_version(),
        "extension": extension_fingerprint(conn),
        "postgresql": str(row[0]) if row else "?",
        "cores": os.cpu_count(),
    }


def format_table(config: dict[str, Any], rows: list[dict[str, Any]], rss: float) -> str:
    lines = [
        f"{config['records']} records per file, PostgreSQL {config['postgresql']},"
        f" {config['cores']} cores, {config['date']}",
        f"source {config['source']}, extension {config['extension']}",
        "",
        f"{'samples':>8} {'engine':<9} {'MB':>6} {'stage s':>8} {'header s':>9}"
        f" {'ingest s':>9} {'load s':>8} {'us/sample':>10}",
    ]
    for r in rows:
        lines.append(
            f"{r['samples']:>8,} {r['engine']:<9} {r['vcf_mb']:>6.1f} {r['stage_s']:>8.2f}"
            f" {r['header_s']:>9.2f} {r['ingest_s']:>9.2f} {r['load_s']:>8.2f}"
            f" {r['us_per_sample']:>10.1f}"
        )
    lines += [
        "",
        "header s: time in vcf._ingest_header (part of ingest s); us/sample: load s per sample,",
        "flat when load time is linear in the sample count",
        f"peak RSS of the Python process: {rss:.0f} MiB",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", default="10000,30000,100000")
    parser.add_argument("--records", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(x) for x in args.samples.split(",")]
    importlib.import_module("cyvcf2")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vcf-bench-samples-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        work.mkdir(parents=True)
        cluster = EmbeddedCluster(home)
        try:
            log("starting a throwaway embedded cluster")
            cluster.ensure_ready()
            provider = LocalMasterKey(home / "master.key")
            with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
                conn.execute("SET track_functions = 'all'")
                for n in counts:
                    for engine in ENGINES:
                        rows.append(measure(conn, provider, work, n, args.records, engine))
                        log(f"{n} samples, {engine}: {rows[-1]['load_s']:.2f} s")
                config = configuration_basics(conn)
        finally:
            cluster.destroy()
    config["records"] = args.records
    rss = peak_rss_mib()
    if args.json:
        print(json.dumps({"config": config, "rows": rows, "peak_rss_mib": round(rss, 1)}, indent=2))
    else:
        print(format_table(config, rows, rss))


if __name__ == "__main__":
    main()
