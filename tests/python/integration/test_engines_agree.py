"""Two engines, one result: the PL/Python and PL/pgSQL block parsers write identical rows.

Each file is staged once and ingested by each engine in a transaction that is
rolled back after its rows are read, so both parse exactly the same session.
Every column of records (the dense genotype columns byte for byte),
record_lines, the decoded calls and the variants they point to, and the
warnings, must be equal.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_corpus import CORPUS_FILES

from conftest import DATA
from helpers import phi_key, same_rows, staging_key
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import stage_file

pytestmark = pytest.mark.plpython

QUERIES = {
    "records": "SELECT r.record_no, r.alt_no, v.chrom, v.pos, v.ref, v.alt, r.id, r.qual, r.filter,"
    " r.info, r.alts FROM vcf.records r JOIN vcf.variants v USING (variant_id)"
    " WHERE r.session_id = %s ORDER BY 1, 2",
    "record_lines": "SELECT record_no, line_no, line FROM vcf.record_lines WHERE session_id = %s"
    " ORDER BY 1",
    "calls": "SELECT c.record_no, c.alt_no, ss.sample_index, c.gt, c.phased, c.gq, c.dp, c.ad,"
    " c.pl, c.fmt FROM vcf.calls c JOIN vcf.session_samples ss"
    " ON ss.session_id = c.session_id AND ss.sample_id = c.sample_id"
    " WHERE c.session_id = %s ORDER BY 1, 2, 3",
    # the dense columns themselves, byte for byte: both engines' encoders
    "genotype_columns": "SELECT record_no, alt_no, gt, gq, dp, ad, pl, fmt FROM vcf.records"
    " WHERE session_id = %s ORDER BY 1, 2",
    "session": "SELECT records, variants, calls, samples, warnings FROM vcf.sessions"
    " WHERE session_id = %s",
}


def _generated(tmp: Path) -> list[Path]:
    odd = tmp / "odd.vcf"
    odd.write_text(
        "##fileformat=VCFv4.3\n"
        '##INFO=<ID=AF,Number=A,Type=Float,Description="x">\n'
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="x">\n'
        '##INFO=<ID=FLAG,Number=0,Type=Flag,Description="x">\n'
        '##INFO=<ID=GL,Number=G,Type=Float,Description="x">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="x">\n'
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">\n'
        '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="x">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Float,Description="x">\n'
        '##FORMAT=<ID=XS,Number=A,Type=String,Description="x">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\n"
        "chr1\t5\t.\tA\tC,G,T\tnan\tPASS\tAF=0.1,.,3e-2;DP=abc;FLAG;NEW=%3B%3D%25x;GL=1,2,3"
        "\tGT:AD:PL:DP:XS\t1/3:1,2,.,4:1,2,3,4,5,6,7,8,9,10:1.5:a%2Cb,.,c\t2:5,6,7,8:1,2,3,4"
        "\t./.:.:.:.:.\n"
        "chr1\t6\trs1;rs2\tAC\t<DEL>,*\t-1e3\tq10;lowdp\tAF=0.5,1e-20000;GL=.\tGT:PL\t0|2:1,2,3"
        "\t1/1/2:1,2,3,4,5,6,7,8,9,10\t.\n"
        "\n"
        "chr2\t2147483647\t.\tN\tN[chr3:5[\t.\t.\t.\tGT:AD\t0/5:1,2\t1:\t0\n"
    )
    return [odd, DATA / "example.vcf"]


def _ingest_rows(
    conn: psycopg.Connection[Any], home: Path, sid: uuid.UUID, engine: str
) -> dict[str, list[tuple[Any, ...]]]:
    staging, phi = staging_key(conn, home, sid), phi_key(conn, home)
    out: dict[str, list[tuple[Any, ...]]] = {}
    conn.execute("BEGIN")
    try:
        unlock(conn, staging)
        unlock(conn, phi)
        conn.execute("SELECT * FROM vcf.vcf_ingest(%s, engine => %s)", (sid, engine))
        for name, sql in QUERIES.items():
            out[name] = conn.execute(sql, (sid,)).fetchall()
    finally:
        conn.execute("ROLLBACK")
    return out


def _plpython_installed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regproc('vcf._ingest_block_py') IS NOT NULL").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("which", [*(p.name for p in CORPUS_FILES), "generated"])
def test_engines_write_identical_rows(
    which: str, conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> None:
    assert _plpython_installed(conn), "the companion extension is installed in the test cluster"
    paths = (
        _generated(tmp_path)
        if which == "generated"
        else [p for p in CORPUS_FILES if p.name == which]
    )
    provider = LocalMasterKey(home / "master.key")
    for path in paths:
        staged = stage_file(conn, provider, path, reload=True)
        py = _ingest_rows(conn, home, staged.session_id, "plpython")
        pg = _ingest_rows(conn, home, staged.session_id, "plpgsql")
        for name in QUERIES:
            assert len(py[name]) == len(pg[name]), (path.name, name)
            for a, b in zip(py[name], pg[name], strict=True):
                assert same_rows(a, b), (path.name, name, a, b)
        assert py["records"] or path.name == "empty.vcf.gz", path.name
        conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))
