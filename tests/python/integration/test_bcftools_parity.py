"""Loaded per-allele rows equal `bcftools norm -m-any` + `bcftools query`, field by field.

For every corpus file bcftools can normalise: chrom, pos, ref, alt, every
INFO field the header defines, and every FORMAT field of every sample (GT
recoded, AD/PL sliced), compared value by value; floats with float32
tolerance, since htslib keeps Float as 32-bit.
"""

from __future__ import annotations

import math
import re
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from test_corpus import CORPUS_FILES

ENGINES = ["plpgsql", pytest.param("plpython", marks=pytest.mark.plpython)]


def _normalisable(path: Path) -> bool:
    return (
        subprocess.run(
            ["bcftools", "norm", "-m-any", "-Ov", "-o", "/dev/null", str(path)], capture_output=True
        ).returncode
        == 0
    )


PARITY_FILES = [p for p in CORPUS_FILES if _normalisable(p)]


def _header_fields(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    header = subprocess.run(
        ["bcftools", "view", "-h", str(path)], capture_output=True, text=True, check=True
    ).stdout
    out: dict[str, list[tuple[str, str, str]]] = {"INFO": [], "FORMAT": []}
    seen: set[tuple[str, str]] = set()
    for m in re.finditer(
        r"^##(INFO|FORMAT)=<ID=([^,>]+),Number=([^,>]+),Type=([^,>]+)", header, re.M
    ):
        kind, key = m.group(1), m.group(2)
        if (kind, key) not in seen:
            seen.add((kind, key))
            out[kind].append((key, m.group(3), m.group(4)))
    return out


def _bcftools_rows(path: Path, fields: dict[str, list[tuple[str, str, str]]]) -> list[list[str]]:
    info = "".join(f"\t%INFO/{k}" for k, _, _ in fields["INFO"])
    fmt = "".join(f"\t%{k}" for k, _, _ in fields["FORMAT"])
    norm = subprocess.run(
        ["bcftools", "norm", "-m-any", str(path)], capture_output=True, check=True
    )
    query = subprocess.run(
        ["bcftools", "query", "-f", f"%CHROM\t%POS\t%REF\t%ALT{info}[{fmt}]\n", "-"],
        input=norm.stdout,
        capture_output=True,
        check=True,
    )
    return [line.split("\t") for line in query.stdout.decode().splitlines()]


def _render(value: Any) -> str:
    if value is None:
        return "."
    if value is True:
        return "1"
    if isinstance(value, list):
        return ",".join(_render(v) for v in value) if value else "."
    return str(value)


def _same(ours: str, theirs: str, type_: str) -> bool:
    theirs = urllib.parse.unquote(theirs)
    if ours == theirs:
        return True
    a, b = ours.split(","), theirs.split(",")
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if type_ != "Float":
            return False
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if not (
            math.isclose(fx, fy, rel_tol=2e-6, abs_tol=1e-30) or (math.isnan(fx) and math.isnan(fy))
        ):
            return False
    return True


def _gt(alleles: list[int | None] | None, phased: bool | None) -> str:
    if alleles is None:
        return "."
    return ("|" if phased else "/").join("." if a is None else str(a) for a in alleles)


def _expected_count(number: str, k: int, ploidy: int | None, n_values: int) -> int | None:
    if k < 2 or number not in ("A", "R", "G"):
        return None
    if number == "A":
        return k
    if number == "R" or ploidy == 1 or (ploidy is None and n_values == k + 1):
        return k + 1
    return None if ploidy is not None and ploidy > 2 else (k + 1) * (k + 2) // 2


def _unsliced(line: str, name: str, fields: dict[str, list[tuple[str, str, str]]]) -> str | None:
    """The raw value of a field whose count contradicts its Number, else None.

    bcftools slices such values anyway (dropping or shifting some); the
    contract keeps them whole, with a warning.
    """
    cols = line.split("\t")
    k = len(cols[4].split(","))
    if name.startswith("INFO/"):
        key = name[5:]
        number = {f: n for f, n, _ in fields["INFO"]}[key]
        raw = dict(item.split("=", 1) for item in cols[7].split(";") if "=" in item).get(key)
        if raw is None or raw == "." or number not in ("A", "R", "G"):
            return None
        expected = _expected_count(number, k, 2, len(raw.split(",")))
    else:
        m = re.match(r"sample (\d+) FORMAT/(.+)", name)
        assert m is not None
        sample, key = int(m.group(1)), m.group(2)
        number = {f: n for f, n, _ in fields["FORMAT"]}[key]
        keys, parts = cols[8].split(":"), cols[8 + sample].split(":")
        if key not in keys or keys.index(key) >= len(parts):
            return None
        raw = parts[keys.index(key)]
        gt = parts[keys.index("GT")] if "GT" in keys and keys.index("GT") < len(parts) else ""
        ploidy = len(re.split(r"[/|]", gt)) if gt else None
        if raw == "." or number not in ("A", "R", "G"):
            return None
        expected = _expected_count(number, k, ploidy, len(raw.split(",")))
    if expected is None or expected == len(raw.split(",")):
        return None
    return urllib.parse.unquote(raw)


def _our_rows(
    conn: psycopg.Connection[Any], sid: str, fields: dict[str, list[tuple[str, str, str]]]
) -> list[list[str]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.record_no, r.alt_no, v.chrom, v.pos, v.ref, v.alt, r.info, rl.line"
            " FROM vcf.records r JOIN vcf.variants v USING (variant_id)"
            " JOIN vcf.record_lines rl USING (session_id, record_no) WHERE r.session_id = %s"
            " ORDER BY r.record_no, r.alt_no",
            (sid,),
        )
        records = cur.fetchall()
        cur.execute(
            "SELECT c.record_no, c.alt_no, ss.sample_index, c.gt, c.phased,"
            " c.gq, c.dp, c.ad, c.pl, c.fmt"
            " FROM vcf.calls c JOIN vcf.session_samples ss"
            " ON ss.session_id = c.session_id AND ss.sample_id = c.sample_id"
            " WHERE c.session_id = %s ORDER BY c.record_no, c.alt_no, ss.sample_index",
            (sid,),
        )
        calls: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for c in cur.fetchall():
            calls.setdefault((c["record_no"], c["alt_no"]), []).append(c)
    rows = []
    for r in records:
        info = r["info"] or {}
        row = [r["line"], r["chrom"], str(r["pos"]), r["ref"], r["alt"]]
        row += [_render(info.get(k)) for k, _, _ in fields["INFO"]]
        for c in calls.get((r["record_no"], r["alt_no"]), []):
            fmt = c["fmt"] or {}
            promoted = {"GQ": c["gq"], "DP": c["dp"], "AD": c["ad"], "PL": c["pl"]}
            for k, _, _ in fields["FORMAT"]:
                if k == "GT":
                    row.append(_gt(c["gt"], c["phased"]))
                elif k in fmt:
                    row.append(_render(fmt[k]))
                else:
                    row.append(_render(promoted.get(k)))
        rows.append(row)
    return rows


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", PARITY_FILES, ids=lambda p: p.name)
def test_rows_equal_bcftools(
    path: Path, engine: str, conn: psycopg.Connection[Any], home: Path
) -> None:
    from vcf_pg_loader.ingest import ingest_session
    from vcf_pg_loader.keys.local import LocalMasterKey
    from vcf_pg_loader.staging import stage_file

    provider = LocalMasterKey(home / "master.key")
    staged = stage_file(conn, provider, path, reload=True)
    ingest_session(conn, provider, staged.session_id, engine=engine)
    fields = _header_fields(path)
    theirs = _bcftools_rows(path, fields)
    ours = _our_rows(conn, str(staged.session_id), fields)
    assert len(ours) == len(theirs)
    names = ["CHROM", "POS", "REF", "ALT"] + [f"INFO/{k}" for k, _, _ in fields["INFO"]]
    types = ["String"] * 4 + [t for _, _, t in fields["INFO"]]
    nfmt = len(fields["FORMAT"])
    mismatches: list[str] = []
    unsliced: list[str] = []
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        assert len(o) == len(t) + 1, (i, o, t)
        line, o = o[0], o[1:]
        for j, (x, y) in enumerate(zip(o, t, strict=True)):
            if j < len(names):
                name, type_ = names[j], types[j]
            else:
                key, _, type_ = fields["FORMAT"][(j - len(names)) % nfmt]
                name = f"sample {(j - len(names)) // nfmt + 1} FORMAT/{key}"
            if _same(x, y, type_):
                continue
            whole = _unsliced(line, name, fields) if j >= 4 else None
            if whole is None:
                mismatches.append(f"row {i + 1} {name}: ours {x!r}, bcftools {y!r}")
            elif not _same(x, whole, type_):
                mismatches.append(f"row {i + 1} {name}: ours {x!r}, unsliced {whole!r}")
            else:
                unsliced.append(name)
    assert mismatches[:20] == []
    warnings = conn.execute(
        "SELECT warnings FROM vcf.sessions WHERE session_id = %s", (staged.session_id,)
    ).fetchone()
    assert warnings is not None
    codes = {w["code"] for w in warnings[0]}
    assert ("count_mismatch" in codes) == bool(unsliced), (codes, unsliced[:3])
