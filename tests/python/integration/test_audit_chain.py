"""The hash-chained audit trail through vcfctl: verify, export, anchor, and tampering.

Tampering needs a superuser and breaks the chain for good, so those tests
run in a database of their own (same cluster), dropped afterwards.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from helpers import synthetic_records, write_vcf


def _load(vcfctl: Any, tmp_path: Path, tag: str | None = None) -> str:
    tag = tag or uuid.uuid4().hex[:10]
    path = write_vcf(tmp_path / f"{tag}.vcf", [f"AUDIT-{tag}"], synthetic_records(30, 1))
    result = vcfctl("load", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)[0]["session_id"])


def test_a_load_leaves_a_verified_chain(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path, owner: str
) -> None:
    sid = _load(vcfctl, tmp_path)
    rows = conn.execute(
        "SELECT action, succeeded, chain_no IS NOT NULL, length(hash), acting_role"
        " FROM vcf.audit_log WHERE target = %s ORDER BY chain_no",
        (sid,),
    ).fetchall()
    assert [r[0] for r in rows] == ["stage_begin", "stage", "ingest"]
    assert all(r[1] and r[2] and r[3] == 32 and r[4] == owner for r in rows)
    keys = conn.execute(
        "SELECT a.action FROM vcf.audit_log a"
        " JOIN vcf.sessions s ON a.target = s.staging_key_id::text"
        " WHERE s.session_id = %s ORDER BY a.chain_no",
        (sid,),
    ).fetchall()
    assert [k[0] for k in keys] == ["key_register", "unlock", "destroy"]
    gaps = conn.execute(
        "SELECT count(*) FROM (SELECT chain_no - lag(chain_no) OVER (ORDER BY chain_no) AS step"
        " FROM vcf.audit_log WHERE chain_no IS NOT NULL) s WHERE step <> 1"
    ).fetchone()
    assert gaps == (0,)
    result = vcfctl("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit trail OK: ")
    result = vcfctl("audit", "verify", "--format", "json")
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problem"] is None and report["rows_checked"] > 0
    assert len(report["head_hash"]) == 64


def test_export_is_json_lines_with_a_continuous_chain(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    before = conn.execute("SELECT max(chain_no) FROM vcf.audit_log").fetchone()
    sid = _load(vcfctl, tmp_path)
    out = tmp_path / "audit.jsonl"
    result = vcfctl("audit", "export", "--after", str(before[0] if before else 0), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and {r["target"] for r in rows} >= {sid}
    for prev, row in itertools.pairwise(rows):
        assert row["chain_no"] == prev["chain_no"] + 1
        assert row["prev_hash"] == prev["hash"]
    assert set(rows[0]) == {
        "audit_id",
        "chain_no",
        "logged_at",
        "session_role",
        "acting_role",
        "client_addr",
        "backend_pid",
        "xact_id",
        "action",
        "target",
        "succeeded",
        "details",
        "prev_hash",
        "hash",
    }
    by_since = vcfctl("audit", "export", "--since", rows[0]["logged_at"])
    assert by_since.returncode == 0, by_since.stderr
    assert {json.loads(line)["hash"] for line in by_since.stdout.splitlines()} >= {
        r["hash"] for r in rows
    }
    exported = conn.execute(
        "SELECT count(*) FROM vcf.audit_log WHERE action = 'audit_export' AND chain_no IS NOT NULL"
    ).fetchone()
    assert exported is not None and exported[0] >= 2
    bad = vcfctl("audit", "export", "--since", "not a time")
    assert bad.returncode == 4 and "invalid input syntax" in bad.stderr


def test_anchor_to_a_file_and_verify_against_it(vcfctl: Any, tmp_path: Path) -> None:
    _load(vcfctl, tmp_path)
    anchor_file = tmp_path / "anchor.json"
    result = vcfctl("audit", "anchor", "-o", str(anchor_file))
    assert result.returncode == 0, result.stderr
    anchor = json.loads(anchor_file.read_text())
    assert anchor["format"] == "vcf-pg-loader audit anchor v1"
    assert anchor["database"] == "vcf"
    assert isinstance(anchor["chain_no"], int) and isinstance(anchor["audit_id"], int)
    assert len(anchor["hash"]) == 64 and anchor["logged_at"] and anchor["anchored_at"]
    _load(vcfctl, tmp_path)  # the chain grows past the anchor
    result = vcfctl("audit", "verify", "--anchor", str(anchor_file))
    assert result.returncode == 0, result.stderr
    assert f"matches the anchor of chain position {anchor['chain_no']}" in result.stdout
    stdout_only = vcfctl("audit", "anchor", "--format", "json")
    assert json.loads(stdout_only.stdout)["written_to"] is None
    not_an_anchor = tmp_path / "nope.json"
    not_an_anchor.write_text("{}")
    result = vcfctl("audit", "verify", "--anchor", str(not_an_anchor))
    assert result.returncode == 1 and "is not a vcf-pg-loader audit anchor" in result.stderr


# -- tampering, in a scratch database ------------------------------------------


@pytest.fixture
def scratch_db(cluster: Any) -> Iterator[str]:
    """A database of its own with the extension and a few audit rows; its owner's conninfo."""
    name = f"vcf_tamper_{uuid.uuid4().hex[:8]}"
    db = cluster.create_database(name)
    try:
        with psycopg.connect(db, autocommit=True) as conn:
            for i in range(1, 7):
                conn.execute(
                    "SELECT vcf._audit('tamper_test', %s, true, %s)", (f"row-{i}", f'{{"n": {i}}}')
                )
        yield db
    finally:
        cluster.drop_database(name)


@pytest.fixture
def scratch_su(cluster: Any, scratch_db: str) -> str:
    """The superuser in the scratch database: what tampering takes."""
    return str(cluster.superuser_conninfo(conninfo_to_dict(scratch_db)["dbname"]))


def test_superuser_edit_of_one_row_is_named(vcfctl: Any, scratch_db: str, scratch_su: str) -> None:
    assert vcfctl("--db", scratch_db, "audit", "verify").returncode == 0
    with psycopg.connect(scratch_su, autocommit=True) as conn:
        audit_id, chain_no = conn.execute(
            "SELECT audit_id, chain_no FROM vcf.audit_log WHERE target = 'row-3'"
        ).fetchone() or (None, None)
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("UPDATE vcf.audit_log SET details = '{\"n\": 333}' WHERE target = 'row-3'")
    result = vcfctl("--db", scratch_db, "audit", "verify")
    assert result.returncode == 6
    assert (
        f"audit trail BROKEN at chain position {chain_no}, audit_id {audit_id}: "
        "the row does not match its hash: it was modified"
    ) in result.stderr
    report = json.loads(vcfctl("--db", scratch_db, "audit", "verify", "--format", "json").stdout)
    assert (report["ok"], report["bad_chain_no"], report["bad_audit_id"]) == (
        False,
        chain_no,
        audit_id,
    )


def _rewrite_chain(conn: psycopg.Connection[Any]) -> None:
    """What a superuser can do: change a row, then recompute every hash after it."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("UPDATE vcf.audit_log SET succeeded = false WHERE target = 'row-2'")
        prev = bytes(32)
        for (audit_id,) in conn.execute(
            "SELECT audit_id FROM vcf.audit_log WHERE chain_no IS NOT NULL ORDER BY chain_no"
        ).fetchall():
            conn.execute(
                "UPDATE vcf.audit_log SET prev_hash = %s WHERE audit_id = %s", (prev, audit_id)
            )
            row = conn.execute(
                "UPDATE vcf.audit_log a SET hash = vcf._audit_hash(a) WHERE audit_id = %s"
                " RETURNING hash",
                (audit_id,),
            ).fetchone()
            assert row is not None
            prev = bytes(row[0])


def test_superuser_rewrite_of_the_whole_chain_needs_the_anchor(
    vcfctl: Any, scratch_db: str, scratch_su: str, tmp_path: Path
) -> None:
    url = scratch_db
    anchor_file = tmp_path / "anchor.json"
    assert vcfctl("--db", url, "audit", "anchor", "-o", str(anchor_file)).returncode == 0
    anchor = json.loads(anchor_file.read_text())
    with psycopg.connect(scratch_su, autocommit=True) as conn:
        _rewrite_chain(conn)
    plain = vcfctl("--db", url, "audit", "verify")
    assert plain.returncode == 0, "a consistent rewrite passes the chain check alone"
    anchored = vcfctl("--db", url, "audit", "verify", "--anchor", str(anchor_file))
    assert anchored.returncode == 6
    assert (
        f"BROKEN at chain position {anchor['chain_no']}, audit_id {anchor['audit_id']}: "
        f"the row at chain position {anchor['chain_no']} differs from the anchor: "
        "the chain was rewritten"
    ) in anchored.stderr


def test_removing_the_newest_rows_is_caught_by_the_anchor(
    vcfctl: Any, scratch_db: str, scratch_su: str, tmp_path: Path
) -> None:
    url = scratch_db
    anchor_file = tmp_path / "anchor.json"
    assert vcfctl("--db", url, "audit", "anchor", "-o", str(anchor_file)).returncode == 0
    with psycopg.connect(scratch_su, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM vcf.audit_log WHERE target IN ('row-5', 'row-6')")
    assert vcfctl("--db", url, "audit", "verify").returncode == 0
    anchored = vcfctl("--db", url, "audit", "verify", "--anchor", str(anchor_file))
    assert anchored.returncode == 6
    assert "does not exist: the chain was truncated or rewritten" in anchored.stderr


def test_anchor_of_another_database_is_refused(
    vcfctl: Any, scratch_db: str, tmp_path: Path
) -> None:
    anchor_file = tmp_path / "anchor.json"
    assert vcfctl("audit", "anchor", "-o", str(anchor_file)).returncode == 0
    result = vcfctl("--db", scratch_db, "audit", "verify", "--anchor", str(anchor_file))
    assert result.returncode == 1 and "the anchor is of database 'vcf'" in result.stderr


def test_deleting_a_row_in_the_middle_is_named(
    vcfctl: Any, scratch_db: str, scratch_su: str
) -> None:
    with psycopg.connect(scratch_su, autocommit=True) as conn:
        row = conn.execute("SELECT chain_no FROM vcf.audit_log WHERE target = 'row-4'").fetchone()
        assert row is not None
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("DELETE FROM vcf.audit_log WHERE target = 'row-4'")
    result = vcfctl("--db", scratch_db, "audit", "verify")
    assert result.returncode == 6
    assert f"chain position {row[0]} is missing: rows were removed" in result.stderr
