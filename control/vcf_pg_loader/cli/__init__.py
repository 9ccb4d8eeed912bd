"""vcfctl: one group, one module per command group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..config import TLS_MODES
from ..errors import EXIT_FAILURE, VcfPgError
from .audit_cmd import audit_group
from .common import AppContext
from .compliance_cmd import compliance_group
from .db_cmd import db_group
from .doctor_cmd import doctor
from .keys_cmd import keys_group
from .keys_rotate_cmd import destroy_cmd, rotate_cmd
from .load_cmd import ingest, load, stage
from .roles_cmd import roles_group
from .samples_cmd import samples_group
from .sessions_cmd import sessions_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcfctl")
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="libpq URL or connection string of your database (no password in it; use "
    "VCF_PG_LOADER_DB_PASSWORD, a passfile, --db-secret-id or --iam-auth). "
    "Default: VCF_PG_LOADER_DB_URL, else libpq's environment when it names a server "
    "(PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGSERVICE), else the embedded cluster.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Home of the embedded cluster and local master key "
    "(default: VCF_PG_LOADER_HOME, else ~/.local/share/vcf-pg-loader).",
)
@click.option(
    "--kms-key-id",
    metavar="KEY",
    help="AWS KMS key (id, ARN or alias/NAME) that wraps new data keys; selects the "
    "aws-kms provider. Default: VCF_PG_LOADER_KMS_KEY_ID.",
)
@click.option(
    "--tls-mode",
    type=click.Choice(TLS_MODES),
    help="libpq sslmode. Default: VCF_PG_LOADER_TLS_MODE, else verify-full for a host that "
    "is not local (prefer for localhost). Keys and PHI go only over TLS or a Unix socket.",
)
@click.option(
    "--tls-ca-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA certificate(s) that signed the server's certificate (libpq sslrootcert; for "
    "RDS the region's bundle). Default: VCF_PG_LOADER_TLS_CA_CERT.",
)
@click.option(
    "--tls-client-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Client certificate (libpq sslcert). Default: VCF_PG_LOADER_TLS_CLIENT_CERT.",
)
@click.option(
    "--tls-client-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Client certificate's key (libpq sslkey). Default: VCF_PG_LOADER_TLS_CLIENT_KEY.",
)
@click.option(
    "--db-secret-id",
    metavar="SECRET",
    help="AWS Secrets Manager secret (name or ARN) holding JSON username, password and "
    "optionally host, port, dbname. Default: VCF_PG_LOADER_DB_SECRET_ID.",
)
@click.option(
    "--iam-auth",
    is_flag=True,
    default=None,
    help="Log in with an RDS IAM auth token made from your AWS credentials (needs TLS). "
    "Default: VCF_PG_LOADER_IAM_AUTH.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    home: Path | None,
    kms_key_id: str | None,
    tls_mode: str | None,
    tls_ca_cert: Path | None,
    tls_client_cert: Path | None,
    tls_client_key: Path | None,
    db_secret_id: str | None,
    iam_auth: bool | None,
) -> None:
    """Load VCF files carrying PHI into PostgreSQL, encrypted, with an audit trail.

    With no database configured (--db, VCF_PG_LOADER_DB_URL, --db-secret-id,
    or libpq's PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGSERVICE), vcfctl uses
    a private embedded PostgreSQL cluster in its home directory (Unix socket
    only); on a terminal, stage, ingest and load say which database they
    write to. There is no password
    flag: the password comes from VCF_PG_LOADER_DB_PASSWORD, a libpq passfile,
    --db-secret-id or --iam-auth.

    \b
    Example, the embedded cluster, then a server named by libpq's environment:
      vcfctl load sample.vcf.gz
      PGHOST=db.example.org PGDATABASE=genomics vcfctl load sample.vcf.gz
    """
    ctx.obj = AppContext(
        db_url=db_url,
        home=home,
        kms_key_id=kms_key_id,
        tls_mode=tls_mode,
        tls_ca_cert=tls_ca_cert,
        tls_client_cert=tls_client_cert,
        tls_client_key=tls_client_key,
        db_secret_id=db_secret_id,
        iam_auth=iam_auth,
    )


cli.add_command(db_group)
cli.add_command(stage)
cli.add_command(ingest)
cli.add_command(load)
cli.add_command(sessions_group)
keys_group.add_command(rotate_cmd)
keys_group.add_command(destroy_cmd)
cli.add_command(keys_group)
cli.add_command(audit_group)
cli.add_command(roles_group)
cli.add_command(samples_group)
cli.add_command(doctor)
cli.add_command(compliance_group)


def main() -> None:
    """Entry point: user mistakes become one clean line on stderr, no traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("vcfctl: aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except VcfPgError as exc:
        click.echo(f"vcfctl: error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
