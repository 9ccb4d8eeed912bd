"""vcfctl stage / ingest / load: the path of a VCF file into the database."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import click

from ..errors import VcfPgError
from ..ingest import ingest_session
from ..sessions import purge_session
from ..staging import stage_file
from .common import AppContext, byte_progress, emit_json, emit_table, format_option, pass_app

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
_TABLE_COLUMNS = [
    "file",
    "session_id",
    "records",
    "variants",
    "calls",
    "samples",
    "state",
    "warnings",
]


def _report(results: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        emit_json(results)
    else:
        rows = [{**r, "warnings": len(r.get("warnings") or [])} for r in results]
        emit_table(rows, _TABLE_COLUMNS)


def _failure(file: str, session_id: uuid.UUID | None, error: VcfPgError) -> dict[str, Any]:
    click.echo(f"vcfctl: error: {error.message}", err=True)
    return {
        "session_id": str(session_id) if session_id else None,
        "file": file,
        "records": None,
        "variants": None,
        "calls": None,
        "samples": None,
        "warnings": [],
        "state": "failed" if session_id else "rejected",
        "error": error.message,
        "exit_code": error.exit_code,
    }


def _finish(results: list[dict[str, Any]], fmt: str) -> None:
    _report(results, fmt)
    codes = [r["exit_code"] for r in results if r.get("exit_code")]
    if codes:
        raise SystemExit(max(codes))


@click.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@format_option
@pass_app
def stage(app: AppContext, files: tuple[Path, ...], fmt: str) -> None:
    """Stage VCF files (.vcf, .vcf.gz, bgzip): encrypted raw lines into vcf.staged_blocks.

    Prints each session id; ingest it with 'vcfctl ingest SESSION_ID'.
    A file that is not loadable is rejected whole: nothing of it is staged.
    """
    conn = app.connect()
    provider = app.provider()
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            with byte_progress(f"staging {path.name}") as progress:
                staged = stage_file(conn, provider, path, progress)
        except VcfPgError as exc:
            results.append(_failure(str(path), None, exc))
            continue
        results.append(
            {
                "session_id": str(staged.session_id),
                "file": str(path),
                "records": staged.records,
                "blocks": staged.blocks,
                "samples": staged.samples,
                "warnings": staged.warnings,
                "state": "staged",
            }
        )
    if fmt == "table" and all(not r.get("exit_code") for r in results):
        for r in results:
            click.echo(r["session_id"])
        return
    _finish(results, fmt)


@click.command()
@click.argument("session_ids", nargs=-1, required=True, type=click.UUID)
@format_option
@pass_app
def ingest(app: AppContext, session_ids: tuple[uuid.UUID, ...], fmt: str) -> None:
    """Ingest staged sessions: SELECT vcf_ingest(...) with the keys unlocked."""
    conn = app.connect()
    provider = app.provider()
    results: list[dict[str, Any]] = []
    for session_id in session_ids:
        try:
            done = ingest_session(conn, provider, session_id)
        except VcfPgError as exc:
            results.append(_failure(str(session_id), session_id, exc))
            continue
        results.append(
            {
                "session_id": str(done.session_id),
                "file": None,
                "records": done.records,
                "variants": done.variants,
                "calls": done.calls,
                "samples": done.samples,
                "warnings": [],
                "state": done.state,
            }
        )
    _finish(results, fmt)


@click.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@format_option
@pass_app
def load(app: AppContext, files: tuple[Path, ...], fmt: str) -> None:
    """Load VCF files: stage, then ingest inside the database, one file at a time.

    Each file is all or nothing. With --format json, prints a list with, per
    file: session_id, file, records (data lines), variants (per-ALT rows),
    calls, samples, warnings, state. Exit status is non-zero if any file failed.
    """
    conn = app.connect()
    provider = app.provider()
    results: list[dict[str, Any]] = []
    for path in files:
        session_id: uuid.UUID | None = None
        try:
            with byte_progress(f"staging {path.name}") as progress:
                staged = stage_file(conn, provider, path, progress)
            session_id = staged.session_id
            done = ingest_session(conn, provider, session_id, label=str(path))
        except VcfPgError as exc:
            if session_id is not None:
                # the load error matters more; 'vcfctl sessions purge' can retry
                with contextlib.suppress(VcfPgError):
                    purge_session(conn, session_id)
            results.append(_failure(str(path), session_id, exc))
            continue
        results.append(
            {
                "session_id": str(done.session_id),
                "file": str(path),
                "records": done.records,
                "variants": done.variants,
                "calls": done.calls,
                "samples": done.samples,
                "warnings": staged.warnings,
                "state": done.state,
            }
        )
    _finish(results, fmt)
