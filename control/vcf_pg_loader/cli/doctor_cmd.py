"""vcfctl doctor: settings that would put keys or PHI where they should not be."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from ..doctor import (
    OK,
    WARN,
    Finding,
    extension_findings,
    key_findings,
    logging_findings,
    transport_findings,
)
from ..keys.providers import provider_warnings
from .common import AppContext, emit_json, emit_table, format_option, pass_app


@click.command()
@format_option
@pass_app
def doctor(app: AppContext, fmt: str) -> None:
    """Check the database and this machine's settings for key and PHI leaks.

    Warns when server logging would record the bind parameters of
    vcf.unlock (log_statement = 'all', log_min_duration_statement = 0,
    log_parameter_max_length_on_error, pgaudit.log_parameter), when keys
    would cross a network without TLS, and when a weaker key provider (env)
    is in use. Exits 1 when there is any warning.

    \b
    Example:
      vcfctl --db 'host=db.example.org dbname=genomics user=loader' doctor
    """
    findings = [Finding("key provider", WARN, w) for w in provider_warnings(app.settings)] or [
        Finding("key provider", OK, app.settings.key_provider)
    ]
    conn = app.connect()
    findings += extension_findings(conn)
    findings += transport_findings(conn)
    findings += logging_findings(conn)
    findings += key_findings(conn)
    if fmt == "json":
        emit_json([asdict(f) for f in findings])
    else:
        emit_table([asdict(f) for f in findings], ["check", "status", "detail"])
    warnings = [f for f in findings if f.status == WARN]
    if warnings:
        click.echo(f"vcfctl doctor: {len(warnings)} warning(s)", err=True)
        sys.exit(1)
