"""Data keys in vcf.data_keys: create, fetch and unwrap, unlock for a transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..crypto import DataKey
from ..errors import KeyError_
from .provider import KeyProvider, WrappedKey


def new_data_key(
    provider: KeyProvider, purpose: str, context_extra: dict[str, str], database: str
) -> tuple[DataKey, WrappedKey]:
    """Ask the provider for a fresh data key bound to purpose, database and ids."""
    key_id = uuid.uuid4()
    context = {"purpose": purpose, "database": database, "key_id": str(key_id), **context_extra}
    material, wrapped = provider.generate(context)
    return DataKey(key_id, material), wrapped


def current_database(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def active_phi_key_id(conn: psycopg.Connection[Any]) -> uuid.UUID | None:
    row = conn.execute("SELECT vcf.active_phi_key_id()").fetchone()
    return None if row is None or row[0] is None else uuid.UUID(str(row[0]))


def phi_keys_in_use(conn: psycopg.Connection[Any]) -> list[uuid.UUID]:
    """The PHI keys values can be under: the active one, and the retiring one
    while a rotation is in progress (a retired key is used by no value)."""
    rows = conn.execute(
        "SELECT key_id FROM vcf.data_keys WHERE purpose = 'phi'"
        " AND state IN ('active', 'retiring') ORDER BY state = 'active' DESC"
    ).fetchall()
    return [uuid.UUID(str(r[0])) for r in rows]


def init_phi_key(conn: psycopg.Connection[Any], provider: KeyProvider) -> tuple[uuid.UUID, bool]:
    """Create the first PHI key unless one is active; return its id and whether it is new."""
    existing = active_phi_key_id(conn)
    if existing is not None:
        return existing, False
    key, wrapped = new_data_key(provider, "phi", {}, current_database(conn))
    with conn.transaction():
        conn.execute(
            "SELECT vcf.key_register(%s, 'phi', %s, %s, %s, %s, %s)",
            (
                key.key_id,
                wrapped.provider,
                wrapped.kek_id,
                wrapped.wrapped,
                Jsonb(wrapped.context),
                key.check_value,
            ),
        )
    return key.key_id, True


def _checked_row(
    conn: psycopg.Connection[Any], key_id: uuid.UUID, expect: dict[str, str] | None
) -> tuple[Any, ...]:
    """A key's row, refused when destroyed or when its context names another key.

    The encryption context is stored beside the wrapped key, so it is checked
    to name this key, its purpose and whatever else the caller expects (the
    session of a staging key): a wrapped key moved with its context is refused.
    """
    row = conn.execute(
        "SELECT provider, kek_id, wrapped_key, encryption_context, key_check, state, purpose"
        " FROM vcf.data_keys WHERE key_id = %s",
        (key_id,),
    ).fetchone()
    if row is None:
        raise KeyError_(f"data key {key_id} does not exist")
    _, _, wrapped_key, context, _, state, purpose = row
    if state == "destroyed" or wrapped_key is None:
        raise KeyError_(f"data key {key_id} has been destroyed")
    wanted = {"key_id": str(key_id), "purpose": purpose, **(expect or {})}
    if any(context.get(k) != v for k, v in wanted.items()):
        raise KeyError_(f"data key {key_id}: its encryption context names another key or purpose")
    return tuple(row)


def load_data_key(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    key_id: uuid.UUID,
    expect: dict[str, str] | None = None,
) -> DataKey:
    """Fetch a wrapped key (checked as _checked_row does), unwrap it, verify its check value."""
    provider_name, kek_id, wrapped_key, context, key_check, _, _ = _checked_row(
        conn, key_id, expect
    )
    material = provider.unwrap(WrappedKey(provider_name, kek_id, bytes(wrapped_key), dict(context)))
    key = DataKey(key_id, material)
    if key.check_value != bytes(key_check):
        raise KeyError_(f"data key {key_id} unwrapped to the wrong key (check value differs)")
    return key


def unlock(conn: psycopg.Connection[Any], key: DataKey) -> None:
    """Make a key usable by the extension until the current transaction ends.

    The key travels only as a binary bind parameter, never in SQL text.
    """
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT vcf.unlock(%s, %b)", (key.key_id, key.material))


def server_key_provider(conn: psycopg.Connection[Any]) -> str | None:
    """The provider the server unwraps keys with itself (plpython companion), or None."""
    row = conn.execute(
        "SELECT to_regprocedure('vcf.server_key_provider()') IS NOT NULL"
        " AND has_function_privilege('vcf.server_key_provider()', 'EXECUTE')"
    ).fetchone()
    if row is None or not row[0]:
        return None
    row = conn.execute("SELECT vcf.server_key_provider()").fetchone()
    return None if row is None or row[0] is None else str(row[0])


@dataclass(frozen=True)
class KeyToUnlock:
    """A key ready to unlock: its plaintext here, or None when the server unwraps it."""

    key_id: uuid.UUID
    key: DataKey | None


def prepare_unlock(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    key_id: uuid.UUID,
    expect: dict[str, str] | None = None,
    server: str | None = None,
) -> KeyToUnlock:
    """Unwrap a key here, unless the server unwraps keys of its provider itself.

    server is server_key_provider(conn): when it matches the key's provider,
    no key is sent over the connection (none to log either); vcf.unlock(key_id)
    unwraps it inside the server.
    """
    if server is not None and _checked_row(conn, key_id, expect)[0] == server:
        return KeyToUnlock(key_id, None)
    return KeyToUnlock(key_id, load_data_key(conn, provider, key_id, expect))


def unlock_prepared(conn: psycopg.Connection[Any], key: KeyToUnlock) -> None:
    """Unlock a prepared key for the current transaction, here or in the server."""
    if key.key is None:
        conn.execute("SELECT vcf.unlock(%s)", (key.key_id,))
    else:
        unlock(conn, key.key)
