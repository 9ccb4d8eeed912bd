"""An upgrade from the previous release leaves what a fresh install of this one has.

Each profile takes its own route: the server's extension files (default:
CREATE EXTENSION ... VERSION '0.1.0' from extension/released/, then
``vcfctl db upgrade``, which runs ALTER EXTENSION ... UPDATE) and pg_tle
(portable: 0.1.0's frozen script registered by a non-superuser, then
``vcfctl db upgrade``, which registers the upgrade script and the new
version). The inventory (tests/python/inventory.py) of the upgraded database
must equal that of a fresh install; what was loaded before the upgrade stays
readable, the audit chain still verifies and records the upgrade, and the
new version's behaviour is there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from conftest import DATA
from inventory import differences, inventory
from vcf_pg_loader import EXTENSION_VERSION, tle
from vcf_pg_loader.config import Settings
from vcf_pg_loader.db import pin_session_settings
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import create_master_key
from vcf_pg_loader.keys.providers import ProviderSet
from vcf_pg_loader.keys.registry import init_phi_key
from vcf_pg_loader.staging import stage_file

PREVIOUS = "0.1.0"
PREVIOUS_COMPANION = "0.1.0"  # the companion version released with PREVIOUS


def test_the_upgrade_chain_reaches_this_version() -> None:
    steps = tle.upgrade_steps(PREVIOUS, EXTENSION_VERSION, tle.EXTENSION_DIR)
    assert steps[0][0] == PREVIOUS and steps[-1][1] == EXTENSION_VERSION


def _companion(profile: str, conninfo: str, version: str | None = None) -> None:
    """The PL/Python companion (at version, or its default), where the profile's
    server has plpython3u."""
    if profile == "default":
        with psycopg.connect(conninfo, autocommit=True) as c:
            at = sql.SQL(" VERSION {}").format(sql.Literal(version)) if version else sql.SQL("")
            c.execute(sql.SQL("CREATE EXTENSION vcf_pg_loader_plpython{} CASCADE").format(at))


def _load_before_upgrade(conninfo: str, home: Path) -> uuid.UUID:
    """Stage and ingest a file as vcfctl would, against the old version's functions.

    vcfctl refuses a database at another version than its own, so this goes
    through the library, below that check: the staging and ingest calls are
    the same in both versions.
    """
    settings = Settings(home=home, master_key_file=home / "master.key")
    home.mkdir(mode=0o700)
    create_master_key(home / "master.key")
    providers = ProviderSet(settings)
    with psycopg.connect(conninfo, autocommit=True) as c:
        pin_session_settings(c)
        init_phi_key(c, providers)
        staged = stage_file(c, providers, DATA / "example.vcf")
        ingest_session(c, providers, staged.session_id)
    return staged.session_id


@pytest.fixture(scope="module")
def databases(cluster: Any, profile: str) -> Iterator[tuple[str, str]]:
    """(fresh, old): this version installed, and the previous one (not yet upgraded)."""
    names = ("upgrade_fresh", "upgrade_old")
    for name in names:
        cluster.drop_database(name)
    fresh = cluster.create_database(names[0])
    old = cluster.create_database(names[1], version=PREVIOUS)
    _companion(profile, fresh)
    _companion(profile, old, PREVIOUS_COMPANION)
    yield fresh, old
    for name in names:
        cluster.drop_database(name)


def _env(cluster: Any, conninfo: str, home: Path) -> dict[str, str]:
    env = dict(cluster.client_env())
    base = env.get("VCF_PG_LOADER_DB_URL", conninfo)
    dbname = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    env["VCF_PG_LOADER_DB_URL"] = make_conninfo(base, dbname=str(dbname))
    env["VCF_PG_LOADER_HOME"] = str(home)
    return env


def test_upgrade_equals_a_fresh_install_and_keeps_the_data(
    databases: tuple[str, str], cluster: Any, profile: str, vcfctl: Any, tmp_path: Path
) -> None:
    fresh, old = databases
    with psycopg.connect(old, autocommit=True) as c:
        assert tle.installed_version(c) == PREVIOUS
        before = inventory(c)
    home = tmp_path / "home"
    session_id = _load_before_upgrade(old, home)
    env = _env(cluster, old, home)
    calls_sql = (
        "SELECT record_no, alt_no, sample_id, gt, phased, gq, dp, ad, pl, fmt FROM vcf.calls"
        " WHERE session_id = %s ORDER BY 1, 2, 3"
    )
    with psycopg.connect(old, autocommit=True) as c:
        calls_before = c.execute(calls_sql, (session_id,)).fetchall()
    assert calls_before  # example.vcf has samples

    stale = vcfctl("sessions", "list", env=env)
    assert stale.returncode == 4 and "vcfctl needs" in stale.stderr, stale.stderr
    out = vcfctl("db", "upgrade", env=env)
    assert out.returncode == 0, out.stderr
    via = "files" if profile == "default" else "pg_tle"
    assert f"upgraded: vcf_pg_loader {PREVIOUS} -> {EXTENSION_VERSION} (via {via})" in out.stdout

    with psycopg.connect(fresh, autocommit=True) as c:
        expected = inventory(c)
    with psycopg.connect(old, autocommit=True) as c:
        upgraded = inventory(c)
    assert differences(expected, upgraded) == []
    assert differences(expected, before) != []  # the inventory sees what changed

    # what was loaded at 0.1.0 is there (the calls table became the genotype
    # columns of vcf.records at 0.4.0), and this version works on it
    with psycopg.connect(old, autocommit=True) as c:
        assert c.execute(calls_sql, (session_id,)).fetchall() == calls_before
    sessions = json.loads(vcfctl("sessions", "list", "--format", "json", env=env).stdout)
    assert [s["session_id"] for s in sessions if s["state"] == "ingested"] == [str(session_id)]
    again = vcfctl("load", "--reload", "--format", "json", str(DATA / "example.vcf"), env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["variants"] == 9
    verified = vcfctl("audit", "verify", "--format", "json", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with psycopg.connect(old, autocommit=True) as c:
        rows = c.execute(
            "SELECT target, succeeded, details FROM vcf.audit_log WHERE action = 'extension_update'"
            " ORDER BY audit_id"
        ).fetchall()
        # one row per step of the chain, and the companion's where it is installed
        steps = tle.upgrade_steps(PREVIOUS, EXTENSION_VERSION, tle.EXTENSION_DIR)
        expected_rows = [("vcf_pg_loader", True, {"from": a, "to": b}) for a, b, _ in steps]
        if profile == "default":
            current = c.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = %s",
                (tle.COMPANION,),
            ).fetchone()
            assert current is not None
            at = PREVIOUS_COMPANION
            while at != current[0]:  # one row per step of the companion's chain
                (script,) = tle.EXTENSION_DIR.glob(f"{tle.COMPANION}--{at}--*.sql")
                step_to = script.name.removesuffix(".sql").split("--")[2]
                expected_rows.append((tle.COMPANION, True, {"from": at, "to": step_to}))
                at = step_to
        assert rows == expected_rows
        # 0.3.0's lookup of variant ids, which both engines use
        assert c.execute(
            "SELECT to_regprocedure('vcf._variant_ids(text[], integer[], bytea[])') IS NOT NULL"
        ).fetchone() == (True,)
        # 0.2.0's VP009 function replaced 0.1.0's
        assert c.execute("SELECT to_regprocedure('vcf._cleartext_tcp()')").fetchone() == (None,)
        assert c.execute("SELECT refused FROM vcf._transport_refusal()").fetchone() == (
            None,
        )  # a Unix socket or TLS: nothing refused

    twice = vcfctl("db", "upgrade", env=env)
    assert (
        twice.returncode == 0 and f"already at: vcf_pg_loader {EXTENSION_VERSION}" in twice.stdout
    )
