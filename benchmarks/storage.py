"""What a load leaves on disk: bytes per table against the file, and per genotype call.

Sizes are pg_total_relation_size (heap, indexes, TOAST) of each table a load
writes, measured after one load into emptied tables and a VACUUM (so the
visibility map and free space map are there, as they would be after
autovacuum). The gzipped size is of the same VCF at gzip's default level 6
(what `bgzip` would write is within a few percent).

Genotypes have no table of their own since 0.4.0 (vcf.calls is a view over
vcf.records): their share is the sum of pg_column_size of the six genotype
columns of vcf.records, the datums as stored (compressed or in TOAST when
PostgreSQL put them there), without the row's tuple header and alignment.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]
# the tables a load writes a row into per record or ALT: the total.
# vcf.samples and vcf.session_samples (one row per sample, shared across
# files: the benchmark's files reuse sample names) are listed beside it.
PER_RECORD = ("variants", "records", "record_lines")
PER_SAMPLE = ("samples", "session_samples")
GENOTYPE_COLUMNS = ("gt", "gq", "dp", "ad", "pl", "fmt")


@dataclass(frozen=True)
class Storage:
    tables: dict[str, int]
    per_sample: dict[str, int]
    genotype_columns: dict[str, int]
    calls: int
    vcf_bytes: int
    gz_bytes: int

    @property
    def total(self) -> int:
        return sum(self.tables.values())

    @property
    def genotype(self) -> int:
        return sum(self.genotype_columns.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables_bytes": self.tables,
            "per_sample_tables_bytes": self.per_sample,
            "genotype_columns_bytes": self.genotype_columns,
            "genotype_bytes": self.genotype,
            "total_bytes": self.total,
            "vcf_bytes": self.vcf_bytes,
            "gz_bytes": self.gz_bytes,
            "x_gz": round(self.total / self.gz_bytes, 2),
            "calls": self.calls,
            "genotype_bytes_per_call": round(self.genotype / self.calls, 2) if self.calls else None,
            "all_bytes_per_call": round(self.total / self.calls, 1) if self.calls else None,
        }


def gzipped_size(path: Path, work: Path) -> int:
    out = work / (path.name + ".gz")
    with open(path, "rb") as src, gzip.open(out, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    size = out.stat().st_size
    out.unlink()
    return size


def measure(conn: Conn, calls: int, vcf: Path, work: Path) -> Storage:
    """Sizes of what the last load wrote (tables emptied before it)."""
    return Storage(
        _sizes(conn, PER_RECORD),
        _sizes(conn, PER_SAMPLE),
        _genotype_sizes(conn),
        calls,
        vcf.stat().st_size,
        gzipped_size(vcf, work),
    )


def _sizes(conn: Conn, tables: tuple[str, ...]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for table in tables:
        name = f"vcf.{table}"
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
            continue
        conn.execute(f"VACUUM {name}")
        row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (name,)).fetchone()
        sizes[table] = int(row[0]) if row else 0
    return sizes


def _genotype_sizes(conn: Conn) -> dict[str, int]:
    """Stored bytes of each genotype column of vcf.records (NULLs count 0)."""
    sums = ", ".join(f"coalesce(sum(pg_column_size({c})), 0)" for c in GENOTYPE_COLUMNS)
    row = conn.execute(f"SELECT {sums} FROM vcf.records").fetchone()
    return dict(zip(GENOTYPE_COLUMNS, (int(v) for v in row or ()), strict=True))
