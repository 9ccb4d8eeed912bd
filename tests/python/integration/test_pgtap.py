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
# What only the PL/Python companion has: not run where it does not exist (portable profile).
PLPYTHON_FILES = {"ingest_py.sql", "server_unlock.sql"}
# libpq settings of the conninfo that pg_prove's psql takes from the environment.
LIBPQ_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "passfile": "PGPASSFILE"}


def test_pgtap_suite(
    superuser_conninfo: str, superuser_conn: psycopg.Connection[Any], engines: list[str]
) -> None:
    """As the server's superuser in both profiles: the fixtures tamper (session_replication_role),
    write staged blocks past the guard and SET ROLE to roles of their own."""
    conninfo, conn = superuser_conninfo, superuser_conn
    pg_prove = shutil.which("pg_prove")
    if pg_prove is None:
        pytest.fail(
            "pg_prove is not on PATH; 'make setup' installs it (Debian: apt-get install pgtap)"
        )
    files = sorted(
        f for f in SQL_TESTS.glob("*.sql") if "plpython" in engines or f.name not in PLPYTHON_FILES
    )
    assert files, f"no pgTAP files found in {SQL_TESTS}"

    conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")

    params = conninfo_to_dict(conninfo)
    args = [pg_prove, "--verbose"]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-d", "dbname"), ("-U", "user")):
        if params.get(key):
            args += [flag, str(params[key])]
    # Connection settings come from the arguments only, not from the caller's PG* environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({var: str(params[key]) for key, var in LIBPQ_ENV.items() if params.get(key)})
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
