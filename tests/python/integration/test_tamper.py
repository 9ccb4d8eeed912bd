"""Modified, moved, missing or foreign staged blocks abort the ingest; nothing lands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import synthetic_records, table_counts, write_vcf
from vcf_pg_loader.errors import IntegrityError
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import StageResult, stage_file


@pytest.fixture
def provider(home: Path) -> LocalMasterKey:
    return LocalMasterKey(home / "master.key")


@pytest.fixture
def staged(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, tmp_path: Path
) -> Callable[[], StageResult]:
    def make() -> StageResult:
        path = write_vcf(tmp_path / "t.vcf", ["TAMPER-S1", "TAMPER-S2"], synthetic_records(400, 2))
        result = stage_file(conn, provider, path, block_bytes=4096, reload=True)
        assert result.blocks >= 4
        return result

    return make


def _assert_nothing_landed(conn: psycopg.Connection[Any], before: dict[str, int], sid: Any) -> None:
    after = table_counts(conn)
    for table in ("samples", "session_samples", "variants", "records", "calls"):
        assert after[table] == before[table], table
    row = conn.execute(
        "SELECT state, error FROM vcf.sessions WHERE session_id = %s", (sid,)
    ).fetchone()
    assert row is not None and row[0] == "failed"


def _ingest_fails(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, sid: Any, match: str
) -> None:
    before = table_counts(conn)
    with pytest.raises(IntegrityError, match=match):
        ingest_session(conn, provider, sid)
    _assert_nothing_landed(conn, before, sid)


def test_flipped_byte_names_the_block(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    s = staged()
    conn.execute(
        "UPDATE vcf.staged_blocks"
        " SET ciphertext = set_byte(ciphertext, 100, get_byte(ciphertext, 100) # 1)"
        " WHERE session_id = %s AND block_no = 2",
        (s.session_id,),
    )
    _ingest_fails(conn, provider, s.session_id, "block 2 failed authentication")


def test_swapped_blocks(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    s = staged()
    conn.execute(
        "UPDATE vcf.staged_blocks b SET ciphertext = o.ciphertext, line_count = o.line_count"
        " FROM vcf.staged_blocks o WHERE b.session_id = %s AND o.session_id = b.session_id"
        " AND ((b.block_no = 1 AND o.block_no = 3) OR (b.block_no = 3 AND o.block_no = 1))",
        (s.session_id,),
    )
    _ingest_fails(conn, provider, s.session_id, "block 1 failed authentication")


def test_missing_block(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    s = staged()
    conn.execute(
        "DELETE FROM vcf.staged_blocks WHERE session_id = %s AND block_no = 1", (s.session_id,)
    )
    _ingest_fails(conn, provider, s.session_id, "block 1 is missing")


def test_missing_last_block(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    s = staged()
    conn.execute(
        "DELETE FROM vcf.staged_blocks WHERE session_id = %s AND block_no = %s",
        (s.session_id, s.blocks - 1),
    )
    _ingest_fails(conn, provider, s.session_id, f"block {s.blocks - 1} is missing")


def test_foreign_block(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    victim, donor = staged(), staged()
    conn.execute(
        "UPDATE vcf.staged_blocks b SET ciphertext = d.ciphertext FROM vcf.staged_blocks d"
        " WHERE b.session_id = %s AND b.block_no = 0 AND d.session_id = %s AND d.block_no = 0",
        (victim.session_id, donor.session_id),
    )
    _ingest_fails(conn, provider, victim.session_id, "block 0 failed authentication")
    done = ingest_session(conn, provider, donor.session_id)
    assert done.records == 400


def test_extra_block(
    conn: psycopg.Connection[Any],
    superuser_conn: psycopg.Connection[Any],
    provider: LocalMasterKey,
    staged: Callable[[], StageResult],
) -> None:
    s = staged()
    # past the staging guard: a superuser's write
    superuser_conn.execute(
        "INSERT INTO vcf.staged_blocks SELECT session_id, block_no + 100, line_count, ciphertext"
        " FROM vcf.staged_blocks WHERE session_id = %s AND block_no = 0",
        (s.session_id,),
    )
    _ingest_fails(conn, provider, s.session_id, "block 100 was not part of the staged file")


def test_changed_counts_fail_the_manifest(
    conn: psycopg.Connection[Any], provider: LocalMasterKey, staged: Callable[[], StageResult]
) -> None:
    s = staged()
    conn.execute(
        "UPDATE vcf.sessions SET line_count = line_count - 1 WHERE session_id = %s", (s.session_id,)
    )
    _ingest_fails(conn, provider, s.session_id, "manifest does not verify")


def test_cli_reports_the_block(
    conn: psycopg.Connection[Any], staged: Callable[[], StageResult], vcfctl: Any
) -> None:
    s = staged()
    conn.execute(
        "UPDATE vcf.staged_blocks"
        " SET ciphertext = set_byte(ciphertext, 40, get_byte(ciphertext, 40) # 128)"
        " WHERE session_id = %s AND block_no = 3",
        (s.session_id,),
    )
    result = vcfctl("ingest", str(s.session_id))
    assert result.returncode == 6
    assert "block 3 failed authentication" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
