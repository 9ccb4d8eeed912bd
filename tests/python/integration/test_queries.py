"""The queries in docs/queries.md run, return what they should, and are served by indexes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import REPO
from helpers import synthetic_records, write_vcf

QUERIES = {
    m.group(1): m.group(2)
    for m in re.finditer(
        r"```sql\n-- query: (\w+)\n(.*?)```", (REPO / "docs" / "queries.md").read_text(), re.S
    )
}
BIG_TABLES = {"variants", "records"}


@pytest.fixture(scope="module")
def loaded(conninfo: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from vcf_pg_loader.ingest import ingest_session
    from vcf_pg_loader.keys.local import LocalMasterKey
    from vcf_pg_loader.staging import stage_file

    provider = LocalMasterKey(home / "master.key")
    path = write_vcf(
        tmp_path_factory.mktemp("q") / "q.vcf",
        ["Q1", "Q2", "Q3", "Q4"],
        synthetic_records(30000, 4, start=90000),
        header_extra='##INFO=<ID=DP,Number=1,Type=Integer,Description="x">',
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        staged = stage_file(conn, provider, path, reload=True)
        ingest_session(conn, provider, staged.session_id)
        conn.execute("ANALYZE vcf.variants, vcf.records, vcf.session_samples")
        row = conn.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s AND sample_index = 2",
            (staged.session_id,),
        ).fetchone()
    assert row is not None
    return {"session_id": staged.session_id, "sample_id": row[0]}


def _sql(name: str, loaded: dict[str, Any]) -> str:
    return QUERIES[name].replace(":sample_id", str(int(loaded["sample_id"]))).rstrip().rstrip(";")


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        out += _scans(child)
    return out


NAMES = ["region", "variant", "carriers", "sample_region", "region_info", "direct"]


def test_docs_hold_the_five_queries_and_the_direct_read() -> None:
    assert set(QUERIES) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_query_is_served_by_indexes(
    name: str, loaded: dict[str, Any], conn: psycopg.Connection[Any]
) -> None:
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {_sql(name, loaded)}").fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    scans = _scans(plan[0]["Plan"])
    seq = [rel for node, rel in scans if node == "Seq Scan" and rel in BIG_TABLES]
    assert seq == [], scans
    assert any("Index" in node for node, _ in scans), scans


def test_queries_return_the_right_rows(
    loaded: dict[str, Any], conn: psycopg.Connection[Any]
) -> None:
    region = conn.execute(_sql("region", loaded)).fetchall()
    assert [r[2] for r in region] == list(range(100000, 101001, 10))
    variant = conn.execute(_sql("variant", loaded)).fetchall()
    assert loaded["session_id"] in [r[0] for r in variant]
    carriers = conn.execute(_sql("carriers", loaded)).fetchall()
    assert carriers and all(1 in r[1] for r in carriers)
    sample = conn.execute(_sql("sample_region", loaded)).fetchall()
    assert len(sample) == 101
    info = conn.execute(_sql("region_info", loaded)).fetchall()
    assert info and all(r[4] >= 50 for r in info)
    # the columns read directly give what the view gives
    direct = conn.execute(_sql("direct", loaded)).fetchall()
    via_view = conn.execute(
        "SELECT c.session_id, c.gt, c.dp FROM vcf.calls c"
        " JOIN vcf.records r USING (session_id, record_no, alt_no)"
        " JOIN vcf.variants v USING (variant_id)"
        " WHERE c.sample_id = %s AND v.chrom = 'chr1' AND v.pos = 100010"
        " AND v.ref = 'A' AND v.alt = 'G'",
        (loaded["sample_id"],),
    ).fetchall()
    assert direct and sorted(direct) == sorted(via_view)
