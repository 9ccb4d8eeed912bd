"""Run the extension's pgTAP suite (tests/sql/*.sql) with pg_prove against the test cluster.

The SQL tests are the extension's own contract (crypto, keys, privileges,
ingest); running them here makes them part of every integration run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

SQL_TESTS = Path(__file__).resolve().parents[2] / "sql"


def test_pgtap_suite(conninfo: str, conn: psycopg.Connection[Any]) -> None:
    pg_prove = shutil.which("pg_prove")
    if pg_prove is None:
        pytest.fail(
            "pg_prove is not on PATH; 'make setup' installs it (Debian: apt-get install pgtap)"
        )
    files = sorted(SQL_TESTS.glob("*.sql"))
    assert files, f"no pgTAP files found in {SQL_TESTS}"

    conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")

    params = conninfo_to_dict(conninfo)
    args = [pg_prove, "--verbose"]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-d", "dbname"), ("-U", "user")):
        if params.get(key):
            args += [flag, str(params[key])]
    # Connection settings come from the arguments only, not from the caller's PG* environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    result = subprocess.run(
        [*args, *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"pg_prove exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
