"""Something done over and over on a thread while a measured step runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def repeating(action: Callable[[], object], pause_s: float) -> Iterator[list[int]]:
    """Run action, then wait pause_s, until the block ends, and once more at its end.

    Yields a one-element list: how many times action has run so far.
    """
    done = threading.Event()
    count = [0]

    def loop() -> None:
        while not done.is_set():
            action()
            count[0] += 1
            done.wait(pause_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield count
    finally:
        done.set()
        thread.join()
