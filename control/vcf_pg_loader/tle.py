"""Installing the extension where no file can be copied to the server (AWS RDS).

Two ways, both driven by ``vcfctl db install``:

* ``files``: the control file and install script are in the server's
  extension directory (``make setup`` on a self-hosted server): only
  ``CREATE EXTENSION vcf_pg_loader CASCADE``.
* ``pg_tle``: the install script is sent as text to
  ``pgtle.install_extension`` (AWS's Trusted Language Extensions, 1.5 or
  later, which takes the schema), then ``CREATE EXTENSION``. The installing
  role needs no superuser: membership in ``pgtle_admin`` and, for the
  project's roles, CREATEROLE (RDS's ``rds_superuser`` has both). pgcrypto is
  trusted; dblink is not, so a superuser (on RDS the master user, for which RDS
  allows it) creates dblink first.

The script is the build product of ``make -C extension``
(``extension/vcf_pg_loader--<version>.sql``; a released older version's is
frozen in ``extension/released/``), found next to this package's
sources: vcfctl is installed from a checkout (``make setup``, an editable
install). It is not package data because it is generated from sql/ and a copy
inside the package would go stale silently; ``--script`` names another file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql

from . import EXTENSION_VERSION
from .errors import DatabaseError, VcfPgError

EXTENSION = "vcf_pg_loader"
COMPANION = "vcf_pg_loader_plpython"
SCHEMA = "vcf"
REQUIRES = ("pgcrypto", "dblink")
DESCRIPTION = "Load VCF files carrying PHI: encrypted staging, in-database ingest, audit trail"
PG_TLE_MIN = (1, 5, 0)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO_ROOT / "extension"
RELEASED_DIR = EXTENSION_DIR / "released"
SQL_DIR = REPO_ROOT / "sql"

# psql's guard against running the script by hand: the only meta-command in it.
_GUARD = re.compile(r"^\\echo .*\\quit[ \t]*\n?", re.M)
_META = re.compile(r"^\\", re.M)


@dataclass(frozen=True)
class InstallResult:
    via: str
    version: str
    created: bool


def script_path(version: str = EXTENSION_VERSION, explicit: Path | None = None) -> Path:
    """The install script of version: built (refused when missing or older than its
    sources) for the current version, frozen in extension/released/ for an older one."""
    if explicit is not None:
        if not explicit.is_file():
            raise VcfPgError(f"install script {explicit} does not exist")
        return explicit
    if version != EXTENSION_VERSION:
        frozen = RELEASED_DIR / f"{EXTENSION}--{version}.sql"
        if not frozen.is_file():
            known = sorted(p.name for p in RELEASED_DIR.glob(f"{EXTENSION}--*.sql"))
            raise VcfPgError(
                f"no released install script for {EXTENSION} {version}",
                hint=f"Released: {', '.join(known) or 'none'} (in {RELEASED_DIR});"
                f" the current version is {EXTENSION_VERSION}.",
            )
        return frozen
    path = EXTENSION_DIR / f"{EXTENSION}--{version}.sql"
    if not path.is_file():
        raise VcfPgError(
            f"install script {path.name} is not built",
            hint="Run 'make -C extension' in the vcf-pg-loader checkout, or pass --script.",
        )
    if SQL_DIR.is_dir():
        built = path.stat().st_mtime
        # the companion's sources (sql/plpython/) are not in this script
        sources = (
            s for s in SQL_DIR.rglob("*.sql") if "plpython" not in s.relative_to(SQL_DIR).parts
        )
        if any(src.stat().st_mtime > built for src in sources):
            raise VcfPgError(
                f"install script {path.name} is older than its sources in sql/",
                hint="Run 'make -C extension' to rebuild it.",
            )
    return path


def load_script(path: Path) -> str:
    """The script without psql's \\echo ... \\quit guard; no other meta-command is allowed."""
    text = _GUARD.sub("", path.read_text(encoding="utf-8"), count=1)
    if _META.search(text):
        raise VcfPgError(
            f"install script {path.name} contains a psql meta-command besides its guard",
            hint="pg_tle runs the script as SQL: rebuild it with 'make -C extension'.",
        )
    return text


def _one(conn: psycopg.Connection[Any], query: str, *args: Any) -> Any:
    row = conn.execute(query, args or None).fetchone()
    return None if row is None else row[0]


def installed_version(conn: psycopg.Connection[Any]) -> str | None:
    found = _one(
        conn, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = %s", EXTENSION
    )
    return None if found is None else str(found)


def _check_pg_tle(conn: psycopg.Connection[Any]) -> None:
    """Refuse, saying what to do, where pg_tle cannot be used by this role."""
    version = _one(conn, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_tle'")
    if version is None:
        # shared_preload_libraries is readable only with pg_read_all_settings
        preload = _one(
            conn,
            "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'shared_preload_libraries'",
        )
        preloaded = preload is not None and "pg_tle" in [s.strip() for s in str(preload).split(",")]
        raise DatabaseError(
            "pg_tle is not installed in this database",
            hint="CREATE EXTENSION pg_tle as a superuser (on RDS: the master user)."
            if preloaded
            else "pg_tle must be in shared_preload_libraries (on RDS: the parameter group,"
            " then a reboot); then CREATE EXTENSION pg_tle as a superuser (on RDS: the master"
            " user).",
        )
    parts = tuple(int(p) for p in re.findall(r"\d+", str(version))[:3])
    if parts < PG_TLE_MIN:
        raise DatabaseError(
            f"pg_tle {version} is too old: vcf_pg_loader needs 1.5.0 or later"
            " (for install_extension's schema)",
            hint="ALTER EXTENSION pg_tle UPDATE (on RDS, after a minor version upgrade).",
        )
    allowed = _one(
        conn,
        "SELECT r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pgtle_admin', 'MEMBER')"
        " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
    )
    if not allowed:
        raise DatabaseError(
            "this role is not a member of pgtle_admin",
            hint="GRANT pgtle_admin TO <this role> (as a superuser or rds_superuser).",
        )


def _check_requirements(conn: psycopg.Connection[Any]) -> None:
    """dblink is untrusted: unless it is there, only a superuser can create it."""
    superuser = _one(conn, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
    if superuser:
        return
    missing = [
        name
        for name in REQUIRES
        if _one(conn, "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = %s", name) is None
        and not _one(
            conn,
            "SELECT coalesce(bool_or(trusted), false)"
            " FROM pg_catalog.pg_available_extension_versions WHERE name = %s",
            name,
        )
    ]
    if missing:
        raise DatabaseError(
            f"extension {', '.join(missing)} is not installed and this role cannot create it",
            hint=f"CREATE EXTENSION {', '.join(missing)} as a superuser (on RDS: the master"
            " user, which RDS allows to) in this database, then retry.",
        )


def _registered(conn: psycopg.Connection[Any]) -> bool:
    return bool(
        _one(
            conn,
            "SELECT count(*) > 0 FROM pgtle.available_extensions() WHERE name = %s",
            EXTENSION,
        )
    )


def install(
    conn: psycopg.Connection[Any],
    via: str,
    *,
    script: str | None = None,
    version: str = EXTENSION_VERSION,
) -> InstallResult:
    """Create the extension (through pg_tle, or from the server's files), in one transaction.

    Already at ``version``: nothing is done. At another version: refused
    (upgrades are ``vcfctl db upgrade``). A pg_tle registration left without
    the extension (an earlier, different build) is replaced.
    """
    current = installed_version(conn)
    if current == version:
        return InstallResult(via, version, created=False)
    if current is not None:
        raise DatabaseError(
            f"extension {EXTENSION} is installed at version {current}, not {version}",
            hint="Upgrade it: vcfctl db upgrade.",
        )
    if via == "pg_tle":
        _check_pg_tle(conn)
        if script is None:
            raise VcfPgError("no install script given for pg_tle")
    _check_requirements(conn)
    try:
        with conn.transaction():
            if via == "pg_tle":
                if _registered(conn):
                    conn.execute("SELECT pgtle.uninstall_extension(%s)", (EXTENSION,))
                conn.execute(
                    "SELECT pgtle.install_extension(%s, %s, %s, %s, %s::text[], %s)",
                    (EXTENSION, version, DESCRIPTION, script, list(REQUIRES), SCHEMA),
                )
            conn.execute(f"CREATE EXTENSION {EXTENSION} VERSION '{version}' CASCADE")
    except psycopg.Error as exc:
        diag = exc.diag
        raise DatabaseError(
            f"cannot install {EXTENSION} via {via}: {diag.message_primary or exc}",
            hint=diag.message_hint
            or (
                "Run 'make setup' on the server (it installs the extension files), or use"
                " --via pg_tle."
                if via == "files"
                else None
            ),
        ) from None
    return InstallResult(via, version, created=True)


def owner_warnings(conn: psycopg.Connection[Any]) -> list[str]:
    """What an extension owner that is not a superuser (RDS's master user) still needs.

    Both limits fail closed, so a missing one shows only as refusals: without
    pg_read_all_stats the owner cannot see another login's TLS status (VP009
    for every key or name over TCP); without the password loopback a refusal
    cannot write its autonomous audit row (VP070).
    """
    row = conn.execute(
        "SELECT r.rolname, r.rolsuper,"
        " pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE'),"
        " EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server s"
        "          JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
        "         WHERE s.srvname = 'vcf_audit_loopback' AND w.fdwname = 'dblink_fdw')"
        " FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner"
        " WHERE e.extname = %s",
        (EXTENSION,),
    ).fetchone()
    if row is None or row[1]:
        return []
    owner, _, sees_stats, loopback = row
    found = []
    if not sees_stats:
        found.append(
            f"the extension owner {owner} cannot see other logins' TLS status: their keys and"
            f" sample names over TCP will be refused (VP009); GRANT pg_read_all_stats TO"
            f" {owner} as a superuser (on RDS the master user has it)"
        )
    if not loopback:
        found.append(
            "no foreign server vcf_audit_loopback: refusals cannot write their audit rows"
            " (VP070) until it exists; see docs/deploy-aws.md, step 4"
        )
    return found


def choose_via(conn: psycopg.Connection[Any]) -> str:
    """files when the server has them, else pg_tle."""
    has_files = _one(
        conn,
        "SELECT count(*) > 0 FROM pg_catalog.pg_available_extension_versions"
        " WHERE name = %s AND version = %s",
        EXTENSION,
        EXTENSION_VERSION,
    )
    tle = _one(conn, "SELECT count(*) > 0 FROM pg_catalog.pg_extension WHERE extname = 'pg_tle'")
    if tle and (not has_files or _registered(conn)):
        return "pg_tle"
    return "files"


_FILES_HINT = "Run 'make setup' on the server: it installs the upgrade scripts."
_STEP = re.compile(rf"^{EXTENSION}--(.+?)--(.+)\.sql$")


def upgrade_steps(current: str, target: str, scripts_dir: Path) -> list[tuple[str, str, Path]]:
    """The shortest chain of hand-written upgrade scripts from current to target."""
    edges: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(scripts_dir.glob(f"{EXTENSION}--*--*.sql")):
        match = _STEP.match(path.name)
        if match:
            edges.setdefault(match[1], []).append((match[2], path))
    paths: dict[str, list[tuple[str, str, Path]]] = {current: []}
    queue = [current]
    while queue:
        version = queue.pop(0)
        if version == target:
            return paths[version]
        for nxt, path in edges.get(version, []):
            if nxt not in paths:
                paths[nxt] = [*paths[version], (version, nxt, path)]
                queue.append(nxt)
    raise VcfPgError(
        f"no upgrade script path from {EXTENSION} {current} to {target} in {scripts_dir}",
        hint="Upgrade scripts are extension/vcf_pg_loader--FROM--TO.sql; pass --scripts-dir.",
    )


def upgrade(
    conn: psycopg.Connection[Any],
    *,
    target: str = EXTENSION_VERSION,
    scripts_dir: Path = EXTENSION_DIR,
    full_script: str | None = None,
) -> tuple[str, str, str]:
    """ALTER EXTENSION ... UPDATE TO target; through pg_tle, first register the scripts.

    With pg_tle (the extension is registered there): each upgrade script as an
    update path, the full target script as a new version (fresh installs get
    it), the target as default version. Returns (via, from, to); from == to
    when there was nothing to do.
    """
    current = installed_version(conn)
    if current is None:
        raise DatabaseError(
            f"extension {EXTENSION} is not installed in this database",
            hint="vcfctl db install",
        )
    tle = bool(
        _one(conn, "SELECT count(*) > 0 FROM pg_catalog.pg_extension WHERE extname = 'pg_tle'")
    ) and _registered(conn)
    via = "pg_tle" if tle else "files"
    if current == target:
        return via, current, target
    steps = upgrade_steps(current, target, scripts_dir) if tle else []
    try:
        with conn.transaction():
            if tle:
                _check_pg_tle(conn)
                known = {
                    (r[0], r[1])
                    for r in conn.execute(
                        "SELECT source, target FROM pgtle.extension_update_paths(%s)"
                        " WHERE path = source || '--' || target",
                        (EXTENSION,),
                    )
                }
                for old, new, path in steps:
                    if (old, new) not in known:
                        conn.execute(
                            "SELECT pgtle.install_update_path(%s, %s, %s, %s)",
                            (EXTENSION, old, new, load_script(path)),
                        )
                versions = {
                    r[0]
                    for r in conn.execute(
                        "SELECT version FROM pgtle.available_extension_versions() WHERE name = %s",
                        (EXTENSION,),
                    )
                }
                if target not in versions:
                    if full_script is None:
                        raise VcfPgError(f"no install script given for version {target}")
                    conn.execute(
                        "SELECT pgtle.install_extension_version_sql(%s, %s, %s)",
                        (EXTENSION, target, full_script),
                    )
                conn.execute("SELECT pgtle.set_default_version(%s, %s)", (EXTENSION, target))
            conn.execute(
                psycopg.sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(
                    psycopg.sql.Identifier(EXTENSION), psycopg.sql.Literal(target)
                )
            )
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot upgrade {EXTENSION} from {current} to {target} via {via}:"
            f" {exc.diag.message_primary or exc}",
            hint=exc.diag.message_hint or (_FILES_HINT if via == "files" else None),
        ) from None
    return via, current, target


def upgrade_companion(conn: psycopg.Connection[Any]) -> tuple[str, str] | None:
    """ALTER EXTENSION vcf_pg_loader_plpython UPDATE to the server's default version.

    The companion exists only where its files do (plpython3u is never on RDS),
    so this is the files route. Returns (from, to), or None when it is not
    installed or already at the default version.
    """
    row = conn.execute(
        "SELECT e.extversion, a.default_version FROM pg_catalog.pg_extension e"
        " JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname"
        " WHERE e.extname = %s",
        (COMPANION,),
    ).fetchone()
    if row is None or row[0] == row[1]:
        return None
    try:
        conn.execute(
            psycopg.sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(
                psycopg.sql.Identifier(COMPANION), psycopg.sql.Literal(row[1])
            )
        )
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot upgrade {COMPANION} from {row[0]} to {row[1]}:"
            f" {exc.diag.message_primary or exc}",
            hint=exc.diag.message_hint or _FILES_HINT,
        ) from None
    return str(row[0]), str(row[1])
