"""vcfctl db: the embedded PostgreSQL cluster; installing the extension in a configured one."""

from __future__ import annotations

import os
from pathlib import Path

import click
import psycopg

from .. import EXTENSION_VERSION, tle
from ..db import _connect_error, connection_params
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
    """Manage the embedded PostgreSQL cluster (used when no database is configured).

    \b
    Example:
      vcfctl db start && vcfctl db status
    """


@db_group.command()
@pass_app
def start(app: AppContext) -> None:
    """Create the cluster on first use, start it, install the extensions and keys.

    \b
    Example:
      vcfctl db start
    """
    cluster = _cluster(app)
    cluster.ensure_ready()
    click.echo(f"running: {cluster.conninfo()}")


@db_group.command()
@pass_app
def stop(app: AppContext) -> None:
    """Stop the embedded cluster (its data stays).

    \b
    Example:
      vcfctl db stop
    """
    cluster = _cluster(app)
    cluster.stop()
    click.echo("stopped")


@db_group.command()
@format_option
@pass_app
def status(app: AppContext, fmt: str) -> None:
    """Show where the cluster lives and whether it runs.

    \b
    Example:
      vcfctl db status --format json
    """
    info = _cluster(app).status()
    if fmt == "json":
        emit_json(info)
    else:
        emit_table([{"setting": k, "value": v} for k, v in info.items()], ["setting", "value"])


@db_group.command()
@pass_app
def url(app: AppContext) -> None:
    """Print a libpq connection string for the embedded database (psql accepts it).

    \b
    Example:
      psql "$(vcfctl db url)"
    """
    click.echo(_cluster(app).ensure_ready())


@db_group.command()
@pass_app
def shell(app: AppContext) -> None:
    """Open psql on the embedded database.

    \b
    Example:
      vcfctl db shell
    """
    conninfo = _cluster(app).ensure_ready()
    os.execvp("psql", ["psql", conninfo])  # noqa: S606 - replaces this process with psql


@db_group.command()
@click.option(
    "--via",
    type=click.Choice(["auto", "pg_tle", "files"]),
    default="auto",
    show_default=True,
    help="pg_tle: send the install script through pgtle.install_extension (AWS RDS, no"
    " files on the server); files: the server has the extension files (make setup);"
    " auto: files when the server has them, else pg_tle.",
)
@click.option(
    "--script",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The install script for pg_tle (default: extension/vcf_pg_loader--VERSION.sql of"
    " this checkout, built by make -C extension).",
)
@pass_app
def install(app: AppContext, via: str, script: Path | None) -> None:
    """Install the extension in the configured database (--db), as a role that need not be
    a superuser: with pg_tle, a member of pgtle_admin with CREATEROLE (RDS's rds_superuser).

    pgcrypto is created if missing; dblink is not trusted, so a superuser (on RDS the
    master user) creates it first. Afterwards: vcfctl keys init.

    \b
    Example, on RDS as the master user:
      vcfctl --db 'host=db.example.org dbname=genomics user=admin' db install --via pg_tle
    """
    settings = app.settings
    if settings.embedded:
        raise VcfPgError(
            "'vcfctl db install' installs into a configured database (--db or"
            " VCF_PG_LOADER_DB_URL); the embedded cluster installs itself",
            hint="vcfctl db start",
        )
    try:
        conn = psycopg.connect(**connection_params(settings, app.provider()), autocommit=True)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc) from None
    with conn:
        chosen = tle.choose_via(conn) if via == "auto" else via
        text = (
            tle.load_script(tle.script_path(EXTENSION_VERSION, script))
            if chosen == "pg_tle" and tle.installed_version(conn) is None
            else None
        )
        result = tle.install(conn, chosen, script=text)
        warnings = tle.owner_warnings(conn)
    if result.created:
        click.echo(f"installed: {tle.EXTENSION} {result.version} (via {result.via})")
    else:
        click.echo(f"already installed: {tle.EXTENSION} {result.version}")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@db_group.command()
@click.option(
    "--scripts-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Where the upgrade scripts vcf_pg_loader--FROM--TO.sql are (default: this"
    " checkout's extension/).",
)
@pass_app
def upgrade(app: AppContext, scripts_dir: Path | None) -> None:
    """Upgrade the extension in the configured database to this vcfctl's version.

    Runs the hand-written upgrade scripts (ALTER EXTENSION ... UPDATE), in one
    transaction, as the extension's owner; the audit trail records it
    (action extension_update). Installed through pg_tle: the upgrade scripts and the
    new version's install script are registered first (pgtle.install_update_path).
    Installed from files: run 'make setup' on the server first (it installs the
    scripts); the PL/Python companion, where it is installed, is upgraded too.
    The embedded cluster upgrades itself when it starts.

    \b
    Example:
      vcfctl --db 'host=db.example.org dbname=genomics user=admin' db upgrade
    """
    settings = app.settings
    if settings.embedded:
        raise VcfPgError(
            "'vcfctl db upgrade' upgrades a configured database (--db or VCF_PG_LOADER_DB_URL)",
            hint="The embedded cluster upgrades itself: make setup, then vcfctl db start.",
        )
    try:
        conn = psycopg.connect(**connection_params(settings, app.provider()), autocommit=True)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc) from None
    with conn:
        current = tle.installed_version(conn)
        full = (
            tle.load_script(tle.script_path(EXTENSION_VERSION))
            if current not in (None, EXTENSION_VERSION)
            else None
        )
        via, old, new = tle.upgrade(
            conn, scripts_dir=scripts_dir or tle.EXTENSION_DIR, full_script=full
        )
        companion = tle.upgrade_companion(conn) if via == "files" else None
    if old == new:
        click.echo(f"already at: {tle.EXTENSION} {new}")
    else:
        click.echo(f"upgraded: {tle.EXTENSION} {old} -> {new} (via {via})")
    if companion is not None:
        click.echo(f"upgraded: {tle.COMPANION} {companion[0]} -> {companion[1]} (via files)")
