"""vcfctl samples reveal / find: names only for vcf_phi_reader, with a reason, audited,
and never a name in the audit trail."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from helpers import LOGIN, synthetic_records, write_vcf


@dataclass
class Loaded:
    session_id: str
    names: list[str]
    sample_ids: list[int]


@pytest.fixture(scope="module")
def loaded(
    conninfo: str, home: Path, cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    import os
    import subprocess
    import sys

    tag = uuid.uuid4().hex[:8]
    names = [f"Reveal Patient {tag} Ä", f"REVEAL-{tag}-2"]
    path = write_vcf(tmp_path_factory.mktemp("reveal") / "r.vcf", names, synthetic_records(4, 2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
    env["VCF_PG_LOADER_HOME"] = str(home)
    env.update(cluster.client_env())
    out = subprocess.run(
        [sys.executable, "-m", "vcf_pg_loader", "load", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    sid = json.loads(out)[0]["session_id"]
    with psycopg.connect(conninfo, autocommit=True) as c:
        ids = [
            int(r[0])
            for r in c.execute(
                "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s"
                " ORDER BY sample_index",
                (sid,),
            ).fetchall()
        ]
        for role, user in (("vcf_phi_reader", "reveal_reader"), ("vcf_analyst", "reveal_analyst")):
            if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
                c.execute(f'CREATE ROLE "{user}" {LOGIN}')
            c.execute("SELECT vcf.grant_role(%s, %s)", (role, user))
    yield Loaded(sid, names, ids)


def _audit(conn: psycopg.Connection[Any], action: str, since: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT acting_role, target, succeeded, details FROM vcf.audit_log"
        " WHERE action = %s AND chain_no > %s ORDER BY chain_no",
        (action, since),
    ).fetchall()


def _head(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(chain_no), 0) FROM vcf.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def test_reveal_and_find_as_the_admin(
    vcfctl: Any, conn: psycopg.Connection[Any], loaded: Loaded, owner: str
) -> None:
    head = _head(conn)
    sid = loaded.sample_ids[0]
    result = vcfctl("samples", "reveal", str(sid), "--reason", "ticket 42", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sample_id": sid, "name": loaded.names[0]}
    found = vcfctl("samples", "find", loaded.names[1], "--reason", "ticket 43")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(loaded.sample_ids[1])
    from_stdin = vcfctl("samples", "find", "-", input=loaded.names[0] + "\n")
    assert from_stdin.stdout.strip() == str(sid)
    missing = vcfctl("samples", "find", "NOBODY-" + uuid.uuid4().hex, "--format", "json")
    assert missing.returncode == 1 and json.loads(missing.stdout) == {"sample_id": None}

    reveals = _audit(conn, "reveal", head)
    assert [(r[0], r[1], r[2]) for r in reveals] == [(owner, str(sid), True)]
    assert reveals[0][3]["reason"] == "ticket 42"
    finds = _audit(conn, "find", head)
    assert [(r[1], r[2], r[3]["result"]) for r in finds] == [
        (str(loaded.sample_ids[1]), True, "found"),
        (str(sid), True, "found"),
        (None, True, "not found"),
    ]
    everything = conn.execute(
        "SELECT string_agg(details::text || coalesce(target, ''), ' ') FROM vcf.audit_log"
    ).fetchone()
    assert everything is not None
    assert all(name not in everything[0] for name in loaded.names)
    assert "NOBODY-" not in everything[0]


def test_reveal_needs_a_reason(vcfctl: Any, conn: psycopg.Connection[Any], loaded: Loaded) -> None:
    head = _head(conn)
    result = vcfctl("samples", "reveal", str(loaded.sample_ids[0]), "--reason", "  ")
    assert result.returncode == 1
    assert f"a reason is required to reveal sample {loaded.sample_ids[0]}" in result.stderr
    assert loaded.names[0] not in result.stdout + result.stderr
    [(_, target, ok, details)] = _audit(conn, "reveal", head)
    assert (target, ok, details["refused"]) == (str(loaded.sample_ids[0]), False, "no reason given")
    usage = vcfctl("samples", "reveal", str(loaded.sample_ids[0]))
    assert usage.returncode == 2 and "--reason" in usage.stderr


@pytest.mark.parametrize(
    "reason",
    [
        "\t\t",  # tabs
        "\u00a0\u00a0",  # no-break spaces
        "\u200b\u200c\u200d",  # zero-width space, non-joiner, joiner
        "\u2060\ufeff",  # word joiner, zero-width no-break space
        " \u3000\u2028 ",  # ideographic space, line separator
        "\u200e\u202e\u2066",  # direction marks and isolates
        "\u180e\u2800\u3164",  # Mongolian vowel separator, braille blank, Hangul filler
        "\n\r\x0b\x0c",
    ],
    ids=lambda r: "+".join(f"U{ord(c):04X}" for c in r),
)
def test_an_invisible_reason_is_no_reason(
    conn: psycopg.Connection[Any], loaded: Loaded, reason: str
) -> None:
    head = _head(conn)
    with pytest.raises(psycopg.Error) as refused:
        conn.execute("SELECT vcf.reveal_sample(%s, %s)", (loaded.sample_ids[0], reason))
    assert refused.value.diag.sqlstate == "VP073"
    [(_, _, ok, details)] = _audit(conn, "reveal", head)
    assert not ok and details["refused"] == "no reason given"


def test_a_reason_is_stored_trimmed_of_invisible_characters(
    conn: psycopg.Connection[Any], home: Path, loaded: Loaded
) -> None:
    from helpers import phi_key
    from vcf_pg_loader.keys.registry import unlock

    head = _head(conn)
    with conn.transaction():
        unlock(conn, phi_key(conn, home))
        row = conn.execute(
            "SELECT vcf.reveal_sample(%s, %s)",
            (loaded.sample_ids[1], "\u200b\u00a0 IRB-7 \u200bcheck\t\u2060"),
        ).fetchone()
    assert row == (loaded.names[1],)
    [(_, _, ok, details)] = _audit(conn, "reveal", head)
    assert ok and details["reason"] == "IRB-7 \u200bcheck"


def test_phi_reader_login_reveals_analyst_is_refused(
    vcfctl: Any, conn: psycopg.Connection[Any], conninfo: str, loaded: Loaded
) -> None:
    head = _head(conn)
    sid = loaded.sample_ids[1]
    as_reader = make_conninfo(conninfo, user="reveal_reader")
    ok = vcfctl("--db", as_reader, "samples", "reveal", str(sid), "--reason", "IRB 7")
    assert ok.returncode == 0, ok.stderr
    assert loaded.names[1] in ok.stdout
    as_analyst = make_conninfo(conninfo, user="reveal_analyst")
    refused = vcfctl("--db", as_analyst, "samples", "reveal", str(sid), "--reason", "curious")
    assert refused.returncode == 1
    assert "is not a member of vcf_phi_reader" in refused.stderr
    assert loaded.names[1] not in refused.stdout + refused.stderr
    not_found = vcfctl("--db", as_analyst, "samples", "find", loaded.names[1])
    assert not_found.returncode == 1 and "is not a member of vcf_phi_reader" in not_found.stderr
    rows = _audit(conn, "reveal", head)
    assert [(r[0], r[2]) for r in rows] == [("reveal_reader", True), ("reveal_analyst", False)]
    [(who, _, ok_find, details)] = _audit(conn, "find", head)
    assert (who, ok_find, details["refused"]) == (
        "reveal_analyst",
        False,
        "not a member of vcf_phi_reader",
    )


def test_analyst_sees_ids_not_names(conninfo: str, loaded: Loaded) -> None:
    with psycopg.connect(conninfo, user="reveal_analyst", autocommit=True) as c:
        ids = c.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s ORDER BY sample_index",
            (loaded.session_id,),
        ).fetchall()
        assert [r[0] for r in ids] == loaded.sample_ids
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT name_enc FROM vcf.samples")
