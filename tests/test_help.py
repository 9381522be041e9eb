"""Help and README agree: every option described, one wording per default, the same exit codes.

No model and no server: these run in the fast loop (``pytest -m "not slow"``).
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from drift_tracking.cli import main
from drift_tracking.cli_common import DEFAULT_TRACKING_URI_TEXT, EXIT_CODES

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group = main, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out: list[tuple[tuple[str, ...], click.Command]] = [(path, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, (*path, name))
        else:
            out.append(((*path, name), command))
    return out


COMMANDS = {" ".join(path): command for path, command in _commands()}


def _option(command: str, name: str) -> click.Option:
    (option,) = [p for p in COMMANDS[command].params if isinstance(p, click.Option) and name in p.opts]
    return option


def _default_text(option: click.Option) -> str | None:
    """The default as the help shows it: ``[default: ...]`` in the text, else click's shown default."""
    found = re.search(r"\[default: ([^\]]+)\]", option.help or "")
    if found:
        return found.group(1)
    if option.show_default and option.default is not None and not option.is_flag:
        return str(option.default)
    return None


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_and_option_is_described(command):
    result = CliRunner().invoke(main, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert (COMMANDS[command].help or "").strip(), f"{command or 'drift-tracking'} has no description"
    for param in COMMANDS[command].params:
        if isinstance(param, click.Option) and param.name != "help":
            assert (param.help or "").strip(), f"{command} {param.opts[0]} has no description"
            assert param.opts[0] in result.output


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if c and not isinstance(COMMANDS[c], click.Group)))
def test_every_command_lists_the_exit_codes(command):
    output = CliRunner().invoke(main, [*command.split(), "--help"]).output
    for code, text in EXIT_CODES.items():
        assert re.search(rf"^\s+{code}\s+{re.escape(text[:30])}", output, re.M), (command, code)


# Options whose name is shared but whose meaning differs by command (a file for gate's --window,
# a time span for monitor's; relog's --tracking-uri overrides the URI spooled with each report).
_OWN_MEANING = {"--experiment", "--history", "--model", "--baseline", "--window", ("relog", "--tracking-uri")}


def test_each_default_is_worded_once_across_commands():
    """An option that several commands share shows one default everywhere (the tracking URI above all)."""
    seen: dict[str, set[str]] = {}
    for name, command in COMMANDS.items():
        for param in command.params:
            if isinstance(param, click.Option) and not {param.opts[0], (name, param.opts[0])} & _OWN_MEANING:
                seen.setdefault(param.opts[0], set()).add(str(_default_text(param)))
    assert seen["--tracking-uri"] == {DEFAULT_TRACKING_URI_TEXT}
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def _readme_table(title: str) -> list[list[str]]:
    """The rows of the README table whose header row starts with ``title``."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {title} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    return rows


def test_readme_defaults_are_the_cli_defaults():
    """Both ways: each default the README states is the help's, and each default the help shows is in the README."""
    documented = set()
    for option, default, commands in _readme_table("option"):
        for command in (c.strip() for c in commands.split(",")):
            assert command in COMMANDS, f"README names an unknown command {command!r}"
            assert _default_text(_option(command, option)) == default, (command, option)
            documented.add((command, option, default))
    shown = {(name, p.opts[0], _default_text(p)) for name, command in COMMANDS.items() for p in command.params
             if isinstance(p, click.Option) and _default_text(p) is not None}
    assert shown - documented == set(), "defaults the help shows but the README's table does not"
    assert len(documented) >= 30


def test_readme_exit_codes_are_the_cli_exit_codes():
    assert {int(code): text for code, text in _readme_table("exit code")} == EXIT_CODES


def test_readme_documents_every_command():
    for name in COMMANDS:
        if name:
            assert f"drift-tracking {name}" in README, f"README never shows `drift-tracking {name}`"
