"""Real-world shapes load intact: symbolic and breakend alleles, gVCF blocks, huge
positions and alleles, many samples, mixed ploidy and phasing, odd contigs,
CRLF, VCF 4.0 to 4.4, no ##contig lines."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest

LONG_ALLELE = "".join(random.Random(7).choice("ACGT") for _ in range(30_000))


def _write(
    path: Path,
    version: str,
    header: list[str],
    samples: list[str],
    lines: list[str],
    newline: str = "\n",
) -> Path:
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    text = newline.join([f"##fileformat=VCFv{version}", *header, "\t".join(cols), *lines]) + newline
    path.write_bytes(text.encode())
    return path


def _load(vcfctl: Any, path: Path) -> dict[str, Any]:
    result = vcfctl("load", "--reload", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["state"] == "ingested"
    return entry


def _rows(conn: psycopg.Connection[Any], sid: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT v.chrom, v.pos, v.ref, v.alt, r.info FROM vcf.records r"
        " JOIN vcf.variants v USING (variant_id) WHERE r.session_id = %s"
        " ORDER BY r.record_no, r.alt_no",
        (sid,),
    ).fetchall()


GT = '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">'


@pytest.mark.parametrize("version", ["4.0", "4.1", "4.2", "4.3", "4.4"])
def test_alleles_of_every_kind(
    version: str, vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    header = [
        GT,
        '##INFO=<ID=END,Number=1,Type=Integer,Description="e">',
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="t">',
        '##ALT=<ID=DEL,Description="Deletion">',
    ]
    lines = [
        "chr1\t100\tsv1\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=500\tGT\t0/1",
        "chr1\t200\t.\tA\tG,*\t10\tPASS\t.\tGT\t1/2",
        "chr1\t300\tbnd1\tG\tG]chr2:198982]\t.\tPASS\tSVTYPE=BND\tGT\t0/1",
        "chr1\t400\t.\tT\t<NON_REF>\t.\t.\tEND=450\tGT\t0/0",
        "chr1\t500\t.\tC\t<*>\t.\t.\tEND=510\tGT\t0/0",
        f"chr1\t2147483647\t.\t{LONG_ALLELE}\tA\t.\t.\t.\tGT\t1",
        f"chr1\t600\t.\tA\t{LONG_ALLELE}\t.\t.\t.\tGT\t0|1",
        "chr1\t700\t.\tA\tT\t.\t.\t.\tGT\t0/1/1",
    ]
    entry = _load(vcfctl, _write(tmp_path / f"alleles{version}.vcf", version, header, ["S"], lines))
    assert (entry["records"], entry["variants"]) == (8, 9)
    rows = _rows(conn, entry["session_id"])
    alts = [r[3] for r in rows]
    assert alts[:6] == ["<DEL>", "G", "*", "G]chr2:198982]", "<NON_REF>", "<*>"]
    assert rows[0][4] == {"SVTYPE": "DEL", "END": 500}
    assert rows[6][1] == 2147483647 and rows[6][2] == LONG_ALLELE
    assert rows[7][3] == LONG_ALLELE
    gts = conn.execute(
        "SELECT record_no, alt_no, gt, phased FROM vcf.calls WHERE session_id = %s"
        " ORDER BY record_no, alt_no",
        (entry["session_id"],),
    ).fetchall()
    assert gts[1][2:] == ([1, 0], False) and gts[2][2:] == ([0, 1], False)
    assert gts[6][2:] == ([1], False)
    assert gts[7][2:] == ([0, 1], True)
    assert gts[8][2:] == ([0, 1, 1], False)


def test_many_samples_mixed_ploidy_and_phasing(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    samples = [f"PT{i:04d}" for i in range(300)]
    choices = ["0/0", "0|1", "1", "./.", ".", "1|1", "0/1/1", "0"]
    lines = [
        "\t".join(
            [
                "NC_045512.2",
                str(10 * (i + 1)),
                ".",
                "A",
                "G",
                ".",
                ".",
                ".",
                "GT",
                *(choices[(i * 7 + s) % len(choices)] for s in range(300)),
            ]
        )
        for i in range(40)
    ]
    entry = _load(vcfctl, _write(tmp_path / "many.vcf", "4.2", [GT], samples, lines))
    assert (entry["samples"], entry["calls"]) == (300, 40 * 300)
    rows = conn.execute(
        "SELECT c.gt, c.phased, ss.sample_index, c.record_no FROM vcf.calls c"
        " JOIN vcf.session_samples ss"
        " ON ss.session_id = c.session_id AND ss.sample_id = c.sample_id"
        " WHERE c.session_id = %s",
        (entry["session_id"],),
    ).fetchall()
    expect = {
        "0/0": ([0, 0], False),
        "0|1": ([0, 1], True),
        "1": ([1], False),
        "./.": ([None, None], False),
        ".": ([None], False),
        "1|1": ([1, 1], True),
        "0/1/1": ([0, 1, 1], False),
        "0": ([0], False),
    }
    for gt, phased, s, rec in rows:
        assert (gt, phased) == expect[choices[((rec - 1) * 7 + s - 1) % len(choices)]]


def test_sites_only_crlf_no_contig_lines(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    lines = [f"scaffold_{i}|x\t{i + 1}\t.\tA\tC\t.\t.\t." for i in range(50)]
    entry = _load(vcfctl, _write(tmp_path / "sites.vcf", "4.1", [], [], lines, newline="\r\n"))
    assert (entry["records"], entry["variants"], entry["calls"], entry["samples"]) == (50, 50, 0, 0)
    assert {w["code"] for w in entry["warnings"]} == {"crlf"}
    rows = _rows(conn, entry["session_id"])
    assert rows[3][:4] == ("scaffold_3|x", 4, "A", "C") and rows[3][4] is None


def test_gvcf_blocks_keep_end(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    from conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    entry = _load(vcfctl, CORPUS / "gvcf_sample.vcf.gz")
    row = conn.execute(
        "SELECT v.alt, r.info->'END' FROM vcf.records r JOIN vcf.variants v USING (variant_id)"
        " WHERE r.session_id = %s AND r.record_no = 1",
        (entry["session_id"],),
    ).fetchone()
    assert row == ("<NON_REF>", 1951)
