"""An ingest reports its progress, blocks done of blocks, and nothing else (issue 12, item 3).

With vcf_pg_loader.ingest_progress on, each block parsed raises a NOTICE
with SQLSTATE VP090 and counts as DETAIL; ingest_session turns them into
progress callbacks and vcfctl into a bar on a terminal. The notices must
hold counts only: no sample name, no file content. Off (the default) there
are none.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest

from helpers import on_a_terminal, synthetic_records, write_vcf
from vcf_pg_loader.ingest import PROGRESS_SQLSTATE, ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file


def _many_blocks(tmp_path: Path, tag: str) -> tuple[Path, list[str]]:
    names = [f"PROGRESS-{tag}-{i}" for i in range(3)]
    path = write_vcf(tmp_path / f"p-{tag}.vcf", names, synthetic_records(600, 3, start=70_000_000))
    return path, names


class _Notice(NamedTuple):
    sqlstate: str | None
    message_primary: str | None
    message_detail: str | None
    message_hint: str | None


def _notices(conn: psycopg.Connection[Any]) -> list[_Notice]:
    """Copy each notice's fields as it arrives: a Diagnostic is only valid
    inside the handler (its result is freed after)."""
    seen: list[_Notice] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        seen.append(
            _Notice(diag.sqlstate, diag.message_primary, diag.message_detail, diag.message_hint)
        )

    conn.add_notice_handler(keep)
    return seen


@pytest.mark.parametrize("engine", ["plpgsql", "plpython"])
def test_each_block_is_reported_with_counts_only(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path, engines: list[str], engine: str
) -> None:
    if engine not in engines:
        pytest.skip(f"no {engine} engine in this profile")
    tag = uuid.uuid4().hex[:10]
    path, names = _many_blocks(tmp_path, tag)
    provider = LocalMasterKey(home / "master.key")
    staged = stage_file(conn, provider, path, block_bytes=4096)
    assert staged.blocks > 5
    calls: list[tuple[int, int]] = []
    seen = _notices(conn)

    result = ingest_session(
        conn,
        provider,
        staged.session_id,
        engine=engine,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert result.state == "ingested"
    assert calls, "no progress was reported"
    dones = [d for d, _ in calls]
    assert dones == sorted(set(dones)), calls  # strictly rising
    assert {t for _, t in calls} == {staged.blocks}
    assert calls[-1] == (staged.blocks, staged.blocks)
    # only blocks holding records report (a header-only first block does not)
    assert len(calls) >= staged.blocks - 1
    progress = [n for n in seen if n.sqlstate == PROGRESS_SQLSTATE]
    assert len(progress) == len(calls)
    last = json.loads(progress[-1].message_detail or "")
    assert last == {"blocks_done": staged.blocks, "blocks": staged.blocks, "records": 600}
    said = " ".join(f"{n.message_primary} {n.message_detail} {n.message_hint}" for n in seen)
    assert not any(name in said for name in names), said
    assert "chr1" not in said and "70000000" not in said


def test_without_the_setting_there_are_no_progress_notices(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> None:
    path, _ = _many_blocks(tmp_path, uuid.uuid4().hex[:10])
    provider = LocalMasterKey(home / "master.key")
    staged = stage_file(conn, provider, path, block_bytes=4096)
    seen = _notices(conn)
    assert ingest_session(conn, provider, staged.session_id).state == "ingested"
    assert not [n for n in seen if n.sqlstate == PROGRESS_SQLSTATE]
    # the setting lasted the ingest's transaction only
    row = conn.execute("SELECT current_setting('vcf_pg_loader.ingest_progress', true)").fetchone()
    assert row is not None and row[0] in (None, "")


def test_a_failed_ingest_reports_no_more_than_it_did(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> None:
    """A block that fails to parse (strict) ends the progress; the error is the error."""
    tag = uuid.uuid4().hex[:10]
    records = synthetic_records(600, 1, start=71_000_000)
    records[400] = records[400].rsplit("\t", 1)[0] + "\t0/7"  # names no allele: bad_gt
    path = write_vcf(tmp_path / f"bad-{tag}.vcf", [f"FAIL-{tag}"], records)
    provider = LocalMasterKey(home / "master.key")
    staged = stage_file(conn, provider, path, block_bytes=4096)
    calls: list[tuple[int, int]] = []
    with pytest.raises(Exception) as failed:
        ingest_session(
            conn,
            provider,
            staged.session_id,
            strict=True,
            progress=lambda done, total: calls.append((done, total)),
        )
    assert f"FAIL-{tag}" not in str(failed.value)
    assert all(done < total for done, total in calls), calls


def test_vcfctl_load_shows_the_ingest_on_a_terminal(
    home: Path, cluster: Any, tmp_path: Path
) -> None:
    path, names = _many_blocks(tmp_path, uuid.uuid4().hex[:10])
    env = {"VCF_PG_LOADER_HOME": str(home), **cluster.client_env()}
    status, said = on_a_terminal(["load", str(path)], env)
    assert status == 0, said
    assert f"ingesting {path.name}" in said and "block 1 of 1" in said, said
    assert not any(name in said for name in names)
