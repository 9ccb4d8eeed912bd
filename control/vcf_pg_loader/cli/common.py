"""What every command group shares: settings, connection, key provider, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg
from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..config import Settings, load_settings
from ..db import connect, describe_database
from ..keys.providers import ProviderSet

F = TypeVar("F", bound=Callable[..., Any])

stderr = Console(stderr=True)
stdout = Console(width=None if sys.stdout.isatty() else 200)


@dataclass
class AppContext:
    db_url: str | None = None
    home: Path | None = None
    kms_key_id: str | None = None
    tls_mode: str | None = None
    tls_ca_cert: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    db_secret_id: str | None = None
    iam_auth: bool | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _providers: ProviderSet | None = field(default=None, repr=False)
    _announced: bool = field(default=False, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                db_url=self.db_url,
                home=self.home,
                kms_key_id=self.kms_key_id,
                tls_mode=self.tls_mode,
                tls_ca_cert=self.tls_ca_cert,
                tls_client_cert=self.tls_client_cert,
                tls_client_key=self.tls_client_key,
                db_secret_id=self.db_secret_id,
                iam_auth=self.iam_auth,
            )
        return self._settings

    def connect(self, *, announce: bool = False) -> psycopg.Connection[Any]:
        """A connection; with announce, say once which database it is (the
        commands that write: stage, ingest, load), on stderr when it is a
        terminal, as progress is: an error stays the one line scripts read."""
        conn = connect(self.settings, self.provider())
        if announce and not self._announced and stderr.is_terminal:
            self._announced = True
            stderr.print(
                f"vcfctl: {describe_database(conn, self.settings)}", highlight=False, soft_wrap=True
            )
        return conn

    def provider(self) -> ProviderSet:
        """Generates with the configured provider, unwraps with each key's own."""
        if self._providers is None:
            self._providers = ProviderSet(self.settings)
        return self._providers


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Output format; json is stable for scripts.",
    )(func)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def emit_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    stdout.print(table)


ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FileProgress:
    """One file's line in a progress display: bytes while it is staged, then
    blocks while the database ingests it."""

    staging: ProgressCallback
    ingesting: ProgressCallback


@contextmanager
def file_progress_group() -> Iterator[Callable[[str], FileProgress | None]]:
    """Progress bars, one per file, in one display (files loaded at the same
    time share it); shown only when stderr is a terminal. Yields a function
    that adds a file's bar and returns its callbacks (None off a terminal)."""
    if not sys.stderr.isatty():
        yield lambda name: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}"),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as progress:

        def add(name: str) -> FileProgress:
            task = progress.add_task(f"staging {name}", total=None, done="")
            phase = ["staging"]

            def staging(done: int, total: int) -> None:
                progress.update(
                    task,
                    completed=done,
                    total=total,
                    done=f"{filesize.decimal(done)} of {filesize.decimal(total)}",
                )

            def ingesting(done: int, total: int) -> None:
                if phase[0] != "ingesting":
                    # a new total and a new rate: the time left is per block now
                    phase[0] = "ingesting"
                    progress.reset(task, total=total, description=f"ingesting {name}")
                progress.update(task, completed=done, total=total, done=f"block {done} of {total}")

            return FileProgress(staging, ingesting)

        yield add


@contextmanager
def file_progress(name: str) -> Iterator[FileProgress | None]:
    """One file's progress bar, shown only when stderr is a terminal."""
    with file_progress_group() as add:
        yield add(name)
