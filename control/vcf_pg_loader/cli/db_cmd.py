"""vcfctl db: the embedded PostgreSQL cluster."""

from __future__ import annotations

import os

import click

from ..embedded import EmbeddedCluster
from ..errors import VcfPgError
from .common import AppContext, emit_json, emit_table, format_option, pass_app


def _cluster(app: AppContext) -> EmbeddedCluster:
    if not app.settings.embedded:
        raise VcfPgError(
            "'vcfctl db' manages the embedded cluster; a database is configured "
            "(--db or VCF_PG_LOADER_DB_URL)"
        )
    return EmbeddedCluster(
        app.settings.home, app.settings.master_key_path, providers=app.provider()
    )


@click.group(name="db")
def db_group() -> None:
    """Manage the embedded PostgreSQL cluster (used when no database is configured)."""


@db_group.command()
@pass_app
def start(app: AppContext) -> None:
    """Create the cluster on first use, start it, install the extensions and keys."""
    cluster = _cluster(app)
    cluster.ensure_ready()
    click.echo(f"running: {cluster.conninfo()}")


@db_group.command()
@pass_app
def stop(app: AppContext) -> None:
    """Stop the embedded cluster (its data stays)."""
    cluster = _cluster(app)
    cluster.stop()
    click.echo("stopped")


@db_group.command()
@format_option
@pass_app
def status(app: AppContext, fmt: str) -> None:
    """Show where the cluster lives and whether it runs."""
    info = _cluster(app).status()
    if fmt == "json":
        emit_json(info)
    else:
        emit_table([{"setting": k, "value": v} for k, v in info.items()], ["setting", "value"])


@db_group.command()
@pass_app
def url(app: AppContext) -> None:
    """Print a libpq connection string for the embedded database (psql accepts it)."""
    click.echo(_cluster(app).ensure_ready())


@db_group.command()
@pass_app
def shell(app: AppContext) -> None:
    """Open psql on the embedded database."""
    conninfo = _cluster(app).ensure_ready()
    os.execvp("psql", ["psql", conninfo])  # noqa: S606 - replaces this process with psql
