"""The schema can be split across nodes (Citus, Aurora Limitless): issue 11, item 5.

docs/scaling.md places every table (distributed by session_id, reference, or
local to one node) and states the rules that placement must keep; this test
reads that table and checks the rules on the catalog of the installed
extension. A control builds a small schema that breaks each rule and checks
that every break is found, so that a checker gone blind fails too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

SCALING = Path(__file__).resolve().parents[3] / "docs" / "scaling.md"
KINDS = {"distributed", "reference", "local"}


def placement(text: str) -> dict[str, tuple[str, str | None]]:
    """{table: (kind, distribution column)} from the marked table of docs/scaling.md."""
    section = text.split("<!-- distribution")[1].split("<!-- /distribution -->")[0]
    out: dict[str, tuple[str, str | None]] = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|\s*(?:`(\w+)`)?\s*\|", line)
        if m:
            assert m[1] not in out, f"{m[1]} is placed twice"
            assert m[2] in KINDS, f"{m[1]}: unknown kind {m[2]!r}"
            assert (m[3] is not None) == (m[2] == "distributed"), f"{m[1]}: column vs kind"
            out[m[1]] = (m[2], m[3])
    return out


def _rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def violations(
    conn: psycopg.Connection[Any], schema: str, placed: dict[str, tuple[str, str | None]]
) -> Iterator[str]:
    """Every break of the rules of docs/scaling.md by the tables of schema."""
    oid = {
        name: toid
        for name, toid in _rows(
            conn,
            "SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            schema,
        )
    }
    kind = {t: k for t, (k, _) in placed.items()}
    yield from (f"{t}: not placed" for t in sorted(set(oid) - set(placed)))
    yield from (f"{t}: placed but does not exist" for t in sorted(set(placed) - set(oid)))
    types = set()
    for table, (k, column) in sorted(placed.items()):
        if table not in oid or k == "local":
            continue
        toid = oid[table]
        for (trigger,) in _rows(
            conn, "SELECT tgname FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal", toid
        ):
            yield f"{table}: trigger {trigger} on a {k} table"
        for conname, target in _rows(
            conn,
            "SELECT conname, confrelid::regclass::text FROM pg_constraint"
            " WHERE conrelid = %s AND contype = 'f'",
            toid,
        ):
            to = target.split(".")[-1].strip('"')
            if kind.get(to) != "reference":
                yield f"{table}: foreign key {conname} to {to} ({kind.get(to, 'unplaced')})"
        if k != "distributed":
            continue
        assert column is not None
        att = _rows(
            conn,
            "SELECT attnum, attnotnull, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s AND attname = %s AND NOT attisdropped",
            toid,
            column,
        )
        if not att:
            yield f"{table}: no column {column}"
            continue
        attnum, notnull, typ = att[0]
        types.add(typ)
        if not notnull:
            yield f"{table}: {column} may be NULL"
        for index, keys in _rows(
            conn,
            "SELECT i.indexrelid::regclass::text, (i.indkey::int2[])[0:i.indnkeyatts - 1]"
            " FROM pg_index i WHERE i.indrelid = %s AND i.indisunique",
            toid,
        ):
            if attnum not in keys:
                yield f"{table}: unique index {index} without {column}"
        for (conname,) in _rows(
            conn, "SELECT conname FROM pg_constraint WHERE conrelid = %s AND contype = 'x'", toid
        ):
            yield f"{table}: exclusion constraint {conname}"
        for (name,) in _rows(
            conn,
            "SELECT a.attname FROM pg_attribute a LEFT JOIN pg_attrdef d"
            " ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped"
            " AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%')",
            toid,
        ):
            yield f"{table}: identity or serial column {name}"
        for source, conname in _rows(
            conn,
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE confrelid = %s AND contype = 'f' AND conrelid <> %s",
            toid,
            toid,
        ):
            frm = source.split(".")[-1].strip('"')
            if kind.get(frm) != "distributed":
                yield f"{table}: referenced by {frm} ({conname})"
    if len(types) > 1:
        yield f"distributed tables: distribution columns of several types {sorted(types)}"


def updated_tables(source: str) -> set[str]:
    """Tables an SQL or PL/Python function body UPDATEs (schema-qualified or not)."""
    sql = re.findall(r"\bUPDATE\s+(?:ONLY\s+)?(?:\"?[\w@]+\"?\.)?\"?(\w+)", source, re.IGNORECASE)
    py = re.findall(r"\"UPDATE \"\s*\+\s*\w+\s*\+\s*\"\.(\w+)", source)
    return {t.lower() for t in [*sql, *py]}


@pytest.fixture(scope="module")
def placed() -> dict[str, tuple[str, str | None]]:
    return placement(SCALING.read_text(encoding="utf-8"))


def test_every_extension_table_is_placed(
    conn: psycopg.Connection[Any], placed: dict[str, tuple[str, str | None]]
) -> None:
    members = {
        r[0]
        for r in _rows(
            conn,
            "SELECT c.relname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid"
            " JOIN pg_class c ON c.oid = d.objid"
            " WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'"
            " AND e.extname = 'vcf_pg_loader' AND c.relkind IN ('r', 'p')",
        )
    }
    assert members == set(placed)
    assert {"records", "record_lines", "variants", "audit_log"} <= members
    # vcf.calls is a view since 0.4.0: nothing to place
    assert "calls" not in members


def test_the_schema_keeps_the_rules(
    conn: psycopg.Connection[Any], placed: dict[str, tuple[str, str | None]]
) -> None:
    assert list(violations(conn, "vcf", placed)) == []


def test_no_function_updates_a_shared_or_sharded_table(
    conn: psycopg.Connection[Any], placed: dict[str, tuple[str, str | None]]
) -> None:
    """Rule 6: an UPDATE with encryption (VOLATILE) is refused on distributed and
    reference tables; the extension updates only local ones."""
    bodies = _rows(
        conn,
        "SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p"
        " JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass"
        " JOIN pg_extension e ON e.oid = d.refobjid"
        " WHERE d.deptype = 'e' AND e.extname LIKE 'vcf_pg_loader%%'",
    )
    assert any("sessions" in updated_tables(src) for _, src in bodies)  # the search works
    shared = {t for t, (k, _) in placed.items() if k != "local"}
    found = [(fn, t) for fn, src in bodies for t in updated_tables(src) if t in shared]
    assert found == []


def test_the_checker_finds_every_break(superuser_conn: psycopg.Connection[Any]) -> None:
    """Control: one table breaking each rule, each break reported."""
    c = superuser_conn
    c.execute("DROP SCHEMA IF EXISTS dist_control CASCADE")
    c.execute("CREATE SCHEMA dist_control")
    try:
        for ddl in (
            "CREATE TABLE dist_control.ref (id bigint PRIMARY KEY)",
            "CREATE TABLE dist_control.loc (id bigint PRIMARY KEY)",
            "CREATE TABLE dist_control.good (session_id uuid NOT NULL, n int,"
            " ref_id bigint REFERENCES dist_control.ref, PRIMARY KEY (session_id, n))",
            "CREATE TABLE dist_control.no_key (session_id uuid NOT NULL, n int PRIMARY KEY)",
            "CREATE TABLE dist_control.nullable (session_id uuid, n int)",
            "CREATE TABLE dist_control.to_local (session_id uuid NOT NULL,"
            " loc_id bigint REFERENCES dist_control.loc)",
            "CREATE TABLE dist_control.ident (session_id uuid NOT NULL,"
            " id bigint GENERATED BY DEFAULT AS IDENTITY)",
            "CREATE TABLE dist_control.other_type (session_id text NOT NULL)",
            "CREATE TABLE dist_control.trig (session_id uuid NOT NULL)",
            "CREATE FUNCTION dist_control.t() RETURNS trigger LANGUAGE plpgsql"
            " AS 'BEGIN RETURN NEW; END'",
            "CREATE TRIGGER t BEFORE INSERT ON dist_control.trig"
            " FOR EACH ROW EXECUTE FUNCTION dist_control.t()",
            "CREATE TABLE dist_control.refs_dist (s uuid, n int,"
            " FOREIGN KEY (s, n) REFERENCES dist_control.good (session_id, n))",
            "CREATE TABLE dist_control.unplaced (x int)",
        ):
            c.execute(ddl)
        d: tuple[str, str | None] = ("distributed", "session_id")
        placed = {
            "ref": ("reference", None),
            "loc": ("local", None),
            "refs_dist": ("reference", None),
            "good": d,
            "no_key": d,
            "nullable": d,
            "to_local": d,
            "ident": d,
            "other_type": d,
            "trig": d,
            "missing": d,
        }
        found = "\n".join(violations(c, "dist_control", placed))
        for expected in (
            "unplaced: not placed",
            "missing: placed but does not exist",
            "no_key: unique index dist_control.no_key_pkey without session_id",
            "nullable: session_id may be NULL",
            "to_local: foreign key to_local_loc_id_fkey to loc (local)",
            "ident: identity or serial column id",
            "trig: trigger t on a distributed table",
            "refs_dist: foreign key refs_dist_s_n_fkey to good (distributed)",
            "good: referenced by refs_dist",
            "distribution columns of several types",
        ):
            assert expected in found, (expected, found)
        assert "good: unique" not in found and "good: foreign key" not in found
        assert updated_tables("UPDATE @extschema@.records SET x = 1") == {"records"}
        assert updated_tables('st = plpy.prepare("UPDATE " + ext + ".records SET")') == {"records"}
    finally:
        c.execute("DROP SCHEMA dist_control CASCADE")
