"""No PHI in plaintext in any table, and no PHI or key material in the server log."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import phi_key, staging_key, synthetic_records, write_vcf
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

SAMPLES = ["ZQXPATIENT-ALPHA-90210", "ZQXPATIENT-BRAVO-31337", "ZQXPATIENT-CHARLIE-4711"]
HEADER_SECRET = "ZQXHEADER-Dr-Jane-Quincy-ward-7"
DIR_SECRET = "ZQXPATHDIR-MRN-555-12-3456"


def _needles(*keys: bytes) -> list[bytes]:
    out = [s.encode() for s in [*SAMPLES, HEADER_SECRET, DIR_SECRET]]
    for key in keys:
        out += [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]
    return out


def _all_values(conn: psycopg.Connection[Any]) -> list[tuple[str, bytes]]:
    """Every value of every column of every table in schema vcf, as bytes."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'vcf' AND c.relkind IN ('r', 'p')"
        ).fetchall()
    ]
    expected = {"samples", "sessions", "audit_log", "data_keys", "records", "record_lines"}
    assert expected <= set(tables)
    values: list[tuple[str, bytes]] = []
    for table in tables:
        with conn.cursor() as cur:
            cur.execute(
                psycopg.sql.SQL("SELECT * FROM vcf.{}").format(psycopg.sql.Identifier(table))
            )
            names = [d.name for d in cur.description or []]
            for row in cur.fetchall():
                for name, value in zip(names, row, strict=True):
                    if value is None:
                        continue
                    raw = (
                        bytes(value)
                        if isinstance(value, (bytes, memoryview))
                        else str(value).encode()
                    )
                    values.append((f"{table}.{name}", raw))
    return values


@pytest.fixture
def loaded(
    conn: psycopg.Connection[Any],
    superuser_conn: psycopg.Connection[Any],
    home: Path,
    tmp_path: Path,
) -> dict[str, Any]:
    secret_dir = tmp_path / DIR_SECRET
    secret_dir.mkdir()
    path = write_vcf(
        secret_dir / "visit.vcf.gz",
        SAMPLES,
        synthetic_records(200, 3),
        header_extra=f"##note={HEADER_SECRET}",
        compress=True,
    )
    # the server's setting (on RDS: the parameter group)
    superuser_conn.execute("ALTER SYSTEM SET log_statement = 'all'")
    superuser_conn.execute("SELECT pg_reload_conf()")
    try:
        provider = LocalMasterKey(home / "master.key")
        staged = stage_file(conn, provider, path, reload=True)
        staging = staging_key(conn, home, staged.session_id)
        # as vcfctl load --jobs does: shared rows go through the loopback, whose
        # statements (names encrypted) are logged too
        conn.execute("SET vcf_pg_loader.ingest_concurrent = on")
        try:
            ingest_session(conn, provider, staged.session_id)
        finally:
            conn.execute("RESET vcf_pg_loader.ingest_concurrent")
        # a refused unlock: its key must not reach the log either
        wrong = bytes(reversed(staging.material))
        with pytest.raises(psycopg.Error), conn.cursor(binary=True) as cur:
            cur.execute("SELECT vcf.unlock(%s, %b)", (phi_key(conn, home).key_id, wrong))
    finally:
        superuser_conn.execute("ALTER SYSTEM RESET log_statement")
        superuser_conn.execute("SELECT pg_reload_conf()")
    return {
        "staging": staging.material,
        "phi": phi_key(conn, home).material,
        "wrong": wrong,
        "master": (home / "master.key").read_bytes(),
        "session_id": staged.session_id,
    }


def test_no_plaintext_phi_in_any_column(
    conn: psycopg.Connection[Any], loaded: dict[str, Any]
) -> None:
    values = _all_values(conn)
    assert any(
        loaded["session_id"].hex in v.decode(errors="ignore").replace("-", "") for _, v in values
    )
    needles = _needles(loaded["staging"], loaded["phi"], loaded["master"])
    found = [(where, n) for where, v in values for n in needles if n in v]
    assert found == []


def test_server_log_has_no_phi_or_keys(cluster: Any, loaded: dict[str, Any]) -> None:
    log = Path(cluster.log_file).read_bytes()
    assert b"vcf.unlock" in log  # log_statement = 'all' was in force
    assert b"_share_variants(" in log  # and the concurrent ingest's loopback ran
    needles = _needles(loaded["staging"], loaded["phi"], loaded["master"], loaded["wrong"])
    assert [n for n in needles if n in log] == []


def test_pg_stat_activity_never_shows_keys(conn: psycopg.Connection[Any], home: Path) -> None:
    """The statement text other sessions can see carries placeholders, not keys."""
    phi = phi_key(conn, home)
    with (
        psycopg.connect(conn.info.dsn, autocommit=True) as other,
        conn.transaction(),
        conn.cursor(binary=True) as cur,
    ):
        cur.execute("SELECT vcf.unlock(%s, %b)", (phi.key_id, phi.material))
        rows = other.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", (conn.info.backend_pid,)
        ).fetchall()
    text = " ".join(r[0] or "" for r in rows)
    assert "vcf.unlock" in text
    assert phi.material.hex() not in text and base64.b64encode(phi.material).decode() not in text
