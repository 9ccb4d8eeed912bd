"""The one error class that the CLI turns into a clean one-line message."""

from __future__ import annotations

# Stable exit codes: scripts may rely on them.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_DATABASE = 4
EXIT_KEYS = 5
EXIT_INTEGRITY = 6


class VcfPgError(Exception):
    """A failure the user can act on. Its message never carries PHI or key material."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class BadInputError(VcfPgError):
    """The input file is not a loadable VCF: nothing of it was written."""

    exit_code = EXIT_BAD_INPUT


class DatabaseError(VcfPgError):
    """The database refused or failed an operation."""

    exit_code = EXIT_DATABASE


class KeyError_(VcfPgError):
    """A key could not be created, unwrapped or unlocked."""

    exit_code = EXIT_KEYS


class AlreadyLoaded(VcfPgError):
    """The same content is already ingested; nothing was written."""

    exit_code = EXIT_OK

    def __init__(self, message: str, session_id: str) -> None:
        super().__init__(message, hint="Load with --reload to replace it.")
        self.session_id = session_id


class IntegrityError(VcfPgError):
    """Staged data failed authentication: it was modified, moved or cut short."""

    exit_code = EXIT_INTEGRITY
