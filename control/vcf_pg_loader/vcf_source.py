"""Reading a VCF file as raw lines packed into blocks, with file-level checks.

The header is checked by htslib (cyvcf2) before anything is staged; data lines
are not parsed here (the database does that), only checked for what makes the
whole file unloadable: the column count, POS, encoding. Memory stays flat in
file size: one block (about 1 MiB, or one line more) at a time.

Hostile input is bounded by Limits (docs/architecture.md, "Limits"): a line,
the header, the decompressed content, the sample count and the compression
ratio. Lines are read with readline(limit + 1), so a line over the limit is
never held whole, and the header is checked that way before htslib reads it.
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
MIB = 1 << 20
GIB = 1 << 30
# What the database enforces too (vcf._ingest_block): alt_no is a smallint,
# and CHROM is in the btree of vcf.variants (a key must fit in a third of a page).
MAX_ALT_ALLELES = 32767
MAX_CHROM_BYTES = 1000
# The ratio guard starts after this much decompressed content: small files
# of repetitive text compress far beyond any sensible ratio and are harmless.
RATIO_AFTER_BYTES = 64 * MIB
_GZIP_MAGIC = b"\x1f\x8b"
_FIXED_COLUMNS = [b"#CHROM", b"POS", b"ID", b"REF", b"ALT", b"QUAL", b"FILTER", b"INFO"]
_MAX_POS = 2**31 - 1


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file; each has a vcfctl flag (and VCF_PG_LOADER_* variable).

    max_line_bytes bounds every line and the header as a whole, so vcfctl
    and the backend hold at most about that much of the file at once.
    """

    max_line_bytes: int = 64 * MIB
    max_decompressed_bytes: int = 64 * GIB
    max_samples: int = 500_000
    max_ratio: float = 1000.0


DEFAULT_LIMITS = Limits()


def format_bytes(n: int) -> str:
    """A byte count as written in a limit's message: exact, with a short form."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


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


def check_header(path: Path, limits: Limits = DEFAULT_LIMITS) -> int:
    """Check the header within limits, then let htslib read it; return the number of samples.

    htslib reads a header whole: the bounded scan comes first so that a
    header line of gigabytes (a one-line gzip bomb) or too many samples is
    refused before htslib allocates anything for it.
    """
    import cyvcf2

    with VcfSource(path, limits=limits) as source:
        source.scan_header()

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

    def __init__(
        self,
        path: Path,
        block_bytes: int = BLOCK_TARGET_BYTES,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.limits = limits
        self.content_bytes = 0
        self._compressed = False
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
            self._compressed = True
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
        """The file's lines as read (newline kept), each within the limits."""
        assert self._stream is not None and self._raw is not None
        limits = self.limits
        cap = limits.max_line_bytes
        readline = self._stream.readline
        line_no = 0
        try:
            while line := readline(cap + 1):
                line_no += 1
                self.content_bytes += len(line)
                if len(line) > cap and not line.endswith(b"\n"):
                    raise self._fail(
                        line_no,
                        f"longer than the limit of {format_bytes(cap)}"
                        " (raise it with --max-line-bytes)",
                    )
                if self.content_bytes > limits.max_decompressed_bytes:
                    raise self._fail(
                        line_no,
                        "the content (decompressed) is larger than the limit of"
                        f" {format_bytes(limits.max_decompressed_bytes)}"
                        " (raise it with --max-decompressed-bytes)",
                    )
                if (
                    self._compressed
                    and self.content_bytes > RATIO_AFTER_BYTES
                    and self.content_bytes > limits.max_ratio * max(1, self._raw.tell())
                ):
                    raise self._fail(
                        line_no,
                        f"decompresses more than {limits.max_ratio:g} times its compressed"
                        " size: a compression bomb? (raise the limit with --max-ratio)",
                    )
                self._sha.update(line)
                yield line
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise BadInputError(
                f"{self.path}: line {line_no + 1}: truncated or corrupt compressed data ({exc})"
            ) from None

    def _check_header_size(self, line_no: int, header_bytes: int) -> None:
        if header_bytes > self.limits.max_line_bytes:
            raise self._fail(
                line_no,
                f"the header is longer than the limit of {format_bytes(self.limits.max_line_bytes)}"
                " (raise it with --max-line-bytes)",
            )

    def scan_header(self) -> None:
        """Read the header lines, within the limits, up to the #CHROM line; check it.

        Checks only what the limits bound (sizes, the sample count) and reads
        nothing past the #CHROM line or the first data line; iter_blocks
        checks all of it again, with the rest.
        """
        header_bytes = 0
        for line_no, raw in enumerate(self._lines(), start=1):
            if not raw.startswith(b"#"):
                return
            header_bytes += len(raw)
            self._check_header_size(line_no, header_bytes)
            if raw.startswith(b"#CHROM"):
                self._check_sample_count(line_no, raw)
                return

    def iter_blocks(self) -> Iterator[Block]:
        """Yield blocks of whole lines, header first, in file order; raise on file faults."""
        columns = 0
        crlf = _Occurrences("crlf", "ends in CRLF; staged with LF")
        blank = _Occurrences("blank_lines", "blank line ignored")
        pending: list[bytes] = []
        pending_bytes = 0
        header_bytes = 0
        line_no = 0
        # raw is staged as read when it ends in LF (no copy of a long line)
        for raw in self._lines():
            line_no += 1
            if raw.endswith(b"\r\n"):
                raw = raw[:-2] + b"\n"
                crlf.add(line_no)
            elif not raw.endswith(b"\n"):  # the last line, without its newline
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                    crlf.add(line_no)
                raw += b"\n"
            if line_no == 1 and not raw.startswith(b"##fileformat=VCF"):
                raise self._fail(1, "not a VCF file (the first line is not ##fileformat=VCF...)")
            if b"\x00" in raw:
                raise self._fail(line_no, "contains a NUL byte")
            if raw == b"\n":
                blank.add(line_no)  # staged as is, so that line numbers stay the file's
            elif raw.startswith(b"#"):
                if columns:
                    raise self._fail(line_no, "header line after the #CHROM line")
                header_bytes += len(raw)
                self._check_header_size(line_no, header_bytes)
                if raw.startswith(b"#CHROM"):
                    columns = self._check_columns_line(line_no, raw[:-1])
                self.header_lines += 1
            else:
                if not columns:
                    raise self._fail(line_no, "data line before the #CHROM header line")
                self._check_data_line(line_no, raw, columns)
                self.records += 1
            pending.append(raw)
            pending_bytes += len(raw)
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
            if not payload.isascii():  # decoding builds a copy; ASCII needs none
                payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = last_line_no - payload[exc.start :].count(b"\n") + 1
            raise self._fail(bad_line, "is not valid UTF-8") from None
        block = Block(self.blocks, len(lines), payload)
        self.blocks += 1
        self.lines += len(lines)
        return block

    def _check_sample_count(self, line_no: int, line: bytes) -> None:
        samples = max(0, line.count(b"\t") - 8)
        if samples > self.limits.max_samples:
            raise self._fail(
                line_no,
                f"{samples} samples, more than the limit of {self.limits.max_samples}"
                " (raise it with --max-samples)",
            )

    def _check_columns_line(self, line_no: int, line: bytes) -> int:
        self._check_sample_count(line_no, line)
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
        """Column count, POS, and what the database's tables cannot hold; line ends in LF."""
        found = line.count(b"\t") + 1
        if found != columns:
            raise self._fail(line_no, f"{found} columns, the #CHROM line has {columns}")
        # field boundaries by find: split() would copy the (possibly huge) rest of the line
        t1 = line.find(b"\t")
        t2 = line.find(b"\t", t1 + 1)
        if t1 > MAX_CHROM_BYTES:
            raise self._fail(line_no, f"CHROM is longer than {MAX_CHROM_BYTES} bytes")
        pos = line[t1 + 1 : t2]
        if not pos.isdigit() or len(pos) > 10 or int(pos) > _MAX_POS:
            raise self._fail(line_no, "POS is not a number between 0 and 2147483647")
        t4 = line.find(b"\t", line.find(b"\t", t2 + 1) + 1)
        t5 = line.find(b"\t", t4 + 1)
        if line.count(b",", t4 + 1, t5 if t5 >= 0 else len(line) - 1) >= MAX_ALT_ALLELES:
            raise self._fail(line_no, f"more than {MAX_ALT_ALLELES} ALT alleles")
