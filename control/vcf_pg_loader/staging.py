"""Stage a VCF file: encrypted blocks of its raw lines into vcf.staged_blocks.

One transaction: a file that turns out to be bad halfway, or a stage that is
interrupted, leaves nothing behind. The staging key is a fresh data key from
the provider; only its wrapped form reaches the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .crypto import block_context, manifest_context, seal, source_context
from .errors import AlreadyLoaded, DatabaseError
from .keys.provider import KeyProvider
from .keys.registry import current_database, new_data_key
from .vcf_source import BLOCK_TARGET_BYTES, DEFAULT_LIMITS, Limits, VcfSource, check_header

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class StageResult:
    session_id: uuid.UUID
    file: str
    lines: int
    records: int
    blocks: int
    samples: int
    warnings: list[dict[str, Any]] = field(default_factory=list)


def stage_file(
    conn: psycopg.Connection[Any],
    provider: KeyProvider,
    path: Path,
    progress: ProgressCallback | None = None,
    block_bytes: int = BLOCK_TARGET_BYTES,
    *,
    reload: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> StageResult:
    """Stage one file; raise BadInputError (nothing written) for a file-level fault.

    Content that is already ingested raises AlreadyLoaded (nothing written)
    unless reload, which makes the new session replace the old one's rows
    when it is ingested. A file beyond limits (line, header, decompressed
    size, samples, compression ratio) is a BadInputError naming its line.
    """
    check_header(path, limits)
    session_id = uuid.uuid4()
    key, wrapped = new_data_key(
        provider, "staging", {"session_id": str(session_id)}, current_database(conn)
    )
    source_enc = seal(key, str(path.resolve()).encode("utf-8"), source_context(session_id))
    try:
        with conn.transaction(), VcfSource(path, block_bytes, limits) as source:
            conn.execute(
                "SELECT vcf.stage_begin(%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id,
                    key.key_id,
                    wrapped.provider,
                    wrapped.kek_id,
                    wrapped.wrapped,
                    Jsonb(wrapped.context),
                    key.check_value,
                    source_enc,
                ),
            )
            with conn.cursor().copy(
                "COPY vcf.staged_blocks (session_id, block_no, line_count, ciphertext)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["uuid", "int4", "int4", "bytea"])
                for block in source.iter_blocks():
                    copy.write_row(
                        (
                            session_id,
                            block.block_no,
                            block.line_count,
                            seal(
                                key,
                                block.payload,
                                block_context(session_id, block.block_no, block.line_count),
                            ),
                        )
                    )
                    if progress is not None:
                        progress(source.bytes_read, source.size)
            manifest = seal(
                key,
                b"",
                manifest_context(session_id, source.blocks, source.lines, source.content_sha256),
            )
            conn.execute(
                "SELECT vcf.stage_finish(%s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id,
                    source.blocks,
                    source.lines,
                    source.content_sha256,
                    manifest,
                    Jsonb(source.warnings),
                    reload,
                ),
            )
    except psycopg.Error as exc:
        if exc.diag.sqlstate == "VP050":
            raise AlreadyLoaded(
                f"{path}: {exc.diag.message_primary}", str(exc.diag.message_detail)
            ) from None
        raise DatabaseError(f"{path}: staging failed: {exc.diag.message_primary or exc}") from None
    return StageResult(
        session_id=session_id,
        file=str(path),
        lines=source.lines,
        records=source.records,
        blocks=source.blocks,
        samples=source.samples,
        warnings=list(source.warnings),
    )
