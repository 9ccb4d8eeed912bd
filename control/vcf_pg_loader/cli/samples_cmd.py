"""vcfctl samples: reveal a sample's name, find a sample by name; both audited.

The database decides and audits (vcf.reveal_sample, vcf.find_sample): only
members of vcf_phi_reader get an answer, every attempt leaves an audit row,
and the audit row never holds the name. vcfctl only unlocks the PHI keys for
the one transaction, when the caller may read them.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import psycopg

from ..errors import DatabaseError, IntegrityError, KeyError_, VcfPgError
from ..keys.provider import KeyProvider
from ..keys.registry import (
    KeyToUnlock,
    phi_keys_in_use,
    prepare_unlock,
    server_key_provider,
    unlock_prepared,
)
from .common import AppContext, emit_json, emit_table, format_option, pass_app


def _error(exc: psycopg.Error) -> VcfPgError:
    code = exc.diag.sqlstate or ""
    message = exc.diag.message_primary or type(exc).__name__
    hint = exc.diag.message_hint
    if code in {"VP004", "VP006"}:
        return KeyError_(message, hint=hint)
    if code == "VP072":
        return IntegrityError(message, hint=hint)
    if code in {"42501", "VP071", "VP073"}:
        return VcfPgError(message, hint=hint)
    return DatabaseError(message, hint=hint)


def _phi_keys(conn: psycopg.Connection[Any], provider: KeyProvider) -> list[KeyToUnlock]:
    """The PHI keys values may be under (registry.phi_keys_in_use), ready to unlock.

    None when the caller may not read them: it still gets to ask, so that the
    database can refuse and audit the attempt.
    """
    try:
        key_ids = phi_keys_in_use(conn)
    except psycopg.errors.InsufficientPrivilege:
        return []
    except psycopg.Error as exc:
        raise _error(exc) from None
    server = server_key_provider(conn)
    return [prepare_unlock(conn, provider, key_id, None, server) for key_id in key_ids]


def _may_unlock(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT has_function_privilege('vcf.unlock(uuid, bytea)', 'EXECUTE')"
    ).fetchone()
    return bool(row and row[0])


def _with_phi_keys(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    query: str,
    params: tuple[Any, ...],
) -> tuple[Any, ...] | None:
    """Run one audited PHI function with the PHI keys unlocked in its transaction.

    Keys are unlocked only when the caller may; otherwise the function is
    still called, so that its refusal is audited.
    """
    keys = _phi_keys(conn, provider) if _may_unlock(conn) else []
    try:
        with conn.transaction():
            for key in keys:
                unlock_prepared(conn, key)
            return conn.execute(query, params).fetchone()
    except psycopg.Error as exc:
        raise _error(exc) from None


def reveal_sample(
    conn: psycopg.Connection[Any], provider: KeyProvider, sample_id: int, reason: str
) -> str:
    """The plaintext name of one sample (vcf.reveal_sample, audited)."""
    row = _with_phi_keys(conn, provider, "SELECT vcf.reveal_sample(%s, %s)", (sample_id, reason))
    assert row is not None
    return str(row[0])


def find_sample(
    conn: psycopg.Connection[Any], provider: KeyProvider, name: str, reason: str | None
) -> int | None:
    """The sample id of a name through the blind index, or None (vcf.find_sample, audited)."""
    row = _with_phi_keys(conn, provider, "SELECT vcf.find_sample(%s, %s)", (name, reason))
    return None if row is None or row[0] is None else int(row[0])


@click.group(name="samples")
def samples_group() -> None:
    """Samples: pseudonymous ids; names only through audited PHI access.

    \b
    Example:
      vcfctl samples reveal 42 --reason 'IRB-2026-014 recontact'
    """


@samples_group.command()
@click.argument("sample_id", type=click.IntRange(min=1))
@click.option(
    "--reason", required=True, help="Why the name is needed (recorded in the audit trail)."
)
@format_option
@pass_app
def reveal(app: AppContext, sample_id: int, reason: str, fmt: str) -> None:
    """Print the name (PHI) of SAMPLE_ID. Needs vcf_phi_reader and a reason; audited.

    The reason is stored in the audit trail as given: never put PHI in it.

    \b
    Example:
      vcfctl samples reveal 42 --reason 'IRB-2026-014 recontact'
    """
    name = reveal_sample(app.connect(), app.provider(), sample_id, reason)
    if fmt == "json":
        emit_json({"sample_id": sample_id, "name": name})
    else:
        emit_table([{"sample_id": sample_id, "name": name}], ["sample_id", "name"])


@samples_group.command()
@click.argument("name")
@click.option("--reason", help="Why the lookup is needed (recorded in the audit trail).")
@format_option
@pass_app
def find(app: AppContext, name: str, reason: str | None, fmt: str) -> None:
    """Print the sample id of NAME (exit 1 if there is none). Needs vcf_phi_reader; audited.

    NAME '-' reads the name from the first line of stdin, keeping it out of
    the process list and shell history. The audit row records the result,
    never the name.

    \b
    Example, the name from a file, never on the command line:
      vcfctl samples find - --reason 'IRB-2026-014 recontact' < name.txt
    """
    if name == "-":
        name = sys.stdin.readline().rstrip("\r\n")
    sample_id = find_sample(app.connect(), app.provider(), name, reason)
    if fmt == "json":
        emit_json({"sample_id": sample_id})
    elif sample_id is not None:
        click.echo(sample_id)
    else:
        click.echo("not found", err=True)
    if sample_id is None:
        raise SystemExit(1)
