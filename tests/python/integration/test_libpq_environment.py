"""With no --db, vcfctl goes where libpq's environment points, as psql does.

A second throwaway cluster is named only by PGHOST, PGPORT, PGDATABASE and
PGUSER: vcfctl load must write into it, say on its terminal that it did and
why, and not start (or create) the embedded cluster of its home directory,
which 0.3.0 silently used. Without a terminal (scripts) stderr carries only
errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from conftest import DATA
from helpers import on_a_terminal
from vcf_pg_loader.embedded import EmbeddedCluster

pytestmark = pytest.mark.own_cluster


def test_pghost_names_the_server_vcfctl_loads_into(vcfctl: Any, tmp_path: Path) -> None:
    other = EmbeddedCluster(tmp_path / "other-home")
    own = EmbeddedCluster(tmp_path / "own-home")
    try:
        conninfo = other.ensure_ready()  # its own master key and PHI key
        where = conninfo_to_dict(conninfo)
        env = {
            "VCF_PG_LOADER_HOME": str(tmp_path / "own-home"),
            "VCF_PG_LOADER_MASTER_KEY_FILE": str(tmp_path / "other-home" / "master.key"),
            "PGHOST": str(where["host"]),
            "PGPORT": str(where["port"]),
            "PGDATABASE": str(where["dbname"]),
            "PGUSER": str(where["user"]),
        }
        out = vcfctl("load", "--format", "json", str(DATA / "example.vcf"), env=env)
        assert out.returncode == 0, out.stderr
        [loaded] = json.loads(out.stdout)
        assert loaded["state"] == "ingested"
        assert out.stderr == ""  # not a terminal: nothing but errors
        with psycopg.connect(conninfo) as c:
            row = c.execute(
                "SELECT state FROM vcf.sessions WHERE session_id = %s", (loaded["session_id"],)
            ).fetchone()
        assert row == ("ingested",)
        status, said = on_a_terminal(["load", "--reload", str(DATA / "example.vcf")], env)
        assert status == 0, said
        assert (
            f'database "{where["dbname"]}" on {where["host"]}:{where["port"]}' in said
            and "the libpq environment: PGHOST, PGPORT, PGDATABASE" in said
        ), said
        assert not own.initialized  # the embedded cluster was neither made nor used
    finally:
        other.destroy()
        own.destroy()


def test_without_a_server_named_the_embedded_cluster_is_used_and_said(tmp_path: Path) -> None:
    own = EmbeddedCluster(tmp_path / "home")
    try:
        env = {"VCF_PG_LOADER_HOME": str(tmp_path / "home"), "PGUSER": "nobody"}
        status, said = on_a_terminal(["load", str(DATA / "example.vcf")], env)
        assert status == 0, said
        assert "(the embedded cluster)" in said and str(own.socket_dir) in said, said
    finally:
        own.destroy()
