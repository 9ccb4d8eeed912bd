"""Every real-world VCF in ../shared/vcf-corpus loads, its counts checked with bcftools."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS

CORPUS_FILES = (
    sorted(p for p in CORPUS.glob("*") if p.name.endswith((".vcf", ".vcf.gz")))
    if CORPUS.is_dir()
    else []
)


def _bcftools_count(*args: str) -> int | None:
    """Data lines bcftools prints, or None when bcftools refuses the file."""
    result = subprocess.run(["bcftools", *args], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return sum(1 for line in result.stdout.splitlines() if line and not line.startswith("#"))


def _alt_rows(path: Path) -> int:
    """Per-ALT rows by cyvcf2, for files bcftools norm refuses (see the corpus README)."""
    import cyvcf2

    vcf = cyvcf2.VCF(str(path))
    try:
        return sum(max(len(v.ALT), 1) for v in vcf)
    finally:
        vcf.close()


def test_corpus_is_present() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}: ../shared is absent on this checkout")
    assert len(CORPUS_FILES) >= 10


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_loads(path: Path, vcfctl: Any) -> None:
    result = vcfctl("load", "--reload", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["state"] == "ingested"
    records = _bcftools_count("view", "-H", str(path))
    assert records is not None
    assert entry["records"] == records
    per_allele = _bcftools_count("norm", "-m-any", str(path))
    if per_allele is None:
        per_allele = _alt_rows(path)
    assert entry["variants"] == per_allele
    assert entry["calls"] == entry["variants"] * entry["samples"]
