"""Sessions: list, show, purge (crypto-shredding); an interrupted stage leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from conftest import DATA
from helpers import synthetic_records, write_vcf


def test_list_and_show(vcfctl: Any) -> None:
    sid = json.loads(
        vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf")).stdout
    )[0]["session_id"]
    listed = json.loads(vcfctl("sessions", "list", "--format", "json").stdout)
    assert sid in [s["session_id"] for s in listed]
    shown = json.loads(vcfctl("sessions", "show", sid, "--format", "json").stdout)
    assert shown["state"] == "ingested" and shown["records"] == 6
    assert shown["staged_blocks_present"] == 0
    assert "MRN" not in json.dumps(listed) + json.dumps(shown)


def test_show_unknown_session(vcfctl: Any) -> None:
    result = vcfctl("sessions", "show", "00000000-0000-0000-0000-000000000000")
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_purge_shreds_a_staged_session(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    sid = vcfctl("stage", "--reload", str(DATA / "example.vcf")).stdout.strip()
    result = vcfctl("sessions", "purge", sid)
    assert result.returncode == 0 and f"{sid} purged" in result.stdout
    assert conn.execute(
        "SELECT count(*) FROM vcf.staged_blocks WHERE session_id = %s", (sid,)
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT k.state, k.wrapped_key IS NULL FROM vcf.sessions s JOIN vcf.data_keys k"
        " ON k.key_id = s.staging_key_id WHERE s.session_id = %s",
        (sid,),
    ).fetchone() == ("destroyed", True)
    again = vcfctl("ingest", sid)
    assert again.returncode != 0 and "purged" in again.stderr


def test_purge_refuses_ingested(vcfctl: Any) -> None:
    sid = json.loads(
        vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf")).stdout
    )[0]["session_id"]
    result = vcfctl("sessions", "purge", sid)
    assert result.returncode == 1 and "only unfinished sessions" in result.stderr


def test_purge_incomplete(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    sids = [vcfctl("stage", "--reload", str(DATA / "example.vcf")).stdout.strip() for _ in range(2)]
    result = vcfctl("sessions", "purge", "--incomplete")
    assert result.returncode == 0
    for sid in sids:
        assert f"{sid} purged" in result.stdout
    assert conn.execute(
        "SELECT count(*) FROM vcf.staged_blocks WHERE session_id = ANY(%s::uuid[])", (sids,)
    ).fetchone() == (0,)
    assert vcfctl("sessions", "purge").returncode == 2


def test_killed_stage_leaves_no_half_written_rows(
    home: Path, conn: psycopg.Connection[Any], cluster: Any, tmp_path: Path
) -> None:
    path = write_vcf(tmp_path / "big.vcf", ["K1", "K2", "K3", "K4"], synthetic_records(400_000, 4))
    sessions_before = conn.execute("SELECT count(*) FROM vcf.sessions").fetchone()
    blocks_before = conn.execute("SELECT count(*) FROM vcf.staged_blocks").fetchone()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    env.update(cluster.client_env())
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcf_pg_loader", "stage", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until its COPY is under way
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY vcf.staged_blocks%%'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()
        if row and row[0]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the stage never reached its COPY")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for _ in range(100):  # the server notices the dead client and rolls back
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY vcf.staged_blocks%%'"
            " AND pid <> pg_backend_pid() AND state <> 'idle'"
        ).fetchone()
        if busy == (0,):
            break
        time.sleep(0.1)
    assert conn.execute("SELECT count(*) FROM vcf.sessions").fetchone() == sessions_before
    assert conn.execute("SELECT count(*) FROM vcf.staged_blocks").fetchone() == blocks_before
