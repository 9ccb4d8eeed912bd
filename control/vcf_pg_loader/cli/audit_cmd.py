"""vcfctl audit: verify the hash chain, export it, anchor its head outside the database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

import click

from ..audit import Verification, export_rows, head, read_anchor, verify, write_anchor
from ..errors import EXIT_INTEGRITY
from .common import AppContext, emit_json, format_option, pass_app


@click.group(name="audit")
def audit_group() -> None:
    """The audit trail: append-only and hash-chained, verified in the database.

    \b
    Example:
      vcfctl audit verify --anchor s3://audit-anchors/genomics.json
    """


def _describe(result: Verification) -> str:
    if result.ok:
        if result.head_chain_no is None:
            text = "audit trail OK: empty"
        else:
            text = (
                f"audit trail OK: {result.rows_checked} rows, head at chain position "
                f"{result.head_chain_no} (audit_id {result.head_audit_id}), hash {result.head_hash}"
            )
        if result.anchor is not None:
            text += (
                f"; matches the anchor of chain position {result.anchor.chain_no}"
                f" ({result.anchor.anchored_at})"
            )
        return text
    where = []
    if result.bad_chain_no is not None:
        where.append(f"chain position {result.bad_chain_no}")
    if result.bad_audit_id is not None:
        where.append(f"audit_id {result.bad_audit_id}")
    return f"audit trail BROKEN at {', '.join(where) or 'the anchor'}: {result.problem}"


@audit_group.command(name="verify")
@click.option(
    "--anchor",
    "anchor_source",
    metavar="FILE|s3://BUCKET/KEY",
    help="Also check that the chain still holds this anchor (from 'vcfctl audit anchor'): "
    "detects a rewrite of the whole table.",
)
@format_option
@pass_app
def verify_(app: AppContext, anchor_source: str | None, fmt: str) -> None:
    """Recompute every hash of the audit trail; report the first broken link.

    Exit status 6 when the chain is broken or does not match the anchor.

    \b
    Example:
      vcfctl audit verify --anchor s3://audit-anchors/genomics.json --format json
    """
    anchor = read_anchor(anchor_source) if anchor_source else None
    result = verify(app.connect(), anchor)
    if fmt == "json":
        emit_json(result.as_dict())
    elif result.ok:
        click.echo(_describe(result))
    else:
        click.echo(_describe(result), err=True)
    if not result.ok:
        raise SystemExit(EXIT_INTEGRITY)


@audit_group.command()
@click.option("--since", metavar="TIME", help="Only rows logged at or after TIME (ISO 8601).")
@click.option(
    "--after",
    "after_chain_no",
    type=click.IntRange(min=0),
    metavar="CHAIN_NO",
    help="Only rows after this chain position (continues an earlier export).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@pass_app
def export(
    app: AppContext, since: str | None, after_chain_no: int | None, output: Path | None
) -> None:
    """Export audit rows as JSON lines, in chain order, with prev_hash and hash.

    The export is itself recorded in the audit trail.

    \b
    Example, a month for the auditor:
      vcfctl audit export --since 2026-11-01 -o audit-2026-11.jsonl
    """
    conn = app.connect()

    def write(fh: IO[str]) -> None:
        for row in export_rows(conn, since, after_chain_no):
            fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")

    if output is None:
        write(sys.stdout)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            write(fh)


@audit_group.command()
@click.option(
    "-o",
    "--output",
    "target",
    metavar="FILE|s3://BUCKET/KEY",
    help="Write the anchor here (a file, or an S3 object; ideally one the database's "
    "administrators cannot change). Default: stdout only.",
)
@format_option
@pass_app
def anchor(app: AppContext, target: str | None, fmt: str) -> None:
    """Write the chain head (chain position, audit_id, hash, time) out of the database.

    'vcfctl audit verify --anchor' later checks that the chain still holds it.

    \b
    Example, daily from cron, to a bucket the database cannot write:
      vcfctl audit anchor -o s3://audit-anchors/genomics.json
    """
    current = head(app.connect())
    where = write_anchor(current, target) if target else None
    if fmt == "json":
        out: dict[str, Any] = json.loads(current.to_json())
        out["written_to"] = where
        emit_json(out)
    elif where is None:
        click.echo(current.to_json(), nl=False)
    else:
        click.echo(
            f"anchored chain position {current.chain_no} (audit_id {current.audit_id}, "
            f"hash {current.hash}) to {where}"
        )
