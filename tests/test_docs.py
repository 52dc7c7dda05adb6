"""Every `ehelse` command is described in docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from ehelse.cli.main import app

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _commands(group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if getattr(command, "commands", None):  # a group (typer bundles its own click)
            names.extend(_commands(command, f"{prefix}{name} "))
    return names


COMMANDS = _commands(typer.main.get_command(app))


def test_the_expected_commands_exist():
    assert {"serve", "db", "db upgrade", "import", "export", "backup", "restore", "token", "settings"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_in_docs(command):
    assert f"`ehelse {command}" in DOCS.read_text(encoding="utf-8"), f"`ehelse {command}` is not in docs/cli.md"
