"""The embedded cluster: private, socket-only, not root, idempotent; vcfctl db commands."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from vcf_pg_loader import EXTENSION_VERSION, tle

pytestmark = pytest.mark.embedded


def test_db_status_json(vcfctl: Any, home: Path) -> None:
    result = vcfctl("db", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["running"] is True and info["initialized"] is True
    assert info["home"] == str(home.resolve())
    assert info["database"] == "vcf"


def test_db_url_works_with_psql(vcfctl: Any) -> None:
    url = vcfctl("db", "url").stdout.strip()
    out = subprocess.run(
        [
            "psql",
            url,
            "-Atc",
            "SELECT extversion FROM pg_extension WHERE extname = 'vcf_pg_loader'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == EXTENSION_VERSION


def test_socket_only_and_not_root(conn: psycopg.Connection[Any], cluster: Any) -> None:
    row = conn.execute("SELECT current_setting('listen_addresses')").fetchone()
    assert row is not None and row[0] == ""
    pid = cluster.pid()
    assert pid is not None
    assert os.stat(f"/proc/{pid}").st_uid != 0
    assert (cluster.socket_dir.stat().st_mode & 0o777) == 0o700


def test_both_extensions_and_search_path(conn: psycopg.Connection[Any]) -> None:
    names = {r[0] for r in conn.execute("SELECT extname FROM pg_extension").fetchall()}
    assert {"vcf_pg_loader", "vcf_pg_loader_plpython", "pgcrypto", "plpython3u"} <= names
    info = conn.execute("SELECT vcf.plpython_info()").fetchone()
    assert info is not None and info[0]["python"].startswith("3.")
    row = conn.execute(
        "SELECT vcf_ingest IS NOT NULL FROM (SELECT 'vcf_ingest'::regproc) t(vcf_ingest)"
    ).fetchone()
    assert row is not None and row[0]


def test_master_key_and_phi_key(home: Path, conn: psycopg.Connection[Any]) -> None:
    key_file = home / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_bytes()) == 32
    rows = conn.execute(
        "SELECT provider, state FROM vcf.data_keys WHERE purpose = 'phi'"
    ).fetchall()
    assert rows == [("local", "active")]


def test_start_is_idempotent(vcfctl: Any, cluster: Any) -> None:
    pid = cluster.pid()
    for _ in range(2):
        result = vcfctl("db", "start")
        assert result.returncode == 0, result.stderr
    assert cluster.pid() == pid


def test_two_homes_never_share_a_cluster(tmp_path: Path, cluster: Any) -> None:
    from vcf_pg_loader.embedded import EmbeddedCluster

    other = EmbeddedCluster(tmp_path / "other-home")
    assert other.root != cluster.root
    assert other.socket_dir != cluster.socket_dir


def test_stop_and_restart_on_demand(tmp_path: Path) -> None:
    from vcf_pg_loader.embedded import EmbeddedCluster

    c = EmbeddedCluster(tmp_path / "h")
    try:
        c.ensure_ready()
        c.stop()
        assert not c.running()
        with psycopg.connect(c.ensure_ready()) as conn:
            row = conn.execute(
                "SELECT count(*) FROM vcf.data_keys WHERE purpose = 'phi'"
            ).fetchone()
            assert row == (1,)
    finally:
        c.destroy()


def test_a_cluster_of_the_previous_release_upgrades_itself(tmp_path: Path) -> None:
    """A cluster made by vcfctl 0.1.0 is brought to this version when it next starts."""
    from psycopg import sql

    from vcf_pg_loader.embedded import DATABASE, EmbeddedCluster

    c = EmbeddedCluster(tmp_path / "h")
    try:
        c.start()
        with psycopg.connect(c.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        with psycopg.connect(c.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vcf_pg_loader VERSION '0.1.0' CASCADE")
            conn.execute("CREATE EXTENSION vcf_pg_loader_plpython VERSION '0.1.0' CASCADE")
        with psycopg.connect(c.ensure_ready()) as conn:
            versions = dict(
                conn.execute(
                    "SELECT e.extname, e.extversion = a.default_version FROM pg_extension e"
                    " JOIN pg_available_extensions a ON a.name = e.extname"
                    " WHERE e.extname LIKE 'vcf_pg_loader%'"
                ).fetchall()
            )
            assert versions == {"vcf_pg_loader": True, "vcf_pg_loader_plpython": True}
            assert conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vcf_pg_loader'"
            ).fetchone() == (EXTENSION_VERSION,)
            steps = tle.upgrade_steps("0.1.0", EXTENSION_VERSION, tle.EXTENSION_DIR)
            rows = conn.execute(
                "SELECT target, details->>'from', details->>'to' FROM vcf.audit_log"
                " WHERE action = 'extension_update' ORDER BY audit_id"
            ).fetchall()
            core = [r for r in rows if r[0] == tle.EXTENSION]
            assert core == [(tle.EXTENSION, a, b) for a, b, _ in steps]
            # then the companion's steps, one after another, from 0.1.0
            companion = rows[len(core) :]
            assert companion and all(r[0] == tle.COMPANION for r in companion)
            assert companion[0][1] == "0.1.0"
            assert all(x[2] == y[1] for x, y in itertools.pairwise(companion))
    finally:
        c.destroy()
