"""File-level faults: one-line error naming file (and line), non-zero exit, nothing staged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import synthetic_records, table_counts, write_vcf
from vcf_pg_loader.errors import EXIT_BAD_INPUT


def _not_vcf(tmp: Path) -> tuple[Path, str]:
    path = tmp / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    return path, "not a readable VCF"


def _truncated_gz(tmp: Path) -> tuple[Path, str]:
    path = write_vcf(tmp / "cut.vcf.gz", ["S1"], synthetic_records(20000, 1), compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])
    return path, "truncated or corrupt compressed data"


def _wrong_columns(tmp: Path) -> tuple[Path, str]:
    records = synthetic_records(50, 2)
    records[30] += "\textra"
    return write_vcf(
        tmp / "cols.vcf", ["S1", "S2"], records
    ), "line 35: 12 columns, the #CHROM line has 11"


def _no_chrom(tmp: Path) -> tuple[Path, str]:
    path = tmp / "nochrom.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n")
    return path, "not a readable VCF|no #CHROM"


def _bad_pos(tmp: Path) -> tuple[Path, str]:
    records = synthetic_records(5, 0)
    records[2] = records[2].replace("\t21\t", "\tNaN\t")
    return write_vcf(tmp / "pos.vcf", [], records), "line 7: POS is not a number"


def _unreadable_header(tmp: Path) -> tuple[Path, str]:
    path = tmp / "hdr.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n#this is not a header line\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t1\t.\tA\tC\t.\t.\t.\n"
    )
    return path, "not a readable VCF"


def _duplicate_samples(tmp: Path) -> tuple[Path, str]:
    path = write_vcf(
        tmp / "dup.vcf", ["MRN-77-DUP", "OTHER", "MRN-77-DUP"], synthetic_records(3, 3)
    )
    return path, "not a readable VCF|sample columns 10 and 12 have the same name"


@pytest.mark.parametrize(
    "make",
    [
        _not_vcf,
        _truncated_gz,
        _wrong_columns,
        _no_chrom,
        _bad_pos,
        _unreadable_header,
        _duplicate_samples,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
@pytest.mark.parametrize("command", ["load", "stage"])
def test_file_fault_rejected_whole(
    make: Any, command: str, vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    path, message = make(tmp_path)
    before = table_counts(conn)
    result = vcfctl(command, str(path))
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(path) in lines[0]
    assert __import__("re").search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    assert "MRN-77" not in result.stderr  # never echo a sample name
    assert table_counts(conn) == before


def test_good_files_still_load_next_to_a_bad_one(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    bad, _ = _wrong_columns(tmp_path)
    good = write_vcf(tmp_path / "good.vcf", ["S1"], synthetic_records(5, 1))
    result = vcfctl("load", "--reload", "--format", "json", str(bad), str(good))
    assert result.returncode == EXIT_BAD_INPUT
    entries = json.loads(result.stdout)
    assert [e["state"] for e in entries] == ["rejected", "ingested"]
    assert entries[0]["session_id"] is None and "line 35" in entries[0]["error"]


def test_missing_file_is_a_usage_error(vcfctl: Any, tmp_path: Path) -> None:
    result = vcfctl("load", "--reload", str(tmp_path / "nope.vcf"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_hostile_sample_names_are_data(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    names = ["x'); DROP TABLE vcf.samples; --", "$$;RAISE$$", "名前-患者", "a\\b%s%n"]
    path = write_vcf(tmp_path / "hostile.vcf", names, synthetic_records(3, 4))
    result = vcfctl("load", "--reload", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["samples"] == 4
    assert conn.execute("SELECT count(*) > 0 FROM vcf.samples").fetchone() == (True,)


def test_database_side_fault_names_the_file_line(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    """A fault only the database checks (QUAL) still names the file's line, blank lines counted."""
    records = synthetic_records(6, 1)
    records.insert(2, "")
    records.insert(3, "")
    records[5] = records[5].replace("\t50\t", "\t1e999\t")
    records[6] = records[6].replace("\t50\t", "\t1e-20000\t")
    path = write_vcf(tmp_path / "qual.vcf", ["S1"], records)
    result = vcfctl("load", "--reload", str(path))
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "line 10: QUAL is not a number" in result.stderr
    assert "1e999" not in result.stderr
    row = conn.execute(
        "SELECT s.state, k.state FROM vcf.sessions s JOIN vcf.data_keys k"
        " ON k.key_id = s.staging_key_id ORDER BY s.created_at DESC LIMIT 1"
    ).fetchone()
    assert row == ("failed", "destroyed")
