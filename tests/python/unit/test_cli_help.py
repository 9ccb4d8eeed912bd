"""Every vcfctl --help shows an example, and every example is a valid command line.

Each vcfctl invocation of an example (after VAR=value settings, after &&,
inside "$(...)") is split as a shell would and parsed by the real command
tree, down to its command, without running it: a renamed option or command,
or an example of another command, fails here.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from vcf_pg_loader.cli import cli

SHELL_OPERATORS = {"&&", "||", "|", "<", ">", ";"}


def _commands(cmd: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


def _example_block(text: str) -> list[str]:
    """The lines of the help's Example block, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
    block: list[str] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


def _invocations(line: str) -> list[list[str]]:
    """The argument lists of each vcfctl run in one shell line."""
    words = shlex.split(re.sub(r"\"?\$\(|\)\"?", " ; ", line))
    found: list[list[str]] = []
    for i, word in enumerate(words):
        if word == "vcfctl":
            rest = words[i + 1 :]
            end = next((j for j, w in enumerate(rest) if w in SHELL_OPERATORS), len(rest))
            found.append(rest[:end])
    return found


def _rest(ctx: click.Context) -> list[str]:
    """The words a group's context left for its subcommand (Click 8 and 9)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        protected = list(getattr(ctx, "protected_args", []))
    return protected + list(ctx.args)


def _parse(argv: list[str]) -> click.Command:
    """Parse argv down the command tree, checking every option; run nothing."""
    cmd: click.Command = cli
    ctx = cli.make_context("vcfctl", list(argv))
    while isinstance(cmd, click.Group):
        args = _rest(ctx)
        if not args:
            break
        name, sub, args = cmd.resolve_command(ctx, args)
        assert sub is not None, name
        ctx = sub.make_context(name or "", list(args), parent=ctx)
        cmd = sub
    return cmd


COMMANDS = list(_commands(cli, ()))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("vcfctl", *p)))
def test_help_has_an_example_that_parses(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"vcfctl {' '.join(path)} --help has no example"
    invocations = [argv for line in _example_block(result.output) for argv in _invocations(line)]
    assert invocations, f"the example of vcfctl {' '.join(path)} runs no vcfctl command"
    monkeypatch.chdir(tmp_path)  # files an example names exist, empty, for the parse
    for argv in invocations:
        for word in argv:
            if re.fullmatch(r"[\w.-]+\.(vcf|vcf\.gz|bcf|txt)", word):
                (tmp_path / word).touch()
    parsed = [_parse(argv) for argv in invocations]
    here = _command(path)
    if not isinstance(here, click.Group):
        assert here in parsed, f"the example of vcfctl {' '.join(path)} does not run it"


@pytest.mark.parametrize(
    "argv", [["sessions", "list", "--no-such-option"], ["no-such-command"], ["load"]]
)
def test_a_wrong_example_would_fail(argv: list[str]) -> None:
    """The parse is not a formality: an unknown option, command or a missing argument fail it."""
    with pytest.raises(click.UsageError):
        _parse(argv)
