"""vcfctl roles: grant and revoke the project's roles (audited), list their members."""

from __future__ import annotations

import click

from ..roles import PROJECT_ROLES, grant, members, revoke
from .common import AppContext, emit_json, emit_table, format_option, pass_app

_ROLE = click.Choice(PROJECT_ROLES)


@click.group(name="roles")
def roles_group() -> None:
    """Database roles: vcf_loader, vcf_analyst, vcf_phi_reader, vcf_key_admin, vcf_auditor.

    \b
    Example:
      vcfctl roles grant vcf_analyst alice
    """


@roles_group.command(name="grant")
@click.argument("role", type=_ROLE)
@click.argument("user")
@pass_app
def grant_(app: AppContext, role: str, user: str) -> None:
    """Grant ROLE to the database role USER (audited).

    \b
    Example:
      vcfctl roles grant vcf_phi_reader genetic_counselor
    """
    grant(app.connect(), role, user)
    click.echo(f"granted {role} to {user}")


@roles_group.command(name="revoke")
@click.argument("role", type=_ROLE)
@click.argument("user")
@pass_app
def revoke_(app: AppContext, role: str, user: str) -> None:
    """Revoke ROLE from the database role USER (audited).

    \b
    Example:
      vcfctl roles revoke vcf_phi_reader genetic_counselor
    """
    revoke(app.connect(), role, user)
    click.echo(f"revoked {role} from {user}")


@roles_group.command(name="list")
@format_option
@pass_app
def list_(app: AppContext, fmt: str) -> None:
    """List the direct members of the project roles.

    \b
    Example:
      vcfctl roles list --format json
    """
    rows = members(app.connect())
    if fmt == "json":
        emit_json(rows)
    else:
        emit_table(rows, ["role", "member", "admin_option", "can_login"])
