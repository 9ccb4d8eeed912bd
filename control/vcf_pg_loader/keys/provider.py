"""The interface every key provider implements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: only its wrapped form, and what is needed to unwrap it."""

    provider: str
    kek_id: str
    wrapped: bytes = field(repr=False)
    context: dict[str, str]


class KeyProvider(Protocol):
    """Generates 64-byte data keys wrapped by a key encryption key it never reveals."""

    name: str

    @property
    def kek_id(self) -> str: ...

    def generate(self, context: dict[str, str]) -> tuple[bytes, WrappedKey]:
        """Return a new plaintext data key and its wrapped form, bound to the context."""
        ...

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """Return the plaintext data key; the context must be the one it was made with."""
        ...


def canonical_context(context: dict[str, str]) -> bytes:
    """Stable bytes for an encryption context (sorted keys, no whitespace)."""
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode("utf-8")
