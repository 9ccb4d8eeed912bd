"""The same file through vcf-pg-loader 0.5.4 (PyPI) and through vcfctl, side by side.

vcf-pg-loader 0.5.4 is an unrelated project of the same name (asyncpg,
binary COPY, no encryption, no genotypes stored per sample by default). It
is installed from PyPI into its own virtual environment (``build/peer-venv``
unless ``--peer-venv``), so that its pinned dependencies never meet ours. One
throwaway embedded cluster is opened to TCP on 127.0.0.1 (scram-sha-256, a
random password given to the peer in PGPASSWORD, never in argv) for the
peer, which needs a TCP URL; vcfctl uses the cluster's Unix socket as it
always does. Each tool loads the same synthetic file into its own database
of that cluster, as a child process timed from start to exit (both pay their
start-up), ``--repeat`` times; the report gives records/s, the ratio
ours / peer, each child's peak RSS and each database's size.

    python -m benchmarks.peer [--records N] [--samples N] [--repeat K] [--json]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vcf_pg_loader.embedded import PORT, EmbeddedCluster

from .memory import Child, run_child
from .run import log, report_main, source_version
from .synth import round_file, write_files

PEER = "vcf-pg-loader==0.5.4"
PEER_DATABASE = "peer"
PEER_ROLE = "peer"
DEFAULT_VENV = Path(__file__).resolve().parents[1] / "build" / "peer-venv"


def peer_venv(path: Path) -> Path:
    """The peer's own venv, created and installed from PyPI when missing; its CLI."""
    cli = path / "bin" / "vcf-pg-loader"
    if not cli.exists():
        log(f"installing {PEER} into {path}")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(path / "bin" / "pip"), "install", "-q", PEER],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return cli


def open_tcp(cluster: EmbeddedCluster, password: str) -> None:
    """Let the peer's role in over TCP on 127.0.0.1 with a password, then restart."""
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as c:
        c.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(PEER_ROLE), sql.Literal(password)
            )
        )
        c.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(PEER_DATABASE), sql.Identifier(PEER_ROLE)
            )
        )
        c.execute("ALTER SYSTEM SET listen_addresses = '127.0.0.1'")
        hba = c.execute("SHOW hba_file").fetchone()
    assert hba is not None
    # first, before initdb's "host all all ... reject" lines: the first match wins
    path = Path(hba[0])
    rule = f"host {PEER_DATABASE} {PEER_ROLE} 127.0.0.1/32 scram-sha-256\n"
    path.write_text(rule + path.read_text())
    cluster.stop()
    cluster.start()


def child(argv: list[str], env: dict[str, str]) -> Child:
    result = run_child(argv, env)
    if result.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} exited {result.returncode}: {(result.stderr or result.stdout)[-2000:]}"
        )
    return result


def database_size(cluster: EmbeddedCluster, name: str) -> int:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as c:
        row = c.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return int(row[0]) if row else 0


def benchmark(home: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    cli = peer_venv(args.peer_venv)
    log(f"writing {args.records} records x {args.samples} samples")
    files = write_files(work, args.records, args.samples)
    cluster = EmbeddedCluster(home)
    password = secrets.token_urlsafe(24)
    times: dict[str, list[float]] = {"peer": [], "vcfctl": []}
    rss: dict[str, float] = {}
    try:
        log("starting a throwaway embedded cluster, open to TCP on 127.0.0.1 for the peer")
        cluster.ensure_ready()
        open_tcp(cluster, password)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "PG"))}
        url = f"postgresql://{PEER_ROLE}@127.0.0.1:{PORT}/{PEER_DATABASE}"
        peer_env = {**base, "PGPASSWORD": password}
        ours_env = {**base, "VCF_PG_LOADER_HOME": str(home)}
        child([str(cli), "init-db", "--db", url], peer_env)
        base_size = database_size(cluster, PEER_DATABASE)
        ours_base = database_size(cluster, "vcf")
        for i in range(args.repeat):
            vcf = round_file(files, i + 1)
            peer = [str(cli), "load", str(vcf), "--db", url, "--no-progress", "--quiet"]
            if i:
                peer.append("--force")
            for name, argv, env in (
                ("peer", peer, peer_env),
                ("vcfctl", [sys.executable, "-m", "vcf_pg_loader", "load", str(vcf)], ours_env),
            ):
                done = child(argv, env)
                times[name].append(done.seconds)
                rss[name] = max(rss.get(name, 0.0), done.peak_rss_mib)
                log(f"round {i + 1}: {name} {done.seconds:.2f} s")
            vcf.unlink()
        sizes = {
            "peer": (database_size(cluster, PEER_DATABASE) - base_size) // args.repeat,
            "vcfctl": (database_size(cluster, "vcf") - ours_base) // args.repeat,
        }
    finally:
        cluster.destroy()
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "config": {
            "records": files.records,
            "samples": files.samples,
            "vcf_mb": round(files.vcf_bytes / 1e6, 2),
            "repeat": args.repeat,
            "peer": PEER,
            "source": source_version(),
        },
        "tools": {
            name: {
                "seconds": round(medians[name], 2),
                "seconds_each": [round(s, 2) for s in times[name]],
                "records_per_s": round(files.records / medians[name]),
                "peak_rss_mib": round(rss[name], 1),
                "database_bytes_per_load": sizes[name],
            }
            for name in times
        },
        "ours_over_peer_records_per_s": round(medians["peer"] / medians["vcfctl"], 2),
    }


def format_report(data: dict[str, Any]) -> str:
    c = data["config"]
    lines = [
        f"{c['records']} records x {c['samples']} samples, VCF {c['vcf_mb']} MB,"
        f" median of {c['repeat']}, source {c['source']}",
        "",
        f"{'tool':<22} {'seconds':>8} {'records/s':>10} {'MB stored':>10}",
    ]
    for name, t in data["tools"].items():
        label = c["peer"] if name == "peer" else "vcfctl load"
        lines.append(
            f"{label:<22} {t['seconds']:>8.2f} {t['records_per_s']:>10,}"
            f" {t['database_bytes_per_load'] / 1e6:>10.1f}"
        )
    lines += [
        "",
        f"ours / peer, records per second: {data['ours_over_peer_records_per_s']}",
        "peak RSS (MiB): "
        + ", ".join(f"{n} {t['peak_rss_mib']:.0f}" for n, t in data["tools"].items()),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peer",
        description=f"The same file through {PEER} (PyPI, own venv) and vcfctl load.",
    )
    parser.add_argument("--records", type=int, default=200_000, help="data lines (200000)")
    parser.add_argument("--samples", type=int, default=1, help="sample columns (1)")
    parser.add_argument("--repeat", type=int, default=1, help="loads per tool; median (1)")
    parser.add_argument(
        "--peer-venv", type=Path, default=DEFAULT_VENV, help=f"the peer's venv ({DEFAULT_VENV})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.records < 1 or args.samples < 0 or args.repeat < 1:
        parser.error("--records and --repeat must be at least 1, --samples at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return report_main(parse_args(argv), benchmark, format_report)


if __name__ == "__main__":
    sys.exit(main())
