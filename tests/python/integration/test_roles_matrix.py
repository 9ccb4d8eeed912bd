"""Every cell of the role matrix in docs/security.md, acted out.

The table between the role-matrix markers is the contract: for each
operation (row) and role (column), a login role that has exactly that
project role (or none) performs the operation through SQL, and it must
succeed for "yes" and be refused with SQLSTATE 42501 for "no".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from conftest import REPO
from helpers import LOGIN, synthetic_records, write_vcf
from vcf_pg_loader.crypto import DataKey
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import active_phi_key_id, load_data_key, unlock
from vcf_pg_loader.staging import stage_file

SECURITY_MD = REPO / "docs" / "security.md"
_STAGE_BEGIN = "vcf.stage_begin(uuid, uuid, text, text, bytea, jsonb, bytea, bytea)"
ROLES = ("vcf_loader", "vcf_analyst", "vcf_phi_reader", "vcf_key_admin", "vcf_auditor", "none")


def _matrix() -> dict[tuple[str, str], bool]:
    text = SECURITY_MD.read_text()
    block = text.split("<!-- role-matrix:begin -->")[1].split("<!-- role-matrix:end -->")[0]
    lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert tuple(header[1:]) == ROLES, header
    cells: dict[tuple[str, str], bool] = {}
    for line in lines[2:]:
        cols = [c.strip() for c in line.strip("|").split("|")]
        match = re.match(r"`([a-z_]+)`", cols[0])
        assert match, line
        for role, value in zip(ROLES, cols[1:], strict=True):
            assert value in ("yes", "no"), line
            cells[(match.group(1), role)] = value == "yes"
    return cells


MATRIX = _matrix()


def _user(role: str) -> str:
    return f"matrix_{role}"


@dataclass
class World:
    """What the operations work on: an ingested file, its PHI key, an admin connection."""

    conninfo: str
    admin: psycopg.Connection[Any]
    provider: LocalMasterKey
    tmp: Path
    phi: DataKey
    sample_id: int
    sample_name: str

    def connect(self, role: str) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, user=_user(role), autocommit=True)

    def staged_session(self, conn: psycopg.Connection[Any] | None = None) -> Any:
        """A staged session, owned by conn's login when it may stage, else by the admin."""
        tag = uuid.uuid4().hex[:10]
        path = write_vcf(self.tmp / f"m-{tag}.vcf", [f"MATRIX-{tag}"], synthetic_records(5, 1))
        if conn is not None and _may(conn, _STAGE_BEGIN):
            return stage_file(conn, self.provider, path)
        return stage_file(self.admin, self.provider, path)


@pytest.fixture(scope="module")
def world(conninfo: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for role in ROLES:
            name = _user(role)
            if (
                admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
                is None
            ):
                admin.execute(f'CREATE ROLE "{name}" {LOGIN}')
            if role != "none":
                admin.execute("SELECT vcf.grant_role(%s, %s)", (role, name))
        provider = LocalMasterKey(home / "master.key")
        tag = uuid.uuid4().hex[:10]
        name = f"MATRIX-SAMPLE-{tag}"
        path = write_vcf(tmp / "world.vcf", [name], synthetic_records(20, 1, start=7))
        staged = stage_file(admin, provider, path)
        ingest_session(admin, provider, staged.session_id)
        row = admin.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s", (staged.session_id,)
        ).fetchone()
        assert row is not None
        phi_id = active_phi_key_id(admin)
        assert phi_id is not None
        yield World(
            conninfo=conninfo,
            admin=admin,
            provider=provider,
            tmp=tmp,
            phi=load_data_key(admin, provider, phi_id),
            sample_id=int(row[0]),
            sample_name=name,
        )


def _may(conn: psycopg.Connection[Any], function: str) -> bool:
    row = conn.execute("SELECT has_function_privilege(%s, 'EXECUTE')", (function,)).fetchone()
    return bool(row and row[0])


# -- the operations: each raises psycopg.Error when refused -------------------


def op_stage(w: World, conn: psycopg.Connection[Any]) -> None:
    tag = uuid.uuid4().hex[:10]
    path = write_vcf(w.tmp / f"s-{tag}.vcf", [f"MATRIX-{tag}"], synthetic_records(5, 1))
    try:
        stage_file(conn, w.provider, path)
    except Exception as exc:
        cause = exc.__context__
        if isinstance(cause, psycopg.Error):
            raise cause from None
        raise


def op_stage_into_other_session(w: World, conn: psycopg.Connection[Any]) -> None:
    session_id, key_id = uuid.uuid4(), uuid.uuid4()
    w.admin.execute(
        "SELECT vcf.stage_begin(%s, %s, 'local', 'matrix-kek', '\\x0b'::bytea, '{}',"
        " %s, '\\x00'::bytea)",
        (session_id, key_id, b"\x00" * 16),
    )
    try:
        with conn.cursor().copy(
            "COPY vcf.staged_blocks (session_id, block_no, line_count, ciphertext) FROM STDIN"
        ) as copy:
            copy.write_row((session_id, 0, 1, b"\x01" * 81))
    finally:
        w.admin.execute("SELECT vcf.session_purge(%s)", (session_id,))


def op_ingest(w: World, conn: psycopg.Connection[Any]) -> None:
    staged = w.staged_session(conn)
    staging = load_data_key(
        w.admin,
        w.provider,
        _staging_key_id(w, staged.session_id),
        {"session_id": str(staged.session_id)},
    )
    try:
        with conn.transaction():
            unlock(conn, staging)
            unlock(conn, w.phi)
            conn.execute("SELECT * FROM vcf.vcf_ingest(%s)", (staged.session_id,))
    finally:
        w.admin.execute(
            "SELECT vcf.session_purge(session_id) FROM vcf.sessions"
            " WHERE session_id = %s AND state = 'staged'",
            (staged.session_id,),
        )


def _staging_key_id(w: World, session_id: uuid.UUID) -> uuid.UUID:
    row = w.admin.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def op_purge(w: World, conn: psycopg.Connection[Any]) -> None:
    staged = w.staged_session(conn)
    try:
        conn.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))
    finally:
        w.admin.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))


def _select(sql: str) -> Callable[[World, psycopg.Connection[Any]], None]:
    def op(w: World, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql).fetchall()

    return op


def op_read_genotypes(w: World, conn: psycopg.Connection[Any]) -> None:
    outcomes = []
    for table in ("variants", "records", "calls"):
        try:
            conn.execute(f"SELECT * FROM vcf.{table} LIMIT 1").fetchall()
            outcomes.append(None)
        except psycopg.Error as exc:
            outcomes.append(exc)
    errors = [e for e in outcomes if e is not None]
    assert len(errors) in (0, 3), f"variants, records, calls disagree: {outcomes}"
    if errors:
        raise errors[0]


def op_unlock(w: World, conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        unlock(conn, w.phi)


def op_register_key(w: World, conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "SELECT vcf.key_register(%s, 'staging', 'local', 'matrix-kek', '\\x0b'::bytea, %s, %s)",
        (uuid.uuid4(), Jsonb({"test": "matrix"}), b"\x00" * 16),
    )


def _retired_phi_key(w: World) -> uuid.UUID:
    """A retired PHI key row (no value uses it), made by the admin for one operation."""
    key_id = uuid.uuid4()
    w.admin.execute(
        "INSERT INTO vcf.data_keys (key_id, purpose, provider, kek_id, wrapped_key, key_check,"
        " state, retired_at) VALUES (%s, 'phi', 'local', 'matrix-kek', '\\x0b', %s,"
        " 'retired', now())",
        (key_id, b"\x00" * 16),
    )
    return key_id


def op_rotate(w: World, conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT * FROM vcf.rotate_status()").fetchone()
    row = conn.execute("SELECT finished FROM vcf.rotate_batch(1)").fetchone()
    assert row == (True,)


def op_destroy_key(w: World, conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("SELECT vcf.key_destroy(%s)", (_retired_phi_key(w),)).fetchone()
    assert row == (True,)


def op_rewrap_key(w: World, conn: psycopg.Connection[Any]) -> None:
    # vcf.rewrap_key needs a proof that the new form is this key: the key itself
    key = DataKey(uuid.uuid4(), bytes(range(64)))
    w.admin.execute(
        "INSERT INTO vcf.data_keys (key_id, purpose, provider, kek_id, wrapped_key, key_check,"
        " state, retired_at) VALUES (%s, 'phi', 'local', 'matrix-kek', '\\x0b', %s,"
        " 'retired', now())",
        (key.key_id, key.check_value),
    )
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT vcf.rewrap_key(%s, sha256('\\x0b'::bytea), 'matrix-kek-2', 'local',"
            " '\\x0c', %b)",
            (key.key_id, key.material),
        )


def op_reveal(w: World, conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        if _may(conn, "vcf.unlock(uuid, bytea)"):
            unlock(conn, w.phi)
        row = conn.execute(
            "SELECT vcf.reveal_sample(%s, 'role matrix test')", (w.sample_id,)
        ).fetchone()
    assert row == (w.sample_name,)


def op_find(w: World, conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        if _may(conn, "vcf.unlock(uuid, bytea)"):
            unlock(conn, w.phi)
        row = conn.execute("SELECT vcf.find_sample(%s)", (w.sample_name,)).fetchone()
    assert row == (w.sample_id,)


def op_read_session_phi(w: World, conn: psycopg.Connection[Any]) -> None:
    for column in ("source_enc", "header_enc"):
        conn.execute(f"SELECT {column} FROM vcf.sessions LIMIT 1").fetchall()


def _with_staged_blocks(
    w: World, conn: psycopg.Connection[Any], read: Callable[[uuid.UUID], None]
) -> None:
    """read(session_id) of a session this very login staged (its own blocks)."""
    staged = w.staged_session(conn)
    try:
        read(staged.session_id)
    finally:
        w.admin.execute("SELECT vcf.session_purge(%s)", (staged.session_id,))


def op_read_staged_blocks(w: World, conn: psycopg.Connection[Any]) -> None:
    def read(session_id: uuid.UUID) -> None:
        conn.execute(
            "SELECT ciphertext FROM vcf.staged_blocks WHERE session_id = %s", (session_id,)
        ).fetchall()

    _with_staged_blocks(w, conn, read)


def op_copy_out_staged_blocks(w: World, conn: psycopg.Connection[Any]) -> None:
    def read(session_id: uuid.UUID) -> None:
        with conn.cursor().copy("COPY vcf.staged_blocks TO STDOUT (FORMAT BINARY)") as copy:
            for _ in copy:
                pass

    _with_staged_blocks(w, conn, read)


_FORGED = (
    "INSERT INTO vcf.audit_log (action, succeeded, chain_no, prev_hash, hash)"
    " VALUES ('forged', true, 1, decode(repeat('00', 32), 'hex'), sha256('forged'))"
)

OPERATIONS: dict[str, Callable[[World, psycopg.Connection[Any]], None]] = {
    "stage": op_stage,
    "stage_into_other_session": op_stage_into_other_session,
    "ingest": op_ingest,
    "purge": op_purge,
    "read_sessions": _select("SELECT * FROM vcf.sessions LIMIT 1"),
    "read_session_phi": op_read_session_phi,
    "read_session_metadata": _select(
        "SELECT session_id, state, staging_key_id, content_sha256, block_count, line_count,"
        " replaces, records, variants, calls, samples, warnings, error, created_by, created_at,"
        " staged_at, finished_at FROM vcf.sessions LIMIT 1"
    ),
    "read_staged_blocks": op_read_staged_blocks,
    "read_staged_block_counts": _select(
        "SELECT session_id, block_no, line_count FROM vcf.staged_blocks LIMIT 1"
    ),
    "copy_out_staged_blocks": op_copy_out_staged_blocks,
    "read_sample_blind_index": _select("SELECT blind_index FROM vcf.samples LIMIT 1"),
    "read_session_state": _select("SELECT session_id, state FROM vcf.sessions LIMIT 1"),
    "read_genotypes": op_read_genotypes,
    "read_sample_ids": _select("SELECT sample_id FROM vcf.samples LIMIT 1"),
    "read_sample_names_enc": _select("SELECT name_enc FROM vcf.samples LIMIT 1"),
    "read_wrapped_keys": _select("SELECT wrapped_key FROM vcf.data_keys LIMIT 1"),
    "unlock": op_unlock,
    "register_key": op_register_key,
    "rotate": op_rotate,
    "destroy_key": op_destroy_key,
    "rewrap_key": op_rewrap_key,
    "reveal": op_reveal,
    "find": op_find,
    "audit_verify": _select("SELECT * FROM vcf.audit_verify()"),
    "audit_export": _select("SELECT count(*) FROM vcf.audit_export(now())"),
    "audit_select": _select("SELECT count(*) FROM vcf.audit_log"),
    "audit_insert": _select(_FORGED),
    "audit_update": _select("UPDATE vcf.audit_log SET succeeded = succeeded"),
    "audit_delete": _select("DELETE FROM vcf.audit_log"),
    "audit_truncate": _select("TRUNCATE vcf.audit_log"),
    "audit_disable_trigger": _select(
        "ALTER TABLE vcf.audit_log DISABLE TRIGGER audit_log_no_update_delete"
    ),
    "audit_alter": _select("ALTER TABLE vcf.audit_log ADD COLUMN matrix integer"),
    "audit_drop": _select("DROP TABLE vcf.audit_log"),
    "audit_write": _select("SELECT vcf._audit('forged', NULL, true, '{}')"),
    "grant_role": _select("SELECT vcf.grant_role('vcf_analyst', 'matrix_none')"),
}


def test_every_operation_in_the_matrix_is_implemented() -> None:
    assert {op for op, _ in MATRIX} == set(OPERATIONS)


@pytest.mark.parametrize(("operation", "role"), sorted(MATRIX), ids=lambda v: str(v))
def test_role_matrix(world: World, operation: str, role: str) -> None:
    allowed = MATRIX[(operation, role)]
    with world.connect(role) as conn:
        if allowed:
            OPERATIONS[operation](world, conn)
        else:
            with pytest.raises(psycopg.Error) as caught:
                OPERATIONS[operation](world, conn)
            assert caught.value.diag.sqlstate == "42501", caught.value.diag.message_primary
    if operation.startswith("audit_") or operation == "grant_role":
        row = world.admin.execute("SELECT ok, problem FROM vcf.audit_verify()").fetchone()
        assert row == (True, None)


# Columns of schema vcf a loader may SELECT that hold bytes, and why each is no PHI.
LOADER_BYTEA_COLUMNS = {
    ("sessions", "content_sha256"),  # the file's hash, for already_loaded
    ("data_keys", "wrapped_key"),  # keys wrapped by a KEK, to unlock in client mode
    ("data_keys", "key_check"),  # a key check value
    ("data_keys", "previous_wrapped_key"),  # a wrapped form kept for vcf.rewrap_undo
}


def test_loaders_select_no_ciphertext_of_phi(world: World) -> None:
    """Every column a loader may SELECT, checked by type: no ciphertext of PHI among them."""
    rows = world.admin.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relnamespace = 'vcf'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')"
        "   AND a.attnum > 0 AND NOT a.attisdropped"
        "   AND has_column_privilege('vcf_loader', c.oid, a.attname, 'SELECT')"
    ).fetchall()
    selectable = {(t, c) for t, c, _ in rows}
    assert ("sessions", "state") in selectable  # the check sees column grants at all
    assert {(t, c) for t, c, kind in rows if kind == "bytea"} == LOADER_BYTEA_COLUMNS
    for phi in [
        ("sessions", "source_enc"),
        ("sessions", "header_enc"),
        ("staged_blocks", "ciphertext"),
        ("samples", "name_enc"),
        ("samples", "blind_index"),
    ]:
        assert phi not in selectable
