"""vcfctl compliance: the AWS runbook's checklist, checked against AWS and the database."""

from __future__ import annotations

import sys

import click
from rich.table import Table
from rich.text import Text

from ..compliance import FAIL, PASS, SKIP, WARN, Check, run_checks
from .common import AppContext, emit_json, format_option, pass_app, stdout

_STYLES = {PASS: "green", FAIL: "bold red", WARN: "yellow", SKIP: "dim"}


def _table(checks: list[Check]) -> Table:
    """Remediations are commands: folded, never cut with an ellipsis."""
    table = Table(title="vcfctl compliance check")
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("evidence", overflow="fold")
    table.add_column("remediation", overflow="fold")
    for c in checks:
        # Text, not markup: evidence and commands may hold brackets
        table.add_row(
            c.id,
            Text(c.status, style=_STYLES[c.status]),
            Text(c.evidence),
            Text(c.remediation or ""),
        )
    return table


@click.group(name="compliance")
def compliance_group() -> None:
    """The runbook's compliance checklist (docs/compliance.md).

    \b
    Example:
      vcfctl compliance check --rds-instance genomics-prod
    """


@compliance_group.command()
@click.option(
    "--rds-instance",
    metavar="ID",
    help="RDS DB instance identifier to check (encryption, parameter group, security "
    "groups, logs, backups). Without it the AWS checks are skipped.",
)
@format_option
@pass_app
def check(app: AppContext, rds_instance: str | None, fmt: str) -> None:
    """Check each item of the runbook's checklist; exit 1 on any failure.

    Each check has a stable id, a status (pass, fail, warn or skip), the
    evidence seen and, unless it passed, a command that fixes it. AWS
    settings come from the environment as for the aws-kms provider
    (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, an instance role). json
    prints an array of {id, status, evidence, remediation}, every field
    always present (remediation null when there is nothing to fix).

    \b
    Example, on AWS with the runbook's settings:
      AWS_REGION=us-east-1 vcfctl compliance check --rds-instance genomics-prod --format json
    """
    checks = run_checks(app.connect(), rds_instance)
    if fmt == "json":
        emit_json([c.as_json() for c in checks])
    else:
        stdout.print(_table(checks))
    counts = {s: sum(c.status == s for c in checks) for s in (FAIL, WARN, SKIP)}
    click.echo(
        f"vcfctl compliance check: {len(checks)} checks, {counts[FAIL]} failed,"
        f" {counts[WARN]} warning(s), {counts[SKIP]} skipped",
        err=True,
    )
    if counts[FAIL]:
        sys.exit(1)
