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
def own_db(cluster: Any) -> str:
    cluster.drop_database("own_genomics")
    return str(cluster.create_database("own_genomics"))


def test_keys_init_then_load(own_db: str, vcfctl: Any, tmp_path: Path) -> None:
    env = {"VCF_PG_LOADER_HOME": str(tmp_path / "home2")}
    before = vcfctl("--db", own_db, "load", "--reload", str(DATA / "example.vcf"), env=env)
    assert before.returncode == 5
    assert "master key file" in before.stderr and "keys init" in before.stderr

    init = vcfctl("--db", own_db, "keys", "init", env=env)
    assert init.returncode == 0, init.stderr
    assert "created: PHI key" in init.stdout
    assert (tmp_path / "home2" / "master.key").stat().st_mode & 0o777 == 0o600
    again = vcfctl("--db", own_db, "keys", "init", env=env)
    assert "already active" in again.stdout

    env["VCF_PG_LOADER_DB_URL"] = own_db
    loaded = vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf"), env=env)
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


@pytest.mark.embedded
def test_master_key_file_setting_is_honoured(vcfctl: Any, tmp_path: Path) -> None:
    from vcf_pg_loader.embedded import EmbeddedCluster

    home, key = tmp_path / "h3", tmp_path / "keys" / "kek.bin"
    env = {"VCF_PG_LOADER_HOME": str(home), "VCF_PG_LOADER_MASTER_KEY_FILE": str(key)}
    try:
        result = vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf"), env=env)
        assert result.returncode == 0, result.stderr
        assert key.stat().st_mode & 0o777 == 0o600
        assert not (home / "master.key").exists()
    finally:
        EmbeddedCluster(home).destroy()


def test_wrapped_key_moved_with_its_context_is_refused(
    conn: psycopg.Connection[Any], home: Path
) -> None:
    from vcf_pg_loader.errors import KeyError_
    from vcf_pg_loader.keys.local import LocalMasterKey
    from vcf_pg_loader.keys.registry import load_data_key
    from vcf_pg_loader.staging import stage_file

    provider = LocalMasterKey(home / "master.key")
    a = stage_file(conn, provider, DATA / "example.vcf", reload=True)
    b = stage_file(conn, provider, DATA / "example.vcf", reload=True)
    ka, kb = (
        conn.execute(
            "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (s.session_id,)
        ).fetchone()[0]  # type: ignore[index]
        for s in (a, b)
    )
    conn.execute(
        "UPDATE vcf.data_keys d SET wrapped_key = o.wrapped_key,"
        " encryption_context = o.encryption_context, key_check = o.key_check"
        " FROM vcf.data_keys o WHERE d.key_id = %s AND o.key_id = %s",
        (kb, ka),
    )
    with pytest.raises(KeyError_, match="encryption context names another key"):
        load_data_key(conn, provider, kb)
    for s in (a, b):
        conn.execute("SELECT vcf.session_purge(%s)", (s.session_id,))
