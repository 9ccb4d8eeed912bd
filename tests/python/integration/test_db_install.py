"""vcfctl db install --via files (auto, without pg_tle), on a server that has the files."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from vcf_pg_loader import EXTENSION_VERSION

pytestmark = pytest.mark.extension_files


def test_install_from_the_servers_files(conn: psycopg.Connection[Any], vcfctl: Any) -> None:
    conn.execute("DROP DATABASE IF EXISTS files_install")
    conn.execute("CREATE DATABASE files_install")
    try:
        url = make_conninfo(conn.info.dsn, dbname="files_install")
        out = vcfctl("db", "install", env={"VCF_PG_LOADER_DB_URL": url})
        assert out.returncode == 0, out.stderr
        assert f"installed: vcf_pg_loader {EXTENSION_VERSION} (via files)" in out.stdout
        again = vcfctl("db", "install", "--via", "files", env={"VCF_PG_LOADER_DB_URL": url})
        assert again.returncode == 0 and "already installed" in again.stdout, again.stderr
        refused = vcfctl("db", "install", "--via", "pg_tle", env={"VCF_PG_LOADER_DB_URL": url})
        assert refused.returncode == 0, refused.stderr  # already installed: nothing to do
        embedded = vcfctl("db", "install")
        assert embedded.returncode != 0 and "embedded cluster installs itself" in embedded.stderr
    finally:
        conn.execute("DROP DATABASE files_install WITH (FORCE)")
