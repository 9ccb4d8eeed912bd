"""vcfctl keys: the PHI data key and the key registry."""

from __future__ import annotations

import click
from psycopg.rows import dict_row

from ..keys.local import create_master_key
from ..keys.registry import init_phi_key
from ..sessions import _jsonable
from .common import AppContext, emit_json, emit_table, format_option, pass_app

_COLUMNS = ["key_id", "purpose", "provider", "kek_id", "state", "created_at", "destroyed_at"]


@click.group(name="keys")
def keys_group() -> None:
    """Data keys: only their wrapped forms are stored."""


@keys_group.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the first PHI key (and, for the local provider, the master key file)."""
    settings = app.settings
    if settings.key_provider == "local" and not settings.master_key_path.exists():
        create_master_key(settings.master_key_path)
        click.echo(f"created master key file {settings.master_key_path} (mode 0600)")
    key_id, created = init_phi_key(app.connect(), app.provider())
    click.echo(f"{'created' if created else 'already active'}: PHI key {key_id}")


@keys_group.command(name="list")
@format_option
@pass_app
def list_(app: AppContext, fmt: str) -> None:
    """List data keys (ids, providers, states; never key material)."""
    with app.connect().cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT key_id, purpose, provider, kek_id, state, encryption_context,"
            " created_at, retired_at, destroyed_at FROM vcf.data_keys ORDER BY created_at"
        )
        rows = [_jsonable(r) for r in cur.fetchall()]
    if fmt == "json":
        emit_json(rows)
    else:
        emit_table(rows, _COLUMNS)
