"""Using your own PostgreSQL: --db / VCF_PG_LOADER_DB_URL, keys init, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from conftest import DATA


@pytest.fixture(scope="module")
def own_db(conninfo: str) -> str:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS own_genomics")
        conn.execute("CREATE DATABASE own_genomics")
    params = conninfo_to_dict(conninfo)
    params["dbname"] = "own_genomics"
    url = make_conninfo(**{k: str(v) for k, v in params.items()})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vcf_pg_loader CASCADE")
    return url


def test_keys_init_then_load(own_db: str, vcfctl: Any, tmp_path: Path) -> None:
    env = {"VCF_PG_LOADER_HOME": str(tmp_path / "home2")}
    before = vcfctl("--db", own_db, "load", str(DATA / "example.vcf"), env=env)
    assert before.returncode == 5
    assert "master key file" in before.stderr and "keys init" in before.stderr

    init = vcfctl("--db", own_db, "keys", "init", env=env)
    assert init.returncode == 0, init.stderr
    assert "created: PHI key" in init.stdout
    assert (tmp_path / "home2" / "master.key").stat().st_mode & 0o777 == 0o600
    again = vcfctl("--db", own_db, "keys", "init", env=env)
    assert "already active" in again.stdout

    env["VCF_PG_LOADER_DB_URL"] = own_db
    loaded = vcfctl("load", "--format", "json", str(DATA / "example.vcf"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)[0]["variants"] == 9
    keys = json.loads(vcfctl("keys", "list", "--format", "json", env=env).stdout)
    assert sorted((k["purpose"], k["state"]) for k in keys) == [
        ("phi", "active"),
        ("staging", "destroyed"),
    ]
    assert all("wrapped_key" not in k for k in keys)


def test_password_in_url_refused(vcfctl: Any) -> None:
    result = vcfctl("--db", "postgresql://loader:s3cret-pw@db.example.org/vcf", "sessions", "list")
    assert result.returncode == 1
    assert "contains a password" in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_database_without_extension(conninfo: str, vcfctl: Any) -> None:
    params = conninfo_to_dict(conninfo)
    params["dbname"] = "postgres"
    url = make_conninfo(**{k: str(v) for k, v in params.items()})
    result = vcfctl("--db", url, "sessions", "list")
    assert result.returncode == 4
    assert "not installed in this database" in result.stderr


def test_unreachable_database(vcfctl: Any, tmp_path: Path) -> None:
    result = vcfctl("--db", f"host={tmp_path} dbname=x", "sessions", "list")
    assert result.returncode == 4
    assert "cannot connect to the database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
