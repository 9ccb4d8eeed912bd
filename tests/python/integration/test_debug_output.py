"""No key and no PHI through the settings any login may change (issue 9, item 1).

Any login may SET client_min_messages = debug5, debug_print_parse /
rewritten / plan = on, log_parameter_max_length_on_error = -1, trace_sort,
plpgsql.print_strict_params: PostgreSQL then prints every plan, with its
constants, to the client and the server log. Inside the extension's
functions those constants are data keys and decrypted names. The attacker
here is a login holding one project role each, with every such setting on
(by SET, by PGOPTIONS, by ALTER ROLE): it loads (in-server unwrapping from
SQL, and vcfctl sending keys as bind parameters), rotates the PHI key from
SQL, reveals a name and looks one up. Nothing it saw in messages, nothing in
the server log, holds a key (raw, hex, base64, or the signed-decimal byte
dump that node printing uses) or a name, header line or path of the file. A
control run shows the same search finds a key the moment a statement of the
caller's own prints it, so the search can see what it looks for.

Also exit_on_error: a caller who sets it turns every ERROR into FATAL, which
skips exception handlers; a failed ingest must still leave its audit row.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from helpers import LOGIN, dump_form, key_forms, phi_key, staging_key, write_vcf
from vcf_pg_loader.embedded import server_user
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.staging import stage_file

# Everything a login may set that prints plans, parameters or sort internals.
ATTACK = {
    "client_min_messages": "debug5",
    "debug_print_parse": "on",
    "debug_print_rewritten": "on",
    "debug_print_plan": "on",
    "debug_pretty_print": "on",
    "log_parameter_max_length_on_error": "-1",
    "trace_sort": "on",
    "trace_notify": "on",
    "plpgsql.print_strict_params": "on",
}
PGOPTIONS = " ".join(f"-c {k}={v}" for k, v in ATTACK.items())
NAMES = ["PATIENT-ZETA-0001", "PATIENT-ZETA-0002"]
HEADER_SECRET = "##source=SECRET-PIPELINE-Zeta-run-42"
ROLES = {"dbg_loader": "vcf_loader", "dbg_reader": "vcf_phi_reader", "dbg_keyadm": "vcf_key_admin"}


@dataclass
class Rig:
    cluster: Any  # profiles.DefaultServer or profiles.PortableServer
    home: Path
    tmp: Path
    portable: bool
    keys: list[bytes] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)

    def connect(self, user: str | None = None, **kw: Any) -> psycopg.Connection[Any]:
        """The extension's owner, or the given login."""
        conninfo = self.cluster.conninfo()
        if user is not None:
            conninfo = make_conninfo(conninfo, user=user)
        conn = psycopg.connect(conninfo, autocommit=True, **kw)
        conn.add_notice_handler(
            lambda d: self.heard.append(
                " ".join(str(x) for x in (d.message_primary, d.message_detail, d.context) if x)
            )
        )
        return conn

    def attacker(self, user: str) -> psycopg.Connection[Any]:
        """A login with every setting of ATTACK on for its session."""
        conn = self.connect(user)
        for name, value in ATTACK.items():
            conn.execute(f"SET {name} = '{value}'")
        return conn

    def vcfctl(self, user: str, *args: str, stdin: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "PG"))}
        env.update(self.cluster.client_env())
        env.update(
            VCF_PG_LOADER_HOME=str(self.home),
            VCF_PG_LOADER_DB_URL=make_conninfo(
                self.cluster.client_env().get("VCF_PG_LOADER_DB_URL") or self.cluster.conninfo(),
                user=user,
            ),
            PGOPTIONS=PGOPTIONS,
        )
        done = subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=env,
            input=stdin,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def server_unwrapping(self, on: bool) -> None:
        if self.portable:
            return  # no companion: the client unlocks
        with psycopg.connect(self.cluster.superuser_conninfo(), autocommit=True) as c:
            c.execute("SET vcf_pg_loader.server_key_provider = ''")
            if on:
                c.execute("ALTER SYSTEM SET vcf_pg_loader.server_key_provider = 'local'")
            else:
                c.execute("ALTER SYSTEM RESET vcf_pg_loader.server_key_provider")
            c.execute("SELECT pg_reload_conf()")
        time.sleep(0.3)

    def remember_phi_keys(self) -> None:
        with self.connect() as c:
            self.keys.append(phi_key(c, self.home).material)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, new_server: Any, profile: str) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("debug-output")
    cluster = new_server(tmp / "home")
    rig = Rig(cluster, cluster.home, tmp, portable=profile == "portable")
    if not rig.portable:  # in-server unwrapping: the server's copy of the master key
        user = server_user()
        keys_dir = cluster.root / "keys"
        keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(keys_dir, user.uid, user.gid)
        master = keys_dir / "master.key"
        master.write_bytes((cluster.home / "master.key").read_bytes())
        os.chown(master, user.uid, user.gid)
        master.chmod(0o600)
        with psycopg.connect(cluster.superuser_conninfo(), autocommit=True) as c:
            c.execute("SET vcf_pg_loader.server_master_key_file = ''")
            c.execute(f"ALTER SYSTEM SET vcf_pg_loader.server_master_key_file = '{master}'")
    with rig.connect() as c:
        for login, role in ROLES.items():
            c.execute(f"CREATE ROLE {login} {LOGIN}")
            c.execute(f"GRANT {role} TO {login}")
        # A DBA's default for the loader (ALTER ROLE) is the caller's too.
        c.execute("ALTER ROLE dbg_loader SET debug_print_plan = on")
    rig.server_unwrapping(True)
    yield rig


def _vcf(rig: Rig, name: str, start: int = 100) -> Path:
    folder = rig.tmp / "SECRET-PATH-Zeta"
    folder.mkdir(exist_ok=True)
    records = [
        f"chr1\t{start + i}\t.\tA\tG,T\t50\tPASS\tDP=10\tGT:DP\t0/1:7\t1|2:8" for i in range(20)
    ]
    return write_vcf(
        folder / name,
        NAMES,
        records,
        header_extra=f'{HEADER_SECRET}\n##FORMAT=<ID=DP,Number=1,Type=Integer,Description="d">'
        '\n##INFO=<ID=DP,Number=1,Type=Integer,Description="d">',
    )


def _phi_strings(rig: Rig) -> list[bytes]:
    return [s.encode() for s in [*NAMES, HEADER_SECRET, "SECRET-PATH-Zeta"]]


def _leaks(text: str, rig: Rig) -> list[str]:
    flat = re.sub(r"\s+", " ", text).encode()
    found = []
    for key in rig.keys:
        found += [f"key {key[:4].hex()}…" for f in [*key_forms(key), dump_form(key)] if f in flat]
    for phi in _phi_strings(rig):
        found += [
            f"PHI {phi[:10]!r}" for f in (phi, phi.hex().encode(), dump_form(phi)) if f in flat
        ]
    return found


def _log_since(rig: Rig, offset: int) -> str:
    return rig.cluster.log_file.read_bytes()[offset:].decode("utf-8", "replace")


def test_attacker_settings_leak_nothing(rig: Rig) -> None:
    offset = rig.cluster.log_file.stat().st_size
    rig.remember_phi_keys()

    # 1. In-server unwrapping: stage, then a plain SQL ingest by the loader (the portable
    # profile has no in-server unwrapping: vcfctl unlocks, as in 2).
    with rig.attacker("dbg_loader") as c:
        staged = stage_file(c, LocalMasterKey(rig.home / "master.key"), _vcf(rig, "a.vcf"))
    with rig.connect() as admin:
        rig.keys.append(staging_key(admin, rig.home, staged.session_id).material)
    if rig.portable:
        out = rig.vcfctl("dbg_loader", "ingest", "--format", "json", str(staged.session_id))
        assert '"ingested"' in out
    else:
        with rig.attacker("dbg_loader") as c:
            row = c.execute("SELECT state FROM vcf.vcf_ingest(%s)", (staged.session_id,))
            assert row.fetchone() == ("ingested",)

    # 2. vcfctl, keys sent as bind parameters (no in-server unwrapping), with PGOPTIONS.
    rig.server_unwrapping(False)
    try:
        out = rig.vcfctl("dbg_loader", "load", "--format", "json", str(_vcf(rig, "b.vcf", 500)))
        assert '"ingested"' in out
        # and two at once: shared rows committed apart, through the loopback
        files = [str(_vcf(rig, f"{n}.vcf", start)) for n, start in (("c", 900), ("d", 1300))]
        out = rig.vcfctl("dbg_loader", "load", "--jobs", "2", "--format", "json", *files)
        assert out.count('"ingested"') == 2
    finally:
        rig.server_unwrapping(True)

    # 3. Rotation from SQL, in the server (portable: vcfctl, which unlocks both keys).
    if rig.portable:
        rig.vcfctl("dbg_keyadm", "keys", "rotate", "--batch-size", "5")
    else:
        with rig.attacker("dbg_keyadm") as c:
            c.execute("CALL vcf.rotate_phi_key(5)")
    rig.remember_phi_keys()

    # 4. Reveal from SQL (portable: through vcfctl, which unlocks the PHI key), and a
    # lookup through vcfctl (the name on stdin).
    with rig.connect() as admin:
        sample_id = admin.execute("SELECT min(sample_id) FROM vcf.samples").fetchone()[0]  # type: ignore[index]
    if rig.portable:
        revealed = rig.vcfctl(
            "dbg_reader", "samples", "reveal", str(sample_id), "--reason", "IRB-9 debug check"
        )
        assert NAMES[0] in revealed
    else:
        with rig.attacker("dbg_reader") as c:
            row = c.execute("SELECT vcf.reveal_sample(%s, 'IRB-9 debug check')", (sample_id,))
            assert row.fetchone() == (NAMES[0],)
    found = rig.vcfctl("dbg_reader", "samples", "find", "-", "--reason", "t-1", stdin=NAMES[1])
    assert found.strip()

    log = _log_since(rig, offset)
    # The settings were in force: the callers' own statements were dumped, to them and the log.
    assert "PLANNEDSTMT" in log.upper()
    assert any("PLANNEDSTMT" in h.upper() for h in rig.heard)
    assert _leaks(log, rig) == []
    assert _leaks("\n".join(rig.heard), rig) == []


def test_the_search_finds_what_a_callers_own_statement_prints(rig: Rig) -> None:
    """Control: a key a caller puts in its own statement's plan is found in both places."""
    offset = rig.cluster.log_file.stat().st_size
    rig.heard.clear()
    with rig.attacker("dbg_loader") as c:
        key = rig.keys[0]
        c.execute("SELECT length(%s::bytea), length(%s::text)", (key, NAMES[0]))
    log = _log_since(rig, offset)
    assert any(s.startswith("key") for s in _leaks(log, rig))
    assert any(s.startswith("PHI") for s in _leaks(log, rig))
    assert any(s.startswith("key") for s in _leaks("\n".join(rig.heard), rig))


def test_every_entry_point_pins_the_settings(rig: Rig) -> None:
    """Each function a caller can reach (SECURITY DEFINER or granted) pins every setting."""
    with rig.connect() as c:
        pinned = {f"{n}={v}" for n, v in c.execute("SELECT * FROM vcf._pinned_settings()")}
        assert {s.split("=")[0] for s in pinned} >= {
            "debug_print_parse",
            "debug_print_rewritten",
            "debug_print_plan",
            "client_min_messages",
            "exit_on_error",
            "log_parameter_max_length_on_error",
            "plpgsql.print_strict_params",
        }
        rows = c.execute(
            "SELECT p.oid::regprocedure::text, p.prokind, coalesce(p.proconfig, '{}')"
            "  FROM pg_proc p WHERE p.pronamespace = 'vcf'::regnamespace"
            "   AND (p.prosecdef OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
            "        JOIN pg_roles r ON r.oid = a.grantee WHERE a.privilege_type = 'EXECUTE'"
            "         AND r.rolname = ANY (vcf._project_roles())))"
        ).fetchall()
        # an owner that is not a superuser (pg_tle on RDS) cannot pin what only a
        # superuser may set; no caller of such an install can set it either
        owner_su = c.execute(
            "SELECT r.rolsuper FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner"
            " WHERE e.extname = 'vcf_pg_loader'"
        ).fetchone() == (True,)
        c.execute("DO $$ BEGIN END $$")  # loads plpgsql: its settings enter pg_settings
        superuser_only = {
            r[0] for r in c.execute("SELECT name FROM pg_settings WHERE context = 'superuser'")
        }
    if not owner_su:
        pinned = {s for s in pinned if s.split("=")[0] not in superuser_only}
    assert len(rows) > 20
    missing = {name: pinned - set(config) for name, kind, config in rows if kind == "f"}
    assert {name: gap for name, gap in missing.items() if gap} == {}
    # The one procedure: it commits, so it cannot carry SET clauses; it reaches keys
    # only through pinned functions.
    procedures = [] if rig.portable else ["rotate_phi_key(integer)"]  # the companion's
    assert [name for name, kind, _ in rows if kind != "f"] == procedures


def test_exit_on_error_cannot_skip_the_failure_audit_row(rig: Rig) -> None:
    with rig.connect() as admin:
        head = admin.execute("SELECT coalesce(max(audit_id), 0) FROM vcf.audit_log").fetchone()[0]  # type: ignore[index]
    missing = uuid.uuid4()
    with rig.connect("dbg_loader") as c:
        c.execute("SET exit_on_error = on")
        with pytest.raises(psycopg.Error) as failed:
            c.execute("SELECT * FROM vcf.vcf_ingest(%s)", (missing,))
        assert failed.value.diag.sqlstate == "VP001"
        assert c.execute("SELECT 1").fetchone() == (1,)  # still connected: not FATAL
    with rig.connect() as admin:
        rows = admin.execute(
            "SELECT action, succeeded FROM vcf.audit_log WHERE target = %s AND audit_id > %s",
            (str(missing), head),
        ).fetchall()
    assert rows == [("ingest", False)]
