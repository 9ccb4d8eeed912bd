"""vcfctl keys rotate / destroy: a new PHI key for every value, then crypto-shredding."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import KeyError_
from ..keys.rotation import (
    DEFAULT_BATCH_SIZE,
    BatchResult,
    begin_rotation,
    destroy_key,
    rotate,
    rotation_status,
)
from .common import AppContext, emit_json, format_option, pass_app, stderr


@contextmanager
def _value_progress(total: int) -> Iterator[Callable[[BatchResult], None]]:
    """A progress bar over PHI values re-encrypted, shown only on a terminal."""
    if not sys.stderr.isatty():
        yield lambda _result: None
        return
    with Progress(
        TextColumn("re-encrypting PHI values"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("rotate", total=total)

        def update(result: BatchResult) -> None:
            progress.update(task, advance=result.rotated)

        yield update


@click.command(name="rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="PHI values re-encrypted per transaction.",
)
@format_option
@pass_app
def rotate_cmd(app: AppContext, batch_size: int, fmt: str) -> None:
    """Rotate the PHI key (every PHI value re-encrypted, online).

    Values move in batches inside the database, each batch its own
    transaction, so reads work throughout. If a rotation was interrupted,
    this resumes it instead of starting another. When no value uses the old
    key any more it becomes 'retired'; then 'vcfctl keys destroy' can shred it.
    Every step is audited.

    \b
    Example:
      vcfctl keys rotate --batch-size 5000
    """
    conn = app.connect()
    provider = app.provider()
    status = rotation_status(conn)
    if status.active_key is None:
        raise KeyError_("there is no active PHI key", hint="Create one with 'vcfctl keys init'.")
    resumed = status.retiring_key is not None
    if not resumed:
        status = begin_rotation(conn, provider)
    if fmt == "table":
        verb = "resuming" if resumed else "started"
        click.echo(
            f"{verb} rotation: {status.retiring_key} -> {status.active_key}"
            f" ({status.remaining} value(s) to re-encrypt)",
            err=True,
        )
    rotated = 0
    with _value_progress(status.remaining) as progress:

        def on_batch(result: BatchResult) -> None:
            nonlocal rotated
            rotated += result.rotated
            progress(result)

        final = rotate(conn, provider, batch_size, on_batch)
    summary = {
        "retired_key": str(status.retiring_key),
        "active_key": str(final.to_key),
        "rotated": rotated,
        "resumed": resumed,
    }
    if fmt == "json":
        emit_json(summary)
    else:
        click.echo(
            f"rotated {rotated} value(s) to PHI key {final.to_key};"
            f" key {status.retiring_key} is retired (destroy it with 'vcfctl keys destroy')"
        )


@click.command(name="destroy")
@click.argument("key_id", type=click.UUID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def destroy_cmd(app: AppContext, key_id: uuid.UUID, yes: bool) -> None:
    """Destroy a retired PHI key (crypto-shredding): irreversible.

    Its wrapped form is erased, so nothing it ever encrypted, backups
    included, can be read again. Refused while any stored value uses it, and
    for the active key or one a rotation is still moving values from.

    \b
    Example, the key a finished rotation retired:
      vcfctl keys destroy 8d1e4f2a-0b3c-4d5e-8f6a-7b8c9d0e1f2a --yes
    """
    if not yes:
        click.confirm(
            f"Destroy data key {key_id}? Anything still encrypted under it is lost for good",
            abort=True,
            err=True,
        )
    destroyed = destroy_key(app.connect(), key_id)
    click.echo(f"destroyed: data key {key_id}" if destroyed else f"already destroyed: {key_id}")
