"""Peak memory of the two processes a load runs in: vcfctl and the server backend.

Both are read from /proc while the step runs, by a thread that samples
every 10 ms and keeps the largest value. vcfctl runs as a child process;
its peak is VmHWM (the kernel's own high-water mark of its resident set
since exec). Not getrusage's ru_maxrss for the child: Linux counts in it the
parent's resident set at fork, before exec, so a child forked by a large
benchmark process reported the benchmark's size. A backend's peak private
memory is not kept by Linux (VmHWM also counts the shared buffers it
touched), so for a backend the sampled value is RssAnon. Reading a backend's
/proc entries needs root or the server's own user; without it the peak is
None.
"""

from __future__ import annotations

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
    """Run a child to its exit, timed from start to exit, sampling its VmHWM."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        peak = Peak()
        with repeating(lambda: peak.see(_status_kib(child.pid, "VmHWM")), _SAMPLE_S):
            returncode = child.wait()
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Child(
            seconds,
            peak.mib or 0.0,
            returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def _status_kib(pid: int, field: str) -> int | None:
    """A kB field of /proc/PID/status, None when unreadable (gone, or not ours)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


class Peak:
    """The largest value seen while sampling, in KiB; None if nothing was readable."""

    def __init__(self) -> None:
        self.kib: int | None = None

    @property
    def mib(self) -> float | None:
        return None if self.kib is None else self.kib / 1024

    def see(self, kib: int | None) -> None:
        if kib is not None and (self.kib is None or kib > self.kib):
            self.kib = kib


@contextmanager
def backend_peak(pid: int) -> Iterator[Peak]:
    """Sample the backend's private memory (RssAnon) until the block ends."""
    peak = Peak()
    with repeating(lambda: peak.see(_status_kib(pid, "RssAnon")), _SAMPLE_S):
        yield peak
    peak.see(_status_kib(pid, "RssAnon"))
