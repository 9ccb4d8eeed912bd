"""A synthetic VCF from one seeded random stream: every run writes the same bytes.

Lines are written in chunks: memory stays flat whatever the record count.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHROMS = [f"chr{i}" for i in range(1, 23)]
MULTIALLELIC_EVERY = 50
_CHUNK_LINES = 5000
_BASES = "ACGT"
_GTS = ["0/0", "0/1", "0/1", "1/1", "0|1", "1|0", "./."]
_MULTI_GTS = ["1/2", "0/2", "2/2", "0/1", "1|2", "./."]


@dataclass(frozen=True)
class Record:
    """One data line's fields; the FORMAT column is always GT:DP when there are samples."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    qual: str
    filter: str
    info: str
    calls: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SyntheticFiles:
    vcf: Path
    records: int
    samples: int
    multiallelic: int
    alt_alleles: int

    @property
    def vcf_bytes(self) -> int:
        return self.vcf.stat().st_size


def header_lines(samples: int) -> list[str]:
    """A header htslib accepts without warnings: every INFO/FORMAT key declared."""
    lines = [
        "##fileformat=VCFv4.2",
        "##fileDate=20261129",
        "##source=vcf-pg-loader-benchmark",
        "##reference=file:///data/reference/GRCh38.fa",
        *(f"##contig=<ID={c},length=250000000>" for c in CHROMS),
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##INFO=<ID=MQ,Number=1,Type=Integer,Description="Mapping quality">',
        '##FILTER=<ID=q10,Description="Quality below 10">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    ]
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        columns += ["FORMAT", *(f"BENCH-SAMPLE-{i:05d}" for i in range(1, samples + 1))]
    lines.append("\t".join(columns))
    return lines


def _alleles(rng: random.Random, multiallelic: bool) -> tuple[str, list[str]]:
    """Mostly SNVs, some short indels; a multi-allelic site gets 2 or 3 ALTs."""
    ref = rng.choice(_BASES)
    if multiallelic:
        others = [b for b in _BASES if b != ref]
        rng.shuffle(others)
        alts = others[: rng.randint(2, 3)]
        alts[-1] = ref + alts[-1]  # one of them an insertion
        return ref, alts
    kind = rng.random()
    if kind < 0.05:
        return ref + "".join(rng.choices(_BASES, k=rng.randint(1, 6))), [ref]
    if kind < 0.10:
        return ref, [ref + "".join(rng.choices(_BASES, k=rng.randint(1, 6)))]
    return ref, [rng.choice([b for b in _BASES if b != ref])]


def records(count: int, samples: int, seed: int = 20261129) -> Iterator[Record]:
    """Records sorted by chromosome and position, spread over chr1..chr22."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    per_chrom = max(1, -(-count // len(CHROMS)))
    pos = 0
    for n in range(count):
        if n % per_chrom == 0:
            pos = 10_000
        pos += rng.randint(1, 300)
        multi = n % MULTIALLELIC_EVERY == MULTIALLELIC_EVERY - 1
        ref, alts = _alleles(rng, multi)
        af = ",".join(f"{rng.random():.3f}" for _ in alts)
        gts = _MULTI_GTS if multi else _GTS
        yield Record(
            chrom=CHROMS[n // per_chrom],
            pos=pos,
            id=f"rs{rng.randint(1, 900_000_000)}" if rng.random() < 0.3 else ".",
            ref=ref,
            alt=",".join(alts),
            qual="." if rng.random() < 0.02 else f"{rng.uniform(5, 900):.1f}",
            filter="PASS" if rng.random() < 0.9 else "q10",
            info=f"DP={rng.randint(5, 400)};AF={af};MQ={rng.randint(20, 60)}",
            calls=tuple((rng.choice(gts), rng.randint(0, 99)) for _ in range(samples)),
        )


def vcf_line(r: Record) -> str:
    fields = [r.chrom, str(r.pos), r.id, r.ref, r.alt, r.qual, r.filter, r.info]
    if r.calls:
        fields += ["GT:DP", *(f"{gt}:{dp}" for gt, dp in r.calls)]
    return "\t".join(fields) + "\n"


def write_files(directory: Path, count: int, samples: int) -> SyntheticFiles:
    """Write bench.vcf in one pass; return what it holds."""
    vcf_path = directory / "bench.vcf"
    multi = alts = 0
    with open(vcf_path, "w", encoding="utf-8") as vcf:
        vcf.write("\n".join(header_lines(samples)) + "\n")
        chunk: list[str] = []
        for r in records(count, samples):
            n_alts = r.alt.count(",") + 1
            alts += n_alts
            multi += n_alts > 1
            chunk.append(vcf_line(r))
            if len(chunk) >= _CHUNK_LINES:
                vcf.write("".join(chunk))
                chunk = []
        vcf.write("".join(chunk))
    return SyntheticFiles(vcf_path, count, samples, multi, alts)


def round_file(files: SyntheticFiles, round_no: int) -> Path:
    """The VCF with one extra header line naming the round: new content, same records.

    Staging refuses content that is already loaded (same sha256), and every
    round must be a first load of a new file.
    """
    path = files.vcf.with_name(f"bench-round-{round_no}.vcf")
    with open(files.vcf, "rb") as src, open(path, "wb") as dst:
        dst.write(src.readline())
        dst.write(f"##benchmark_round={round_no}\n".encode())
        shutil.copyfileobj(src, dst, 1 << 20)
    return path
