"""vcfctl stage / ingest / load: the path of a VCF file into the database."""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import click
import psycopg

from ..errors import AlreadyLoaded, VcfPgError
from ..ingest import IngestResult, ingest_session
from ..keys.provider import KeyProvider
from ..sessions import purge_session, session_warnings
from ..staging import stage_file
from ..vcf_source import DEFAULT_LIMITS, Limits, format_bytes
from .common import (
    AppContext,
    FileProgress,
    emit_json,
    emit_table,
    file_progress,
    file_progress_group,
    format_option,
    pass_app,
)

F = TypeVar("F", bound=Callable[..., Any])
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


def engine_options(func: F) -> F:
    """--engine and --strict, shared by ingest and load."""
    func = click.option(
        "--strict",
        is_flag=True,
        help="Reject the whole file at its first record-level deviation instead of "
        "loading it with warnings.",
    )(func)
    return click.option(
        "--engine",
        type=click.Choice(["auto", "plpython", "plpgsql"]),
        default="auto",
        show_default=True,
        help="Block parser in the database: plpython (needs vcf_pg_loader_plpython), "
        "plpgsql (portable, e.g. AWS RDS), or auto (plpython when installed).",
    )(func)


def reload_option(func: F) -> F:
    return click.option(
        "--reload",
        is_flag=True,
        help="Content already loaded (same sha256) replaces the earlier session's "
        "records and calls, in one transaction, instead of being skipped.",
    )(func)


class ByteSize(click.ParamType[int, Any]):
    """A byte count: 67108864, 64MiB, 64M, 1GiB (binary units)."""

    name = "bytes"
    _UNITS: ClassVar[dict[str, int]] = {
        "": 1,
        "K": 1 << 10,
        "M": 1 << 20,
        "G": 1 << 30,
        "T": 1 << 40,
    }

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = re.fullmatch(r"\s*([0-9]+)\s*([KMGT]?)(?:i?B)?\s*", str(value), re.IGNORECASE)
        if not m or int(m[1]) < 1:
            self.fail(f"{value!r} is not a positive byte count (e.g. 67108864, 64MiB, 1GiB)")
        return int(m[1]) * self._UNITS[m[2].upper()]


def limit_options(func: F) -> F:
    """--max-line-bytes, --max-decompressed-bytes, --max-samples, --max-ratio -> limits."""
    d = DEFAULT_LIMITS
    options = [
        click.option(
            "--max-line-bytes",
            type=ByteSize(),
            default=d.max_line_bytes,
            envvar="VCF_PG_LOADER_MAX_LINE_BYTES",
            help=f"Longest line, and largest header, accepted [default: "
            f"{format_bytes(d.max_line_bytes)}; env VCF_PG_LOADER_MAX_LINE_BYTES].",
        ),
        click.option(
            "--max-decompressed-bytes",
            type=ByteSize(),
            default=d.max_decompressed_bytes,
            envvar="VCF_PG_LOADER_MAX_DECOMPRESSED_BYTES",
            help=f"Largest content after decompression [default: "
            f"{format_bytes(d.max_decompressed_bytes)}; env VCF_PG_LOADER_MAX_DECOMPRESSED_BYTES].",
        ),
        click.option(
            "--max-samples",
            type=click.IntRange(min=0),
            default=d.max_samples,
            envvar="VCF_PG_LOADER_MAX_SAMPLES",
            help=f"Most sample columns accepted [default: {d.max_samples}; "
            "env VCF_PG_LOADER_MAX_SAMPLES].",
        ),
        click.option(
            "--max-ratio",
            type=click.FloatRange(min=1),
            default=d.max_ratio,
            envvar="VCF_PG_LOADER_MAX_RATIO",
            help=f"Largest decompressed/compressed size ratio once past 64 MiB, against "
            f"compression bombs [default: {d.max_ratio:g}; env VCF_PG_LOADER_MAX_RATIO].",
        ),
    ]

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        max_line_bytes: int,
        max_decompressed_bytes: int,
        max_samples: int,
        max_ratio: float,
        **kwargs: Any,
    ) -> Any:
        limits = Limits(max_line_bytes, max_decompressed_bytes, max_samples, max_ratio)
        return func(*args, limits=limits, **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)


def _report(results: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        emit_json(results)
    else:
        rows = [
            {**r, "warnings": sum(int(w.get("count", 1)) for w in r.get("warnings") or [])}
            for r in results
        ]
        emit_table(rows, _TABLE_COLUMNS)


def _entry(file: str | None, session_id: Any, state: str, **counts: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "session_id": str(session_id) if session_id else None,
        "file": file,
        "records": None,
        "variants": None,
        "calls": None,
        "samples": None,
        "warnings": [],
        "state": state,
    }
    entry.update(counts)
    return entry


def _done(file: str | None, done: IngestResult, warnings: list[dict[str, Any]]) -> dict[str, Any]:
    return _entry(
        file,
        done.session_id,
        done.state,
        records=done.records,
        variants=done.variants,
        calls=done.calls,
        samples=done.samples,
        warnings=warnings,
    )


def _already(file: str | None, error: AlreadyLoaded) -> dict[str, Any]:
    click.echo(f"vcfctl: {error.message} (nothing written; --reload replaces it)", err=True)
    return _entry(file, error.session_id, "already_loaded")


def _failure(file: str, session_id: uuid.UUID | None, error: VcfPgError) -> dict[str, Any]:
    click.echo(f"vcfctl: error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    entry = _entry(file, session_id, "failed" if session_id else "rejected")
    entry.update(error=error.message, exit_code=error.exit_code)
    return entry


def _finish(results: list[dict[str, Any]], fmt: str) -> None:
    _report(results, fmt)
    codes = [r["exit_code"] for r in results if r.get("exit_code")]
    if codes:
        raise SystemExit(max(codes))


@click.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@reload_option
@limit_options
@format_option
@pass_app
def stage(app: AppContext, files: tuple[Path, ...], reload: bool, limits: Limits, fmt: str) -> None:
    """Stage VCF files (.vcf, .vcf.gz, bgzip): encrypted raw lines into vcf.staged_blocks.

    Prints each session id; ingest it with 'vcfctl ingest SESSION_ID'.
    A file that is not loadable, or beyond a --max-* limit, is rejected
    whole (exit 3): nothing of it is staged.

    \b
    Example, a cohort larger than the default limits:
      vcfctl stage --max-samples 5000 cohort.vcf.gz
    """
    conn = app.connect(announce=True)
    provider = app.provider()
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            with file_progress(path.name) as progress:
                staged = stage_file(
                    conn,
                    provider,
                    path,
                    progress.staging if progress else None,
                    reload=reload,
                    limits=limits,
                )
        except AlreadyLoaded as exc:
            results.append(_already(str(path), exc))
            continue
        except VcfPgError as exc:
            results.append(_failure(str(path), None, exc))
            continue
        results.append(
            _entry(
                str(path),
                staged.session_id,
                "staged",
                records=staged.records,
                samples=staged.samples,
                blocks=staged.blocks,
                warnings=staged.warnings,
            )
        )
    if fmt == "table" and all(r["state"] == "staged" for r in results):
        for r in results:
            click.echo(r["session_id"])
        return
    _finish(results, fmt)


@click.command()
@click.argument("session_ids", nargs=-1, required=True, type=click.UUID)
@engine_options
@format_option
@pass_app
def ingest(
    app: AppContext, session_ids: tuple[uuid.UUID, ...], engine: str, strict: bool, fmt: str
) -> None:
    """Ingest staged sessions: SELECT vcf_ingest(...) with the keys unlocked.

    \b
    Example, a session staged earlier, with the portable engine:
      vcfctl ingest --engine plpgsql 3f2b9c1e-7a4d-4e2b-9c1f-5d6e7f8a9b0c
    """
    conn = app.connect(announce=True)
    provider = app.provider()
    results: list[dict[str, Any]] = []
    for session_id in session_ids:
        try:
            with file_progress(str(session_id)) as progress:
                done = ingest_session(
                    conn,
                    provider,
                    session_id,
                    engine=engine,
                    strict=strict,
                    progress=progress.ingesting if progress else None,
                )
        except AlreadyLoaded as exc:
            results.append(_already(None, exc))
            continue
        except VcfPgError as exc:
            results.append(_failure(str(session_id), session_id, exc))
            continue
        results.append(_done(None, done, session_warnings(conn, session_id)))
    _finish(results, fmt)


def _load_one(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    path: Path,
    progress: FileProgress | None,
    *,
    engine: str,
    strict: bool,
    reload: bool,
    limits: Limits,
) -> dict[str, Any]:
    """Stage then ingest one file; its result entry, whatever happened."""
    session_id: uuid.UUID | None = None
    try:
        staged = stage_file(
            conn,
            provider,
            path,
            progress.staging if progress else None,
            reload=reload,
            limits=limits,
        )
        session_id = staged.session_id
        done = ingest_session(
            conn,
            provider,
            session_id,
            label=str(path),
            engine=engine,
            strict=strict,
            progress=progress.ingesting if progress else None,
        )
    except AlreadyLoaded as exc:
        return _already(str(path), exc)
    except VcfPgError as exc:
        if session_id is not None:
            # the load error matters more; 'vcfctl sessions purge' can retry
            with contextlib.suppress(VcfPgError):
                purge_session(conn, session_id)
        return _failure(str(path), session_id, exc)
    return _done(str(path), done, session_warnings(conn, done.session_id))


def _load_parallel(
    app: AppContext, files: tuple[Path, ...], jobs: int, **options: Any
) -> list[dict[str, Any]]:
    """Load files on `jobs` connections at once, results in the order given.

    Each connection sets vcf_pg_loader.ingest_concurrent: the variants and
    samples an ingest shares with other files are committed apart, block by
    block, so the ingests do not wait on each other (docs/architecture.md,
    "Parallel loads")."""
    provider = app.provider()
    conns = [app.connect(announce=True) for _ in range(min(jobs, len(files)))]
    free: queue.SimpleQueue[psycopg.Connection[Any]] = queue.SimpleQueue()
    for conn in conns:
        conn.execute("SET vcf_pg_loader.ingest_concurrent = on")
        free.put(conn)
    try:
        with file_progress_group() as add_bar, ThreadPoolExecutor(len(conns)) as pool:

            def run(path: Path) -> dict[str, Any]:
                conn = free.get()
                try:
                    progress = add_bar(path.name)
                    return _load_one(conn, provider, path, progress, **options)
                finally:
                    free.put(conn)

            return list(pool.map(run, files))
    finally:
        for conn in conns:
            conn.close()


@click.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@engine_options
@reload_option
@limit_options
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Files loaded at once, each on its own connection. Above 1, the variants "
    "and samples files share are committed apart, so no load waits on another's "
    "(a failed file can leave some, used by nothing).",
)
@format_option
@pass_app
def load(
    app: AppContext,
    files: tuple[Path, ...],
    engine: str,
    strict: bool,
    reload: bool,
    limits: Limits,
    jobs: int,
    fmt: str,
) -> None:
    """Load VCF files: stage, then ingest inside the database, one file at a time
    (--jobs N: N at a time).

    Each file is all or nothing. With --format json, prints a list with, per
    file in the order given: session_id, file, records (data lines), variants
    (per-ALT rows), calls, samples, warnings, state. Content already loaded,
    also by a load of the same content running at the same moment, is
    reported as already_loaded (session_id: the session that holds it) and
    not written again (unless --reload); a staged copy that lost the race is
    purged. Exit status is non-zero if any file failed (3 for a file that is
    not loadable or is beyond a --max-* limit; docs/architecture.md, "Limits").

    \b
    Example, one file per chromosome, two at a time:
      vcfctl load --jobs 2 cohort.chr1.vcf.gz cohort.chr2.vcf.gz cohort.chr3.vcf.gz
    """
    options: dict[str, Any] = dict(engine=engine, strict=strict, reload=reload, limits=limits)
    if jobs > 1 and len(files) > 1:
        results = _load_parallel(app, files, jobs, **options)
    else:
        conn = app.connect(announce=True)
        provider = app.provider()
        results = []
        for path in files:
            with file_progress(path.name) as progress:
                results.append(_load_one(conn, provider, path, progress, **options))
    _finish(results, fmt)
