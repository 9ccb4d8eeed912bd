"""vcfctl sessions: list, show and purge staging sessions."""

from __future__ import annotations

import uuid

import click

from ..errors import VcfPgError
from ..sessions import incomplete_session_ids, list_sessions, purge_session, show_session
from .common import AppContext, emit_json, emit_table, format_option, pass_app

_LIST_COLUMNS = ["session_id", "state", "records", "variants", "calls", "samples", "created_at"]


@click.group(name="sessions")
def sessions_group() -> None:
    """Staging sessions: one per staged file.

    \b
    Example:
      vcfctl sessions list --limit 20
    """


@sessions_group.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
@pass_app
def list_(app: AppContext, limit: int, fmt: str) -> None:
    """List sessions, newest first.

    \b
    Example:
      vcfctl sessions list --limit 20 --format json
    """
    rows = list_sessions(app.connect(), limit)
    if fmt == "json":
        emit_json(rows)
    else:
        emit_table(rows, _LIST_COLUMNS)


@sessions_group.command()
@click.argument("session_id", type=click.UUID)
@format_option
@pass_app
def show(app: AppContext, session_id: uuid.UUID, fmt: str) -> None:
    """Show one session: state, counts, error, and its warnings with first examples.

    \b
    Example:
      vcfctl sessions show 3f2b9c1e-7a4d-4e2b-9c1f-5d6e7f8a9b0c
    """
    info = show_session(app.connect(), session_id)
    if fmt == "json":
        emit_json(info)
        return
    warnings = info.pop("warnings") or []
    emit_table([{"field": k, "value": v} for k, v in info.items()], ["field", "value"])
    if not warnings:
        click.echo("no warnings")
    for warning in warnings:
        click.echo(f"warning {warning.get('code')}: {warning.get('count')} occurrence(s)")
        for example in warning.get("examples") or []:
            click.echo(f"  {example}")


@sessions_group.command()
@click.argument("session_ids", nargs=-1, type=click.UUID)
@click.option(
    "--incomplete",
    is_flag=True,
    help="Purge every session that still holds staged data or a staging key.",
)
@pass_app
def purge(app: AppContext, session_ids: tuple[uuid.UUID, ...], incomplete: bool) -> None:
    """Remove what unfinished sessions left: staged blocks and staging keys (destroyed).

    Ingested sessions are refused. Give SESSION_IDS, or --incomplete for all.

    \b
    Example, after a load was interrupted:
      vcfctl sessions purge --incomplete
    """
    if not session_ids and not incomplete:
        raise click.UsageError("give SESSION_IDS or --incomplete")
    conn = app.connect()
    targets = list(session_ids) + (incomplete_session_ids(conn) if incomplete else [])
    failed = False
    for session_id in dict.fromkeys(targets):
        try:
            state = purge_session(conn, session_id)
        except VcfPgError as exc:
            click.echo(f"vcfctl: error: {exc.message}", err=True)
            failed = True
            continue
        click.echo(f"{session_id} {state}")
    if not targets:
        click.echo("nothing to purge")
    if failed:
        raise SystemExit(1)
