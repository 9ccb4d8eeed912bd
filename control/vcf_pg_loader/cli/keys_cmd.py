"""vcfctl keys: the PHI data key, the key registry, rewrapping under KMS."""

from __future__ import annotations

import click
from psycopg.rows import dict_row

from ..errors import KeyError_
from ..keys.local import create_master_key
from ..keys.providers import describe_provider, provider_warnings, weaker_reason
from ..keys.registry import init_phi_key
from ..keys.rewrap import FAILED, RewrapResult, rewrap_keys, summary
from ..sessions import _jsonable
from .common import AppContext, emit_json, emit_table, format_option, pass_app

_COLUMNS = ["key_id", "purpose", "provider", "kek_id", "state", "created_at", "destroyed_at"]


@click.group(name="keys")
def keys_group() -> None:
    """Data keys: only their wrapped forms are stored.

    \b
    Example:
      vcfctl keys list
    """


@keys_group.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the first PHI key with the configured provider.

    Only the local provider needs a file: its master key is created if missing.

    \b
    Example, wrapped by AWS KMS:
      VCF_PG_LOADER_KMS_KEY_ID=alias/vcf-phi vcfctl keys init
    """
    settings = app.settings
    if settings.key_provider == "local" and not settings.master_key_path.exists():
        create_master_key(settings.master_key_path)
        click.echo(f"created master key file {settings.master_key_path} (mode 0600)")
    key_id, created = init_phi_key(app.connect(), app.provider())
    click.echo(
        f"{'created' if created else 'already active'}: PHI key {key_id}"
        f" (provider {describe_provider(settings.key_provider)})"
    )
    for warning in provider_warnings(settings):
        click.echo(f"warning: {warning}", err=True)


@keys_group.command(name="list")
@format_option
@pass_app
def list_(app: AppContext, fmt: str) -> None:
    """List data keys (ids, providers, states; never key material).

    A provider weaker than KMS or a master key file is marked (json: "weaker").

    \b
    Example:
      vcfctl keys list --format json
    """
    with app.connect().cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT key_id, purpose, provider, kek_id, state, encryption_context,"
            " created_at, retired_at, destroyed_at FROM vcf.data_keys ORDER BY created_at"
        )
        rows = [_jsonable(r) for r in cur.fetchall()]
    for row in rows:
        row["weaker"] = weaker_reason(str(row["provider"]))
    if fmt == "json":
        emit_json(rows)
    else:
        emit_table(
            [{**r, "provider": describe_provider(str(r["provider"]))} for r in rows], _COLUMNS
        )


@keys_group.command()
@click.option(
    "--to-kms-key-id",
    metavar="KEY",
    help="KMS key (id, ARN or alias/NAME) to wrap every key under; local and env keys "
    "move to it. Default: each aws-kms key's own KMS key (its newest backing key).",
)
@format_option
@pass_app
def rewrap(app: AppContext, to_kms_key_id: str | None, fmt: str) -> None:
    """Rewrap every data key under a KMS key (no data touched).

    KMS ReEncrypt of every aws-kms key (the plaintext never leaves KMS);
    with --to-kms-key-id, local and env keys are moved to KMS too. Each key
    is checked against its key check value before it is swapped in, in its
    own transaction, audited; the database checks it too (in the server, or
    from the key unwrapped here, sent as a bind parameter). With
    --to-kms-key-id, running it again skips the keys already there. Exits 5
    if any key failed (after trying all of them). See docs/operations.md.

    \b
    Example, moving local keys to KMS:
      vcfctl keys rewrap --to-kms-key-id alias/vcf-phi
    """
    results: list[RewrapResult] = []
    for result in rewrap_keys(app.connect(), app.provider(), to_kms_key_id):
        results.append(result)
        if fmt != "json":
            click.echo(result.line())
    counts = summary(results)
    if fmt == "json":
        emit_json({"keys": [r.as_dict() for r in results], "summary": counts})
    else:
        click.echo("rewrap: " + ", ".join(f"{n} {action}" for action, n in counts.items()))
    if counts[FAILED]:
        raise KeyError_(
            f"{counts[FAILED]} of {len(results)} keys could not be rewrapped",
            hint="See the failed lines; fix the cause and run 'vcfctl keys rewrap' again.",
        )
