"""Peak memory of the two processes a load runs in: vcfctl and the server backend.

vcfctl runs as a child process, so its peak is that child's maximum
resident set (wait4). A backend's peak private memory is not kept by
Linux (VmHWM counts the shared buffers it touched too), so a thread reads
the backend's RssAnon from /proc every few milliseconds while the ingest
runs and keeps the largest value. That needs the right to read the server's
/proc entries (root, or the server's own user); without it the peak is None.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .background import repeating

_SAMPLE_S = 0.01


@dataclass(frozen=True)
class Child:
    """A finished child process: its wall time, its own peak RSS and its output."""

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_child(argv: list[str], env: dict[str, str]) -> Child:
    """Run a child to its exit, timed from start to exit; its peak RSS from wait4
    (that child's own, not the maximum over every child so far)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            seconds,
            usage.ru_maxrss / 1024,  # Linux: KiB
            child.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def _rss_anon_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return None


class BackendPeak:
    """The largest RssAnon seen in one backend while sampling; None if unreadable."""

    def __init__(self) -> None:
        self.kib: int | None = None

    @property
    def mib(self) -> float | None:
        return None if self.kib is None else self.kib / 1024

    def see(self, kib: int | None) -> None:
        if kib is not None and (self.kib is None or kib > self.kib):
            self.kib = kib


@contextmanager
def backend_peak(pid: int) -> Iterator[BackendPeak]:
    """Sample the backend's private memory until the block ends."""
    peak = BackendPeak()
    with repeating(lambda: peak.see(_rss_anon_kib(pid)), _SAMPLE_S):
        yield peak
    peak.see(_rss_anon_kib(pid))
