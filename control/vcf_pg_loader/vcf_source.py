"""Reading a VCF file as raw lines packed into blocks, with file-level checks.

The header is checked by htslib (cyvcf2) before anything is staged; data lines
are not parsed here (the database does that), only checked for what makes the
whole file unloadable: the column count, POS, encoding. Memory stays flat in
file size: one block (about 1 MiB) at a time.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from .errors import BadInputError

BLOCK_TARGET_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_FIXED_COLUMNS = [b"#CHROM", b"POS", b"ID", b"REF", b"ALT", b"QUAL", b"FILTER", b"INFO"]
_MAX_POS = 2**31 - 1


@dataclass(frozen=True)
class Block:
    block_no: int
    line_count: int
    payload: bytes = field(repr=False)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence htslib's own stderr messages: they can quote sample names."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_header(path: Path) -> int:
    """Let htslib read the header; return the number of samples."""
    import cyvcf2

    try:
        with _quiet_stderr():
            vcf = cyvcf2.VCF(str(path), lazy=True)
            try:
                return len(vcf.samples)
            finally:
                vcf.close()
    except (OSError, Exception) as exc:  # htslib failures surface as various types
        raise BadInputError(
            f"{path}: not a readable VCF (htslib could not read its header)"
        ) from exc


class _Occurrences:
    """Counts a deviation and keeps its first five line numbers (memory stays flat)."""

    def __init__(self, code: str, what: str) -> None:
        self.code, self.what = code, what
        self.count = 0
        self.first: list[int] = []

    def add(self, line_no: int) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(line_no)

    def as_warning(self) -> dict[str, Any]:
        """A warning as the session stores it: code, count, first examples."""
        return {
            "code": self.code,
            "count": self.count,
            "examples": [f"line {n}: {self.what}" for n in self.first],
        }


class VcfSource:
    """Context manager and block iterator over one VCF file (plain, gzip or bgzip)."""

    def __init__(self, path: Path, block_bytes: int = BLOCK_TARGET_BYTES) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.size = 0
        self.lines = 0
        self.header_lines = 0
        self.records = 0
        self.blocks = 0
        self.samples = 0
        self.warnings: list[dict[str, Any]] = []
        self._sha = hashlib.sha256()
        self._raw: IO[bytes] | None = None
        self._stream: IO[bytes] | None = None

    def __enter__(self) -> VcfSource:
        try:
            self._raw = open(self.path, "rb")
            self.size = os.fstat(self._raw.fileno()).st_size
            magic = self._raw.read(2)
            self._raw.seek(0)
        except OSError as exc:
            raise BadInputError(f"{self.path}: cannot read: {exc.strerror}") from None
        if magic == _GZIP_MAGIC:
            self._stream = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
        else:
            self._stream = self._raw
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None and self._stream is not self._raw:
            self._stream.close()
        if self._raw is not None:
            self._raw.close()

    @property
    def bytes_read(self) -> int:
        """Position in the (possibly compressed) file, for progress."""
        return self._raw.tell() if self._raw is not None and not self._raw.closed else self.size

    @property
    def content_sha256(self) -> bytes:
        return self._sha.digest()

    def _fail(self, line_no: int, reason: str) -> BadInputError:
        return BadInputError(f"{self.path}: line {line_no}: {reason}")

    def _lines(self) -> Iterator[bytes]:
        assert self._stream is not None
        line_no = 0
        try:
            for line in self._stream:
                line_no += 1
                self._sha.update(line)
                yield line
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise BadInputError(
                f"{self.path}: line {line_no + 1}: truncated or corrupt compressed data ({exc})"
            ) from None

    def iter_blocks(self) -> Iterator[Block]:
        """Yield blocks of whole lines, header first, in file order; raise on file faults."""
        columns = 0
        crlf = _Occurrences("crlf", "ends in CRLF; staged with LF")
        blank = _Occurrences("blank_lines", "blank line ignored")
        pending: list[bytes] = []
        pending_bytes = 0
        line_no = 0
        for raw in self._lines():
            line_no += 1
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line.endswith(b"\r"):
                line = line[:-1]
                crlf.add(line_no)
            if line_no == 1 and not line.startswith(b"##fileformat=VCF"):
                raise self._fail(1, "not a VCF file (the first line is not ##fileformat=VCF...)")
            if b"\x00" in line:
                raise self._fail(line_no, "contains a NUL byte")
            if not line:
                blank.add(line_no)  # staged as is, so that line numbers stay the file's
            elif line.startswith(b"#"):
                if columns:
                    raise self._fail(line_no, "header line after the #CHROM line")
                if line.startswith(b"#CHROM"):
                    columns = self._check_columns_line(line_no, line)
                self.header_lines += 1
            else:
                if not columns:
                    raise self._fail(line_no, "data line before the #CHROM header line")
                self._check_data_line(line_no, line, columns)
                self.records += 1
            pending.append(line + b"\n")
            pending_bytes += len(line) + 1
            if pending_bytes >= self.block_bytes:
                yield self._block(pending, line_no)
                pending, pending_bytes = [], 0
        if line_no == 0:
            raise BadInputError(f"{self.path}: the file is empty")
        if not columns:
            raise self._fail(line_no, "the header has no #CHROM line")
        if pending:
            yield self._block(pending, line_no)
        self.warnings += [w.as_warning() for w in (crlf, blank) if w.count]

    def _block(self, lines: list[bytes], last_line_no: int) -> Block:
        payload = b"".join(lines)
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = last_line_no - payload[exc.start :].count(b"\n") + 1
            raise self._fail(bad_line, "is not valid UTF-8") from None
        block = Block(self.blocks, len(lines), payload)
        self.blocks += 1
        self.lines += len(lines)
        return block

    def _check_columns_line(self, line_no: int, line: bytes) -> int:
        names = line.split(b"\t")
        if names[:8] != _FIXED_COLUMNS or (len(names) > 8 and names[8] != b"FORMAT"):
            raise self._fail(
                line_no,
                "the #CHROM line must name CHROM POS ID REF ALT QUAL FILTER INFO "
                "[FORMAT samples...], separated by TABs",
            )
        samples = names[9:]
        if len(set(samples)) != len(samples):
            seen: dict[bytes, int] = {}
            for i, name in enumerate(samples, start=10):
                if name in seen:
                    raise self._fail(
                        line_no, f"sample columns {seen[name]} and {i} have the same name"
                    )
                seen[name] = i
        self.samples = len(samples)
        return len(names)

    def _check_data_line(self, line_no: int, line: bytes, columns: int) -> None:
        found = line.count(b"\t") + 1
        if found != columns:
            raise self._fail(line_no, f"{found} columns, the #CHROM line has {columns}")
        pos = line.split(b"\t", 2)[1]
        if not pos.isdigit() or len(pos) > 10 or int(pos) > _MAX_POS:
            raise self._fail(line_no, "POS is not a number between 0 and 2147483647")
