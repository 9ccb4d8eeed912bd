"""Limits on hostile input: each refuses with one line naming file and line, each can be raised.

Limits are lowered here so that the files stay small; the integration tests
(test_hostile_input.py) run the defaults through vcfctl.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from helpers import synthetic_records, write_vcf
from vcf_pg_loader import vcf_source
from vcf_pg_loader.errors import BadInputError
from vcf_pg_loader.vcf_source import Limits, VcfSource, check_header, format_bytes

KIB = 1024


def read(path: Path, limits: Limits) -> VcfSource:
    with VcfSource(path, limits=limits) as src:
        for _ in src.iter_blocks():
            pass
    return src


def refused(path: Path, limits: Limits, match: str) -> str:
    with pytest.raises(BadInputError, match=match) as err:
        read(path, limits)
    message = err.value.message
    assert message.startswith(f"{path}: line ") and "\n" not in message
    return message


def long_line_file(tmp: Path, length: int, *, compress: bool = False) -> Path:
    info = "X=" + "A" * (length - len("chr1\t1\t.\tA\tG\t.\t.\t") - 2)
    records = [*synthetic_records(3, 0), f"chr1\t1\t.\tA\tG\t.\t.\t{info}"]
    assert len(records[-1]) == length
    name = "long.vcf.gz" if compress else "long.vcf"
    return write_vcf(tmp / name, [], records, compress=compress)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_line_over_the_limit_names_the_line_and_the_flag(tmp_path: Path, compress: bool) -> None:
    path = long_line_file(tmp_path, 64 * KIB + 1, compress=compress)
    message = refused(
        path, Limits(max_line_bytes=64 * KIB), "line 8: longer than the limit of 64 KiB"
    )
    assert "--max-line-bytes" in message
    # exactly at the limit (the newline not counted) is fine; raising it admits the line
    read(long_line_file(tmp_path, 64 * KIB, compress=compress), Limits(max_line_bytes=64 * KIB))
    assert read(path, Limits(max_line_bytes=65 * KIB)).records == 4


def test_a_long_line_is_never_read_whole(tmp_path: Path) -> None:
    """readline(limit + 1): what is read of a line over the limit stays near the limit."""
    path = long_line_file(tmp_path, 4 << 20)
    seen: list[int] = []
    with VcfSource(path, limits=Limits(max_line_bytes=64 * KIB)) as src:
        assert src._stream is not None
        real = src._stream.readline

        def spy(size: int = -1) -> bytes:
            line = real(size)
            seen.append(len(line))
            return line

        src._stream.readline = spy  # type: ignore[method-assign]
        with pytest.raises(BadInputError, match="line 8: longer"):
            list(src.iter_blocks())
    assert max(seen) == 64 * KIB + 1


def test_header_as_a_whole_is_bounded(tmp_path: Path) -> None:
    extra = "\n".join(f"##contig=<ID=c{i},length=1000>" for i in range(4000))
    path = write_vcf(tmp_path / "h.vcf", [], synthetic_records(2, 0), header_extra=extra)
    refused(path, Limits(max_line_bytes=64 * KIB), "the header is longer than the limit of 64 KiB")
    with pytest.raises(BadInputError, match="the header is longer"):
        check_header(path, Limits(max_line_bytes=64 * KIB))
    assert check_header(path, Limits(max_line_bytes=1 << 20)) == 0


def test_one_line_bomb_in_the_header_is_refused_before_htslib(tmp_path: Path) -> None:
    path = tmp_path / "bomb.vcf.gz"
    with open(path, "wb") as fh:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        fh.write(z.compress(b"##fileformat=VCFv4.2\n##bomb="))
        for _ in range(64):
            fh.write(z.compress(b"A" * (1 << 20)))
        fh.write(z.flush())
    assert path.stat().st_size < 200 * KIB
    with pytest.raises(BadInputError, match="line 2: longer than the limit of 1 MiB"):
        check_header(path, Limits(max_line_bytes=1 << 20))


def test_decompressed_size_is_bounded(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf.gz", [], synthetic_records(20000, 0), compress=True)
    message = refused(
        path,
        Limits(max_decompressed_bytes=256 * KIB),
        "the content \\(decompressed\\) is larger than the limit of 256 KiB",
    )
    assert "--max-decompressed-bytes" in message
    assert read(path, Limits(max_decompressed_bytes=4 << 20)).records == 20000


def test_compression_ratio_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vcf_source, "RATIO_AFTER_BYTES", 64 * KIB)
    line = "chr1\t1\t.\tA\tG\t.\t.\tX=" + "A" * 1000
    path = write_vcf(tmp_path / "a.vcf.gz", [], [line] * 2000, compress=True)
    message = refused(path, Limits(max_ratio=20), "decompresses more than 20 times")
    assert "--max-ratio" in message
    assert read(path, Limits(max_ratio=100_000)).records == 2000
    # plain files have no ratio
    plain = tmp_path / "a.vcf"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    assert read(plain, Limits(max_ratio=1)).records == 2000


def test_sample_count_is_bounded(tmp_path: Path) -> None:
    names = [f"S{i}" for i in range(11)]
    path = write_vcf(tmp_path / "s.vcf", names, synthetic_records(2, 11))
    message = refused(path, Limits(max_samples=10), "line 4: 11 samples, more than the limit of 10")
    assert "--max-samples" in message and "S1" not in message
    with pytest.raises(BadInputError, match="11 samples"):
        check_header(path, Limits(max_samples=10))
    assert read(path, Limits(max_samples=11)).samples == 11


def test_too_many_alt_alleles_and_a_long_chrom(tmp_path: Path) -> None:
    alts = ",".join(["C"] * 32768)
    path = write_vcf(tmp_path / "alts.vcf", [], [f"chr1\t1\t.\tA\t{alts}\t.\t.\t."])
    refused(path, Limits(), "line 5: more than 32767 ALT alleles")
    ok = write_vcf(tmp_path / "ok.vcf", [], [f"chr1\t1\t.\tA\t{alts[2:]}\t.\t.\t."])
    assert read(ok, Limits()).records == 1
    path = write_vcf(tmp_path / "chrom.vcf", [], [f"{'c' * 1001}\t1\t.\tA\tG\t.\t.\t."])
    refused(path, Limits(), "line 5: CHROM is longer than 1000 bytes")
    ok = write_vcf(tmp_path / "chrom1000.vcf", [], [f"{'c' * 1000}\t1\t.\tA\tG\t.\t.\t."])
    assert read(ok, Limits()).records == 1


def test_format_bytes() -> None:
    assert format_bytes(64 << 20) == "64 MiB"
    assert format_bytes(64 << 30) == "64 GiB"
    assert format_bytes(1000) == "1000 bytes"
    assert format_bytes(1536) == "1536 bytes"
