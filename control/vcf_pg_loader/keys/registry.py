"""Data keys in vcf.data_keys: create, fetch and unwrap, unlock for a transaction."""

from __future__ import annotations

import uuid
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


def load_data_key(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    key_id: uuid.UUID,
    expect: dict[str, str] | None = None,
) -> DataKey:
    """Fetch a wrapped key and unwrap it with the provider; verify its check value.

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
    provider_name, kek_id, wrapped_key, context, key_check, state, purpose = row
    if state == "destroyed" or wrapped_key is None:
        raise KeyError_(f"data key {key_id} has been destroyed")
    wanted = {"key_id": str(key_id), "purpose": purpose, **(expect or {})}
    if any(context.get(k) != v for k, v in wanted.items()):
        raise KeyError_(f"data key {key_id}: its encryption context names another key or purpose")
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
