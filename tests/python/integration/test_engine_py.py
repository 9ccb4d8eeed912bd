"""The PL/Python block engine against the PL/pgSQL one, block by block, on generated lines.

test_engines_agree.py compares whole ingests of real files; this drives both
block engines directly with seeded random blocks full of what real files
rarely have (odd numbers, percent codes, empty and missing values, wrong
counts, ploidy 3, undefined keys, keys given twice, random header
definitions) and with realistic blocks that reuse one header across blocks,
so the PL/Python engine's memos are warm. Every column of every row written,
the warnings (in order), the counts returned and VP040 errors must agree.

The cases where the two engines knowingly differ are strict xfails at the
end: each is a PL/pgSQL behaviour that docs/vcf-semantics.md contradicts.
"""

from __future__ import annotations

import json
import random
from typing import Any

import psycopg
import pytest

from helpers import same_rows

pytestmark = pytest.mark.plpython

SESSION = "00000000-0000-4000-8000-00000000e1e1"
TYPES = ["Integer", "Float", "Flag", "Character", "String"]
NUMBERS = ["1", "0", "A", "R", "G", ".", "2"]
ELEMENTS = [
    ".",
    "1",
    "-2",
    "+3",
    "007",
    "0",
    "-0",
    "1.5",
    "1e5",
    "1E-3",
    "nan",
    "INF",
    "-inf",
    "+Infinity",
    "abc",
    "",
    "%3B",
    "%2C",
    "%ZZ",
    "%C3%A9",
    "%FF",
    "%00",
    "%2E",
    "%31",
    "99999999999",
    "1234567890123456789",
    "123456789012345678",
    "1.50",
    ".5",
    "5.",
    "2147483648",
    "-2147483648",
    "é",
    "a b",
    '"q"',
    "\\",
    "1e400",
    "x%",
    "1e-20000",
]
GTS = [
    "0/1",
    "1|2",
    ".",
    "./.",
    "0",
    "1/2/3",
    "3",
    "a/1",
    "",
    "0/10",
    "2|2",
    "1",
    "0/0",
    ".|1",
    "1/",
    "00/01",
]
INFO_KEYS = ["AF", "AC", "RD", "GL", "DP", "DB", "FL", "S", "SS", "C", "NN"]
FORMAT_KEYS = ["GQ", "DP", "AD", "PL", "GL", "FT", "XX", "YY"]
REAL_FIELDS = {
    "INFO": {
        "DP": {"number": "1", "type": "Integer"},
        "AF": {"number": "A", "type": "Float"},
        "MQ": {"number": "1", "type": "Integer"},
    },
    "FORMAT": {
        "GT": {"number": "1", "type": "String"},
        "DP": {"number": "1", "type": "Integer"},
        "GQ": {"number": "1", "type": "Integer"},
        "AD": {"number": "R", "type": "Integer"},
        "PL": {"number": "G", "type": "Integer"},
    },
}


def _value(r: random.Random) -> str:
    if r.random() < 0.1:
        return "."
    n = r.randint(0, 12) if r.random() < 0.3 else r.randint(1, 4)
    return ",".join(
        r.choice(ELEMENTS) if r.random() < 0.5 else str(r.randint(0, 60)) for _ in range(n)
    )


def _fields(r: random.Random) -> dict[str, Any]:
    info = {
        k: {"number": r.choice(NUMBERS), "type": r.choice(TYPES)}
        for k in INFO_KEYS
        if r.random() < 0.85
    }
    fmt = {
        k: {"number": r.choice(NUMBERS), "type": r.choice(TYPES)}
        for k in FORMAT_KEYS
        if r.random() < 0.8
    }
    fmt["GT"] = {"number": "1", "type": "String"}
    if r.random() < 0.7:
        fmt.update(REAL_FIELDS["FORMAT"])
    return {"INFO": info, "FORMAT": fmt}


def _line(r: random.Random, samples: int) -> str:
    k = r.choice([1, 1, 2, 2, 3, 4])
    f = [
        r.choice(["chr1", "chr2", "1"]),
        str(r.choice([1, 100, 0, 2147483647, r.randint(1, 999)])),
        r.choice([".", "rs1", "id;x"]),
        r.choice(["A", "AC", "N"]),
        ",".join(r.choice(["G", "T", "<DEL>", "*", ".", "AC", ""]) for _ in range(k)) or "G",
        r.choice([".", "50", "1e5", "nan", "-Inf", "0.0", "+3.5e-2", "1e308", "-.5"]),
        r.choice([".", "PASS", "q10;lowdp", "", ";"]),
    ]
    if r.random() < 0.15:
        f.append(".")
    else:
        items = []
        for _ in range(r.randint(0, 6)):
            key = r.choice([*INFO_KEYS, "UNDEF", ""])
            items.append(key if r.random() < 0.2 else f"{key}={_value(r)}")
        f.append(";".join(items) + (";" if r.random() < 0.05 else ""))
    if samples:
        keys = r.sample([*FORMAT_KEYS, "GT"], r.randint(0, 6))
        if "GT" in keys and r.random() < 0.7:
            keys.remove("GT")
            keys.insert(0, "GT")
        if keys and r.random() < 0.08:
            keys.append(r.choice([k for k in keys if k != "GT"] or ["DP"]))
        f.append(":".join(keys) if keys else r.choice(["", "."]))
        for _ in range(samples):
            c = r.random()
            if c < 0.08:
                f.append("." if c < 0.05 else "")
                continue
            parts = [r.choice(GTS) if k == "GT" else _value(r) for k in keys]
            if parts and r.random() < 0.2:
                parts = parts[: r.randint(0, len(parts))]
            f.append(":".join(parts))
    return "\t".join(f)


def _odd_block(seed: int) -> tuple[str, int, dict[str, Any]]:
    r = random.Random(seed)
    samples = r.choice([0, 1, 2, 3])
    fields = _fields(r)
    lines = [_line(r, samples) if r.random() > 0.05 else "" for _ in range(r.randint(1, 25))]
    if r.random() < 0.15:  # one malformed line: both must reject it alike
        i = r.randrange(len(lines))
        f = (lines[i] or _line(r, samples)).split("\t")
        c = r.randrange(5)
        if c == 0:
            f = [*f, "x"]
        elif c == 1:
            f[0] = ""
        elif c == 2:
            f[1] = r.choice(["2147483648", "-1", "x", "", "12345678901"])
        elif c == 3:
            f[r.choice([3, 4])] = ""
        else:
            f[5] = r.choice(["1e-400", "abc", "1e309", "", "1e-99999"])
        lines[i] = "\t".join(f)
    return "\n".join(lines) + "\n" * r.randint(1, 2), samples, fields


def _real_block(seed: int) -> tuple[str, int, dict[str, Any]]:
    r = random.Random(seed)
    samples = r.choice([1, 3])
    lines = []
    for n in range(150):
        k = 2 if n % 20 == 19 else 1
        alts = ["C", "T", "G"][:k]
        f = [
            "chr1",
            str(1000 + 7 * n + seed),
            ".",
            "A",
            ",".join(alts),
            "50",
            "PASS",
            f"DP={r.randint(5, 400)};AF={','.join(f'{r.random():.3f}' for _ in alts)};MQ=60",
            "GT:AD:DP:GQ:PL",
        ]
        for _ in range(samples):
            gt = r.choice(["0/0", "0/1", "1/1", "0|1", "./.", "1/2" if k > 1 else "1"])
            ad = ",".join(str(r.randint(0, 30)) for _ in range(k + 1))
            pl = ",".join(str(r.randint(0, 99)) for _ in range((k + 1) * (k + 2) // 2))
            cell = f"{gt}:{ad}:{r.randint(0, 60)}:{r.randint(0, 99)}:{pl}"
            if r.random() < 0.05:
                cell = cell.replace(":", ":.:", 1)
            f.append(cell)
        lines.append("\t".join(f))
    return "\n".join(lines) + "\n", samples, REAL_FIELDS


def _run(
    conn: psycopg.Connection[Any], engine: str, data: str, samples: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """One block through one engine, in a transaction rolled back after reading its rows."""
    out: dict[str, Any] = {}
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT vcf._ingest_scratch()")
        # the sample columns vcf._ingest_header would write: vcf.calls reads
        # the genotype columns of vcf.records through them
        conn.execute(
            "INSERT INTO vcf.session_samples (session_id, sample_index, sample_id)"
            " SELECT %s, g, 100 + g FROM generate_series(1, %s) AS g",
            (SESSION, samples),
        )
        try:
            conn.execute("SAVEPOINT block")
            out["counts"] = conn.execute(
                f"SELECT * FROM vcf.{engine}(%s, %s, 40, 7, %s, %s, %s)",
                (
                    SESSION,
                    data,
                    8 + (1 + samples if samples else 0),
                    list(range(101, 101 + samples)),
                    json.dumps(fields),
                ),
            ).fetchone()
        except psycopg.Error as e:
            conn.execute("ROLLBACK TO SAVEPOINT block")
            d = e.diag
            out["error"] = (d.sqlstate, d.message_primary, d.message_detail, d.message_hint)
            return out
        for name, sql in {
            "records": "SELECT r.record_no, r.alt_no, v.chrom, v.pos, v.ref, v.alt,"
            " v.allele_key = vcf._allele_key(v.ref, v.alt), r.id, r.qual, r.filter,"
            " r.info, r.alts FROM vcf.records r JOIN vcf.variants v USING (variant_id)"
            " WHERE r.session_id = %s ORDER BY 1, 2",
            "record_lines": "SELECT record_no, line_no, line FROM vcf.record_lines"
            " WHERE session_id = %s ORDER BY 1",
            "calls": "SELECT record_no, alt_no, sample_id, gt, phased, gq, dp, ad, pl, fmt"
            " FROM vcf.calls WHERE session_id = %s ORDER BY 1, 2, 3",
            "genotype_columns": "SELECT record_no, alt_no, gt, gq, dp, ad, pl, fmt"
            " FROM vcf.records WHERE session_id = %s ORDER BY 1, 2",
        }.items():
            out[name] = conn.execute(sql, (SESSION,)).fetchall()
        out["warnings"] = conn.execute(
            "SELECT code, line_no, field, message FROM pg_temp.vcf_ingest_warnings"
        ).fetchall()
    finally:
        conn.execute("ROLLBACK")
    return out


def _assert_agree(
    conn: psycopg.Connection[Any], data: str, samples: int, fields: dict[str, Any]
) -> dict[str, Any]:
    py = _run(conn, "_ingest_block_py", data, samples, fields)
    pg = _run(conn, "_ingest_block", data, samples, fields)
    assert py.keys() == pg.keys(), (py.get("error"), pg.get("error"))
    for name in py:
        assert len(py[name]) == len(pg[name]), name
        for a, b in zip(py[name], pg[name], strict=True):
            assert same_rows(a, b), (name, a, b)
    return py


@pytest.fixture
def engines(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    row = conn.execute("SELECT to_regproc('vcf._ingest_block_py') IS NOT NULL").fetchone()
    assert row and row[0], "the companion extension is installed in the test cluster"
    return conn


@pytest.mark.parametrize("seed", range(40))
def test_odd_blocks_agree(engines: psycopg.Connection[Any], seed: int) -> None:
    _assert_agree(engines, *_odd_block(seed))


def test_real_blocks_agree_with_warm_memos(engines: psycopg.Connection[Any]) -> None:
    for seed in range(6):
        out = _assert_agree(engines, *_real_block(seed))
        assert out["counts"][1] > 150 and out["counts"][2] > 0


def test_vp040_message_is_the_plpgsql_one(engines: psycopg.Connection[Any]) -> None:
    data = "chr1\t1\t.\tA\tG\t1\tPASS\t.\n\nchr1\t2\t.\tA\tG\t1\tPASS\n"
    out = _assert_agree(engines, data, 0, REAL_FIELDS)
    assert out["error"] == (
        "VP040",
        f"session {SESSION}: line 43: wrong number of columns",
        "The line has 7 columns; the #CHROM line has 8.",
        "Fix the file and load it again; nothing of it was written.",
    )


# Known differences: the PL/pgSQL engine departs from docs/vcf-semantics.md.
# Strict: when it is fixed these start passing and must become plain tests.
KNOWN = {
    # Cases where the PL/pgSQL engine once departed from the contract (fixed):
    # INFO/GT is an ordinary INFO key (undefined_key, bad_value apply) ...
    "info_gt": ("chr1\t1\t.\tA\tG\t1\tPASS\tGT=x\n", 0),
    # ... FORMAT naming GT twice reads the first GT, one calls row per sample ...
    "gt_twice": ("chr1\t1\t.\tA\tG\t1\tPASS\t.\tGT:GT\t0/1:1/1\n", 1),
    # ... and a line of fewer than 5 columns is a VP040, not a scratch-table error.
    "short_line": ("chr1\t1\t.\tA\n", 0),
}


@pytest.mark.parametrize("case", sorted(KNOWN))
def test_known_differences(engines: psycopg.Connection[Any], case: str) -> None:
    data, samples = KNOWN[case]
    _assert_agree(engines, data, samples, REAL_FIELDS)


def test_known_differences_plpython_side(engines: psycopg.Connection[Any]) -> None:
    """What this engine does in those cases, as the contract says."""
    out = _run(engines, "_ingest_block_py", *KNOWN["info_gt"], REAL_FIELDS)
    assert out["warnings"] == [
        (
            "undefined_key",
            41,
            "INFO/GT",
            "line 41: INFO/GT is not defined in the header; loaded as String",
        )
    ]
    out = _run(engines, "_ingest_block_py", *KNOWN["gt_twice"], REAL_FIELDS)
    assert [c[3] for c in out["calls"]] == [[0, 1]]
    out = _run(engines, "_ingest_block_py", *KNOWN["short_line"], REAL_FIELDS)
    assert out["error"][:2] == ("VP040", f"session {SESSION}: line 41: wrong number of columns")
