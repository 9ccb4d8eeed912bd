"""Concurrent writers leave one unbroken chain: 8 loads in parallel, plus failing
ingests and refused reveals (autonomous rows) at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg

from helpers import synthetic_records, write_vcf


def test_eight_parallel_loads_leave_one_unbroken_chain(
    vcfctl: Any,
    conn: psycopg.Connection[Any],
    conninfo: str,
    home: Path,
    tmp_path: Path,
    cluster: Any,
) -> None:
    before = conn.execute("SELECT coalesce(max(chain_no), 0) FROM vcf.audit_log").fetchone()
    assert before is not None
    files = []
    for i in range(8):
        tag = uuid.uuid4().hex[:10]
        files.append(
            write_vcf(
                tmp_path / f"p{i}.vcf", [f"PAR-{tag}-A", f"PAR-{tag}-B"], synthetic_records(2000, 2)
            )
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    env.update(cluster.client_env())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vcf_pg_loader", "load", "--format", "json", str(f)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for f in files
    ]

    # Meanwhile: refused reveals and failing ingests write autonomous rows.
    stop = threading.Event()
    refusals = [0]

    def refuse() -> None:
        with psycopg.connect(conninfo, autocommit=True) as c:
            while not stop.is_set():
                try:
                    c.execute("SELECT vcf.reveal_sample(-1, '')")
                except psycopg.Error:
                    refusals[0] += 1
                try:
                    c.execute("SELECT * FROM vcf.vcf_ingest(%s)", (uuid.uuid4(),))
                except psycopg.Error:
                    refusals[0] += 1

    threads = [threading.Thread(target=refuse) for _ in range(2)]
    for t in threads:
        t.start()
    outputs = [p.communicate(timeout=600) for p in procs]
    stop.set()
    for t in threads:
        t.join()

    sessions = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        sessions.append(json.loads(out)[0]["session_id"])
    assert refusals[0] >= 2
    overlapping = conn.execute(
        "SELECT count(*) FROM vcf.sessions a JOIN vcf.sessions b"
        " ON a.session_id < b.session_id AND a.created_at < b.finished_at"
        " AND b.created_at < a.finished_at"
        " WHERE a.session_id = ANY(%s::uuid[]) AND b.session_id = ANY(%s::uuid[])",
        (sessions, sessions),
    ).fetchone()
    assert overlapping is not None and overlapping[0] > 0, "the loads did run at the same time"

    result = vcfctl("audit", "verify", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True
    rows = conn.execute(
        "SELECT chain_no, action, target, succeeded FROM vcf.audit_log"
        " WHERE chain_no > %s ORDER BY chain_no",
        (before[0],),
    ).fetchall()
    assert [r[0] for r in rows] == list(range(before[0] + 1, before[0] + 1 + len(rows)))
    ingested = {r[2] for r in rows if r[1] == "ingest" and r[3]}
    assert ingested >= set(sessions)
    assert sum(1 for r in rows if not r[3]) >= refusals[0]
    unchained = conn.execute("SELECT count(*) FROM vcf.audit_log WHERE chain_no IS NULL").fetchone()
    assert unchained == (0,)
    queue = conn.execute("SELECT count(*) FROM vcf.audit_seal_queue").fetchone()
    assert queue == (0,)
