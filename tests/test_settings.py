"""Every setting is documented: in docs/settings.md and in `ehelse serve --help`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehelse.cli.main import app
from ehelse.settings import SETTINGS, Settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


@pytest.fixture(scope="module")
def serve_help() -> str:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "300", "TERMINAL_WIDTH": "300"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_setting_in_docs(setting):
    assert f"`{setting.env}`" in DOCS.read_text(encoding="utf-8"), f"{setting.env} is not in docs/settings.md"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_setting_in_serve_help(setting, serve_help):
    assert "--" + setting.name.replace("_", "-") in serve_help
    assert setting.env in serve_help


def test_settings_command_lists_them_all():
    result = CliRunner().invoke(app, ["settings"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for setting in SETTINGS:
        assert setting.env in result.output


def test_environment_overrides_default_and_bad_values_are_named():
    assert Settings.from_env({"EHELSE_PORT": "9000"}).port == 9000
    with pytest.raises(ValueError, match="EHELSE_PORT"):
        Settings.from_env({"EHELSE_PORT": "many"})
