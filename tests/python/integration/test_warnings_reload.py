"""Record-level deviations load with warnings (or reject with --strict); reloads by content hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from conftest import CORPUS, DATA
from helpers import synthetic_records, table_counts, write_vcf
from vcf_pg_loader.errors import EXIT_BAD_INPUT

ODD_HEADER = "\n".join(
    [
        '##INFO=<ID=AF,Number=A,Type=Float,Description="x">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="x">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">',
    ]
)


def _odd_file(tmp_path: Path, name: str = "odd.vcf") -> Path:
    records = [
        "chr1\t10\t.\tA\tC,G\t5\tPASS\tAF=0.1,0.2,0.3;DP=7;NEW=x\tGT:AD\t1/2:1,2,3",
        "chr1\t20\t.\tA\tC\t5\tPASS\tAF=0.5;DP=seven\tGT:AD\t0/3:4,5",
        "chr1\t30\t.\tA\tC,T\t5\tPASS\tAF=0.1,0.2;NEW=y\tGT:AD\t0/1:1,2",
    ]
    return write_vcf(tmp_path / name, ["W1"], records, header_extra=f"{ODD_HEADER}\n##run={name}")


def test_deviations_load_with_warnings(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = _odd_file(tmp_path)
    result = vcfctl("load", "--reload", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    warnings = {w["code"]: w for w in entry["warnings"]}
    assert warnings["count_mismatch"]["examples"] == [
        "line 9: INFO/AF has 3 values, Number=A expects 2",
        "line 11: sample 1: FORMAT/AD has 2 values, Number=R expects 3",
    ]
    assert warnings["undefined_key"]["count"] == 1  # NEW, once per file
    assert warnings["undefined_key"]["examples"] == [
        "line 9: INFO/NEW is not defined in the header; loaded as String"
    ]
    assert warnings["bad_value"]["examples"] == [
        "line 10: INFO/DP has a value that is not a valid Integer"
    ]
    assert warnings["bad_gt"]["examples"] == [
        "line 10: sample 1: GT allele is not a number or names no allele of the record"
    ]
    # kept, never dropped: the unsliced AF on both ALT rows, the bad DP as a string
    rows = conn.execute(
        "SELECT record_no, alt_no, info FROM vcf.records WHERE session_id = %s"
        " ORDER BY record_no, alt_no",
        (entry["session_id"],),
    ).fetchall()
    assert rows[0][2]["AF"] == [0.1, 0.2, 0.3] and rows[1][2]["AF"] == [0.1, 0.2, 0.3]
    assert rows[2][2] == {"AF": [0.5], "DP": "seven"}
    assert rows[3][2]["NEW"] == "y" and rows[4][2]["AF"] == [0.2]
    shown = vcfctl("sessions", "show", entry["session_id"])
    assert "count_mismatch" in shown.stdout and "line 9: INFO/AF" in shown.stdout


def test_strict_rejects_the_whole_file(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = _odd_file(tmp_path, "strict.vcf")
    before = table_counts(conn)
    result = vcfctl("load", "--strict", str(path))
    assert result.returncode == EXIT_BAD_INPUT
    assert "line 9: INFO/AF has 3 values, Number=A expects 2" in result.stderr
    after = table_counts(conn)
    for table in ("records", "calls", "variants", "samples", "record_lines"):
        assert after.get(table) == before.get(table), table


def test_strict_accepts_a_clean_file(vcfctl: Any, tmp_path: Path) -> None:
    path = write_vcf(
        tmp_path / "clean.vcf",
        ["C1"],
        synthetic_records(20, 1, start=7),
        header_extra='##INFO=<ID=DP,Number=1,Type=Integer,Description="x">',
    )
    result = vcfctl("load", "--strict", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["warnings"] == []


def test_spec_breaking_corpus_files_load_with_warnings(vcfctl: Any) -> None:
    if not CORPUS.is_dir():
        return
    multi = json.loads(
        vcfctl("load", "--reload", "--format", "json", str(CORPUS / "multiallelic.vcf")).stdout
    )[0]
    assert multi["state"] == "ingested" and multi["variants"] == 8  # 1 + 7 ALTs
    assert {w["code"] for w in multi["warnings"]} == {"count_mismatch"}
    snpeff = json.loads(
        vcfctl("load", "--reload", "--format", "json", str(CORPUS / "snpeff_test.ann.vcf")).stdout
    )[0]
    assert snpeff["state"] == "ingested"
    undefined = [w for w in snpeff["warnings"] if w["code"] == "undefined_key"]
    assert undefined and undefined[0]["count"] >= 1


def test_same_content_twice_is_already_loaded(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = write_vcf(tmp_path / "once.vcf", ["R1", "R2"], synthetic_records(30, 2, start=11))
    first = json.loads(vcfctl("load", "--format", "json", str(path)).stdout)[0]
    assert first["state"] == "ingested"
    before = table_counts(conn)
    again = vcfctl("load", "--format", "json", str(path))
    assert again.returncode == 0
    entry = json.loads(again.stdout)[0]
    assert entry["state"] == "already_loaded" and entry["session_id"] == first["session_id"]
    assert "already loaded" in again.stderr
    assert table_counts(conn) == before
    staged = vcfctl("stage", str(path))
    assert staged.returncode == 0 and table_counts(conn) == before


def test_reload_replaces_in_one_transaction(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path = write_vcf(tmp_path / "re.vcf", ["R1"], synthetic_records(25, 1, start=13))
    first = json.loads(vcfctl("load", "--format", "json", str(path)).stdout)[0]
    second = json.loads(vcfctl("load", "--reload", "--format", "json", str(path)).stdout)[0]
    assert second["state"] == "ingested" and second["session_id"] != first["session_id"]
    states = dict(
        conn.execute(
            "SELECT session_id::text, state FROM vcf.sessions WHERE session_id = ANY(%s::uuid[])",
            ([first["session_id"], second["session_id"]],),
        ).fetchall()
    )
    assert states == {first["session_id"]: "replaced", second["session_id"]: "ingested"}
    for table in ("records", "calls", "record_lines", "session_samples"):
        counts = dict(
            conn.execute(
                f"SELECT session_id::text, count(*) FROM vcf.{table}"
                " WHERE session_id = ANY(%s::uuid[]) GROUP BY 1",
                ([first["session_id"], second["session_id"]],),
            ).fetchall()
        )
        assert first["session_id"] not in counts and counts[second["session_id"]] > 0, table


def test_original_record_is_retrievable(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    entry = json.loads(
        vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf")).stdout
    )[0]
    lines = [
        r[0]
        for r in conn.execute(
            "SELECT line FROM vcf.record_lines WHERE session_id = %s ORDER BY record_no",
            (entry["session_id"],),
        ).fetchall()
    ]
    original = [x for x in (DATA / "example.vcf").read_text().splitlines() if not x.startswith("#")]
    assert lines == original
