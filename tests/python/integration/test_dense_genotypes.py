"""The dense genotype columns hold exactly what vcf.calls held as rows in 0.3.0.

The oracle is the released 0.3.0 itself: every corpus file and a file of
encoding edge cases (each width of GQ/DP, negative values, NULLs, haploid and
ploidy-3 and ploidy-300 calls, no GT, a 300-value PL, lists with missing
elements, other ALTs recoded) are loaded into a database at 0.3.0, whose
calls table is read row by row; then

- this version's view vcf.calls, after each engine's ingest of the same
  files, returns the same rows;
- the 0.3.0 -> 0.4.0 upgrade of that database migrates the rows into the
  columns, and the view returns them again;
- the one value that reads differently, VCF's reserved -2147483648, reads as
  missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_corpus import CORPUS_FILES
from test_engines_agree import QUERIES, _ingest_rows, _plpython_installed
from test_upgrade import _companion, _env

from helpers import same_rows
from vcf_pg_loader.config import Settings
from vcf_pg_loader.db import pin_session_settings
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey, create_master_key
from vcf_pg_loader.keys.providers import ProviderSet
from vcf_pg_loader.keys.registry import init_phi_key
from vcf_pg_loader.staging import stage_file

ROW_LAYOUT = "0.3.0"  # the last version with one vcf.calls row per call
ROW_LAYOUT_COMPANION = "0.2.0"

HEADER = (
    "##fileformat=VCFv4.3\n"
    "##contig=<ID=chr1>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="x">\n'
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="x">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="x">\n'
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">\n'
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="x">\n'
    '##FORMAT=<ID=FT,Number=1,Type=String,Description="x">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n"
)


def _edges(tmp: Path) -> Path:
    pl300 = ",".join(str(i) for i in range(300))
    ploidy300 = "/".join(["0"] * 299 + ["1"])
    rows = [
        # widths 1: 0 and 254 are values, 255 is the NULL marker
        "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT:GQ:DP:AD:PL:FT\t0|1:0:254:3,.:0,10,100:PASS"
        "\t1:254:0:.:.:.\t./.:.:.:.,.:.:lowq\t.",
        # width 2 GQ (255, 32767), width 4 DP (70000), negatives, ploidy 3, an
        # empty sample column, AD sliced per ALT
        "chr1\t20\t.\tG\tT,A\t.\t.\t.\tGT:GQ:DP:AD\t1/2:255:-1:10,300,5\t2|2:32767:70000:."
        "\t0/0/1:.:-32767:1,2,3\t",
        # no GT at all: the gt column is NULL; the extremes of width 4
        "chr1\t30\t.\tT\tG\t.\t.\t.\tGQ:DP\t2147483647:-2147483647\t-2147483647:.\t.:.\t5:5",
        # a PL of 300 values (kept unsliced: 4-byte counts), a haploid PL
        f"chr1\t40\t.\tC\tA\t.\t.\t.\tGT:PL\t0/1:{pl300}\t1/1:1,2,3\t.:.\t0:5,6",
        # other ALTs recode to 0, missing alleles, mixed ploidy
        "chr1\t50\t.\tA\tC,G,T\t.\t.\t.\tGT\t0/3\t3|1\t./1\t1/2/3",
        # a hostile ploidy
        f"chr1\t60\t.\tA\tC\t.\t.\t.\tGT\t{ploidy300}\t0/1\t.\t1",
        # fewer sample fields than FORMAT keys, phased haploid
        "chr1\t70\t.\tA\tC\t.\t.\t.\tGT:GQ:DP:FT\t0|1\t1:7\t0/0:8:9\t./.:1:2:x",
    ]
    path = tmp / "edges.vcf"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _files(tmp: Path) -> list[Path]:
    return [*CORPUS_FILES, _edges(tmp)]


@pytest.fixture(scope="module")
def row_layout_db(cluster: Any, profile: str) -> Iterator[str]:
    name = "dense_row_layout"
    cluster.drop_database(name)
    conninfo = cluster.create_database(name, version=ROW_LAYOUT)
    _companion(profile, conninfo, ROW_LAYOUT_COMPANION)
    yield conninfo
    cluster.drop_database(name)


def _calls(conn: psycopg.Connection[Any], sid: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(QUERIES["calls"], (sid,)).fetchall()


def _assert_same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], what: str) -> None:
    assert len(got) == len(want), what
    for a, b in zip(got, want, strict=True):
        assert same_rows(a, b), (what, a, b)


def test_dense_columns_return_the_rows_0_3_0_stored(
    row_layout_db: str,
    conn: psycopg.Connection[Any],
    home: Path,
    cluster: Any,
    vcfctl: Any,
    tmp_path: Path,
) -> None:
    files = _files(tmp_path)
    old_home = tmp_path / "old-home"
    old_home.mkdir(mode=0o700)
    create_master_key(old_home / "master.key")
    providers = ProviderSet(Settings(home=old_home, master_key_file=old_home / "master.key"))
    oracle: dict[str, tuple[uuid.UUID, list[tuple[Any, ...]]]] = {}
    with psycopg.connect(row_layout_db, autocommit=True) as old:
        pin_session_settings(old)
        init_phi_key(old, providers)
        for path in files:
            sid = stage_file(old, providers, path).session_id
            ingest_session(old, providers, sid)
            oracle[path.name] = (sid, _calls(old, sid))
    assert sum(len(rows) for _, rows in oracle.values()) > 6000  # the corpus has calls
    assert len(oracle["edges.vcf"][1]) == 4 * 10  # 10 (record, ALT) rows x 4 samples

    # each engine of this version, on the same files
    engines = ["plpgsql", *(["plpython"] if _plpython_installed(conn) else [])]
    provider = LocalMasterKey(home / "master.key")
    for path in files:
        staged = stage_file(conn, provider, path, reload=True)
        for engine in engines:
            rows = _ingest_rows(conn, home, staged.session_id, engine)["calls"]
            _assert_same(rows, oracle[path.name][1], f"{path.name} ({engine})")
        conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))

    # the upgrade migrates the rows into the columns
    out = vcfctl("db", "upgrade", env=_env(cluster, row_layout_db, old_home))
    assert out.returncode == 0, out.stderr
    with psycopg.connect(row_layout_db, autocommit=True) as old:
        for name, (sid, want) in oracle.items():
            _assert_same(_calls(old, sid), want, f"{name} (migrated)")
        # nothing is left of the row layout but the view
        kind = old.execute("SELECT relkind FROM pg_class WHERE oid = 'vcf.calls'::regclass")
        assert kind.fetchone() == ("v",)


def test_the_reserved_integer_reads_as_missing(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "reserved.vcf"
    path.write_text(
        HEADER + "chr1\t10\t.\tA\tC\t.\t.\t.\tGT:DP:AD\t0/1:-2147483648:-2147483648,3\t0/0:4:1,2"
        "\t./.:.:.\t1/1:-2147483647:.\n"
    )
    staged = stage_file(conn, LocalMasterKey(home / "master.key"), path, reload=True)
    engines = ["plpgsql", *(["plpython"] if _plpython_installed(conn) else [])]
    for engine in engines:
        rows = _ingest_rows(conn, home, staged.session_id, engine)["calls"]
        assert [(r[6], r[7]) for r in rows] == [
            (None, [None, 3]),
            (4, [1, 2]),
            (None, None),
            (-2147483647, None),
        ], engine
    conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))
