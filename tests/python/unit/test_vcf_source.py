"""Reading VCF files into blocks: order kept, sizes bounded, file-level faults rejected."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from helpers import synthetic_records, write_vcf
from vcf_pg_loader.errors import BadInputError
from vcf_pg_loader.vcf_source import VcfSource, check_header


def read_all(path: Path, block_bytes: int = 1 << 20) -> tuple[VcfSource, bytes, list[int]]:
    with VcfSource(path, block_bytes) as src:
        blocks = list(src.iter_blocks())
    assert [b.block_no for b in blocks] == list(range(len(blocks)))
    return src, b"".join(b.payload for b in blocks), [b.line_count for b in blocks]


def test_plain_gzip_and_bgzip_give_the_same_lines(tmp_path: Path) -> None:
    records = synthetic_records(5000, 3)
    plain = write_vcf(tmp_path / "a.vcf", ["S1", "S2", "S3"], records)
    gz = write_vcf(tmp_path / "a.vcf.gz", ["S1", "S2", "S3"], records, compress=True)
    for path in (plain, gz):
        src, payload, _ = read_all(path)
        assert payload == plain.read_bytes()
        assert src.records == 5000 and src.samples == 3 and src.header_lines == 4
    # bgzip: many gzip members (64 KiB each); all must be read, in order.
    bgz = tmp_path / "b.vcf.gz"
    subprocess.run(
        ["bcftools", "view", "--no-version", "-Oz", "-o", str(bgz), str(plain)], check=True
    )
    text = subprocess.run(
        ["bcftools", "view", "--no-version", str(plain)], check=True, capture_output=True
    ).stdout
    src, payload, _ = read_all(bgz)
    assert payload == text and src.records == 5000


def test_blocks_are_bounded_and_keep_order(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", ["S"], synthetic_records(2000, 1))
    src, payload, counts = read_all(path, block_bytes=4096)
    assert len(counts) > 10
    assert payload == path.read_bytes()
    assert sum(counts) == src.lines == 2004
    with VcfSource(path, 4096) as again:
        assert all(len(b.payload) < 4096 + 200 for b in again.iter_blocks())


def test_sha256_covers_content(tmp_path: Path) -> None:
    import hashlib

    path = write_vcf(tmp_path / "a.vcf", [], synthetic_records(10, 0))
    src, _, _ = read_all(path)
    assert src.content_sha256 == hashlib.sha256(path.read_bytes()).digest()


def test_crlf_and_blank_lines_become_warnings(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", ["S"], synthetic_records(3, 1))
    text = path.read_text().replace("\n", "\r\n") + "\r\n\r\n"
    path.write_bytes(text.encode())
    src, payload, _ = read_all(path)
    assert b"\r" not in payload
    assert payload.count(b"\n") == text.count("\n")
    codes = {w["code"]: w for w in src.warnings}
    assert codes["crlf"]["count"] == 9 and codes["crlf"]["examples"][0] == (
        "line 1: ends in CRLF; staged with LF"
    )
    assert codes["blank_lines"]["count"] == 2
    assert codes["blank_lines"]["examples"] == [
        "line 8: blank line ignored",
        "line 9: blank line ignored",
    ]


def expect_reject(path: Path, match: str) -> BadInputError:
    with pytest.raises(BadInputError, match=match) as err, VcfSource(path) as src:
        list(src.iter_blocks())
    assert str(path) in err.value.message and "\n" not in err.value.message
    return err.value


def test_not_a_vcf(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    expect_reject(path, "line 1: not a VCF")
    with pytest.raises(BadInputError, match="not a readable VCF"):
        check_header(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.vcf"
    path.write_bytes(b"")
    expect_reject(path, "empty")


def test_truncated_gzip(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf.gz", ["S"], synthetic_records(5000, 1), compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_reject(path, "truncated or corrupt compressed data")


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf.gz", ["S"], synthetic_records(5000, 1), compress=True)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    expect_reject(path, "truncated or corrupt|line")


def test_wrong_column_count_names_the_line(tmp_path: Path) -> None:
    records = synthetic_records(10, 2)
    records[6] = records[6].rsplit("\t", 1)[0]
    path = write_vcf(tmp_path / "a.vcf", ["S1", "S2"], records)
    expect_reject(path, r"line 11: 10 columns, the #CHROM line has 11")


@pytest.mark.parametrize("pos", ["abc", "-5", "2147483648", "1e5", ""])
def test_bad_pos(tmp_path: Path, pos: str) -> None:
    records = synthetic_records(3, 0)
    fields = records[1].split("\t")
    fields[1] = pos
    records[1] = "\t".join(fields)
    path = write_vcf(tmp_path / "a.vcf", [], records)
    expect_reject(path, "line 6: POS")


def test_max_pos_accepted(tmp_path: Path) -> None:
    records = ["chr1\t2147483647\t.\tA\tG\t.\t.\t."]
    src, _, _ = read_all(write_vcf(tmp_path / "a.vcf", [], records))
    assert src.records == 1


def test_no_chrom_line(tmp_path: Path) -> None:
    path = tmp_path / "a.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n")
    expect_reject(path, "no #CHROM line")
    path.write_text("##fileformat=VCFv4.2\nchr1\t1\t.\tA\tG\t.\t.\t.\n")
    expect_reject(path, "line 2: data line before the #CHROM")


def test_duplicate_sample_names_do_not_echo_the_name(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", ["PATIENT-X", "B", "PATIENT-X"], synthetic_records(2, 3))
    err = expect_reject(path, "sample columns 10 and 12 have the same name")
    assert "PATIENT-X" not in err.message


def test_bad_column_names(tmp_path: Path) -> None:
    path = tmp_path / "a.vcf"
    path.write_text("##fileformat=VCFv4.2\n#CHROM POS ID REF ALT QUAL FILTER INFO\n")
    expect_reject(path, "line 2: the #CHROM line must name")


def test_invalid_utf8_and_nul(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", [], synthetic_records(3, 0))
    data = path.read_bytes().replace(b"DP=1", b"DP=\xff1")
    path.write_bytes(data)
    expect_reject(path, "line 6: is not valid UTF-8")
    path.write_bytes(data.replace(b"\xff", b"\x00"))
    expect_reject(path, "line 6: contains a NUL byte")


def test_header_after_chrom_line(tmp_path: Path) -> None:
    records = [*synthetic_records(2, 0), "##INFO=<ID=X>"]
    expect_reject(write_vcf(tmp_path / "a.vcf", [], records), "line 7: header line after")


def test_gzip_of_garbage_is_not_a_vcf(tmp_path: Path) -> None:
    path = tmp_path / "x.vcf.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    expect_reject(path, "line 1: not a VCF")
