"""The ingest's plans do not depend on the statistics of the shared tables (issue 11, item 2).

vcf.variants is shared by every file. When the planner believed it empty or
small, the lookup of a block's variant ids became a hash join over, or a
sequential scan of, the whole table, once per block: an ANALYZE that ran
while a load was uncommitted (autovacuum does this; it counts the load's own
rows as not there) turned a 6 s load into 218 s. Each scenario here puts the
statistics in such a state, runs a real ingest with auto_explain reporting
every nested statement's plan as a NOTICE, and requires every scan of
vcf.variants to go through its unique index inside a nested loop. The times
of the same scenarios are in the benchmark (make bench), not here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from helpers import synthetic_records, write_vcf
from vcf_pg_loader.config import Settings
from vcf_pg_loader.db import pin_session_settings
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import create_master_key
from vcf_pg_loader.keys.providers import ProviderSet
from vcf_pg_loader.keys.registry import init_phi_key
from vcf_pg_loader.staging import stage_file

DATABASE = "plan_cliff"
_EXPLAIN = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_format": "json",
    "auto_explain.log_level": "notice",
}


@pytest.fixture(scope="module")
def database(cluster: Any, superuser_conninfo: str, profile: str) -> Iterator[str]:
    """A database of its own, whose statistics the tests may wreck; the owner's
    sessions in it report their plans."""
    cluster.drop_database(DATABASE)
    conninfo = str(cluster.create_database(DATABASE))
    if profile == "default":
        with psycopg.connect(conninfo, autocommit=True) as c:
            c.execute("CREATE EXTENSION vcf_pg_loader_plpython CASCADE")
    owner = str(conninfo_to_dict(conninfo)["user"])
    super_db = psycopg.conninfo.make_conninfo(superuser_conninfo, dbname=DATABASE)
    with psycopg.connect(super_db, autocommit=True) as c:
        for name, value in _EXPLAIN.items():
            c.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    sql.Identifier(owner),
                    sql.Identifier(DATABASE),
                    sql.Identifier(*name.split(".")),
                    sql.Literal(value),
                )
            )
    yield conninfo
    with psycopg.connect(super_db, autocommit=True) as c:
        c.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(
                sql.Identifier(owner), sql.Identifier(DATABASE)
            )
        )
    cluster.drop_database(DATABASE)


@pytest.fixture(scope="module")
def providers(database: str, tmp_path_factory: pytest.TempPathFactory) -> ProviderSet:
    home = tmp_path_factory.mktemp("plan-cliff") / "home"
    home.mkdir(mode=0o700)
    create_master_key(home / "master.key")
    providers = ProviderSet(Settings(home=home, master_key_file=home / "master.key"))
    with psycopg.connect(database, autocommit=True) as c:
        pin_session_settings(c)
        init_phi_key(c, providers)
    return providers


class Plans:
    """The plans auto_explain reported on one connection, as JSON."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.plans: list[dict[str, Any]] = []
        conn.add_notice_handler(self._notice)

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        start = text.find("{")
        if text.startswith("duration:") and start >= 0:
            self.plans.append(json.loads(text[start:]))

    def touching(self, relation: str) -> list[dict[str, Any]]:
        return [p for p in self.plans if _nodes_on(p["Plan"], relation)]


def _walk(node: dict[str, Any], parent: dict[str, Any] | None = None) -> Iterator[Any]:
    yield node, parent
    for child in node.get("Plans", []):
        yield from _walk(child, node)


def _nodes_on(plan: dict[str, Any], relation: str) -> list[tuple[Any, Any]]:
    return [(n, p) for n, p in _walk(plan) if n.get("Relation Name") == relation]


def _load(conn: psycopg.Connection[Any], providers: ProviderSet, path: Path, engine: str) -> Plans:
    staged = stage_file(conn, providers, path)
    plans = Plans(conn)
    ingest_session(conn, providers, staged.session_id, engine=engine)
    return plans


def _assert_index_lookups(plans: Plans, label: str) -> None:
    """Every read of vcf.variants in the ingest is a probe of its unique index
    in a nested loop: no plan scans the table or hashes it."""
    lookups = 0
    for plan in plans.plans:
        for node, parent in _nodes_on(plan["Plan"], "variants"):
            if node["Node Type"] == "ModifyTable":
                continue  # the INSERT ... ON CONFLICT into it: its arbiter is the index
            assert node["Node Type"] in ("Index Scan", "Index Only Scan"), (
                label,
                plan["Query Text"],
                node,
            )
            assert node["Index Name"] == "variants_site_alleles_unique", (label, node)
            # a probe: all three key columns in the index condition (a scan of
            # the whole index with the keys as a filter also reads "Index Scan")
            cond = node.get("Index Cond", "")
            assert all(f"{c} = " in cond for c in ("chrom", "pos", "allele_key")), (label, node)
            assert "Filter" not in node, (label, node)
            assert parent is not None and parent["Node Type"] in ("Limit", "Nested Loop"), (
                label,
                parent,
            )
            lookups += 1
    assert lookups > 0, f"{label}: no plan read vcf.variants ({len(plans.plans)} plans)"


def _file(tmp_path: Path, name: str, records: int, start: int) -> Path:
    return write_vcf(
        tmp_path / f"{name}.vcf", [f"PC-{name}"], synthetic_records(records, 1, start=start)
    )


@pytest.fixture(params=["plpython", "plpgsql"])
def engine(request: pytest.FixtureRequest, engines: list[str]) -> str:
    if request.param not in engines:
        pytest.skip(f"this profile's server has no {request.param} engine")
    return str(request.param)


def test_analyze_during_an_uncommitted_load(
    database: str, providers: ProviderSet, superuser_conninfo: str, engine: str, tmp_path: Path
) -> None:
    """ANALYZE (as autovacuum runs it) while a load is uncommitted counts none
    of its rows: the table looks empty though it has pages."""
    first = _file(tmp_path, f"uncommitted-{engine}", 4000, 10_000_000)
    second = _file(tmp_path, f"after-analyze-{engine}", 4000, 20_000_000)
    with psycopg.connect(database) as conn:
        pin_session_settings(conn)
        staged = stage_file(conn, providers, first)
        conn.commit()
        ingest_session(conn, providers, staged.session_id, engine=engine)  # not committed
        with psycopg.connect(
            psycopg.conninfo.make_conninfo(superuser_conninfo, dbname=DATABASE), autocommit=True
        ) as other:
            other.execute("ANALYZE vcf.variants")
            pages, tuples = other.execute(
                "SELECT relpages, reltuples FROM pg_class WHERE oid = 'vcf.variants'::regclass"
            ).fetchone() or (0, 0)
        assert pages > 0 and tuples < 1000, (pages, tuples)
        plans = _load(conn, providers, second, engine)
        conn.rollback()
    _assert_index_lookups(plans, "analyzed mid-load")


def test_stale_statistics_after_truncate(
    database: str, providers: ProviderSet, superuser_conninfo: str, engine: str, tmp_path: Path
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        pin_session_settings(conn)
        _load(
            conn, providers, _file(tmp_path, f"before-truncate-{engine}", 3000, 30_000_000), engine
        )
        conn.execute("ANALYZE vcf.variants")
        conn.execute("TRUNCATE vcf.records, vcf.record_lines, vcf.variants")
        plans = _load(
            conn, providers, _file(tmp_path, f"after-truncate-{engine}", 6000, 40_000_000), engine
        )
    _assert_index_lookups(plans, "stale after TRUNCATE")


def test_into_a_table_of_many_variants(
    database: str, providers: ProviderSet, engine: str, tmp_path: Path
) -> None:
    """Variants of earlier files, analyzed: the planner knows the table is big,
    which is when it used to hash the whole table once per block."""
    with psycopg.connect(database, autocommit=True) as conn:
        pin_session_settings(conn)
        conn.execute(
            "INSERT INTO vcf.variants (chrom, pos, ref, alt, allele_key)"
            " SELECT 'chrEarlier', g, 'A', 'C', vcf._allele_key('A', 'C')"
            " FROM generate_series(1, 300000) AS g ON CONFLICT DO NOTHING"
        )
        conn.execute("ANALYZE vcf.variants")
        plans = _load(conn, providers, _file(tmp_path, f"many-{engine}", 6000, 50_000_000), engine)
    _assert_index_lookups(plans, "300k variants")
