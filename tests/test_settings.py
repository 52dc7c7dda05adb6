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


def test_workers_default_is_one_per_cpu_within_bounds(monkeypatch):
    from ehelse import settings as settings_module
    from ehelse.settings import MAX_AUTO_WORKERS, server_workers

    assert server_workers(Settings.from_env({"EHELSE_WORKERS": "3"})) == 3  # said: as said
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda pid: set(range(2)))
    assert server_workers(Settings.from_env({})) == 2
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert server_workers(Settings.from_env({})) == MAX_AUTO_WORKERS  # the database's connections
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda pid: {0})
    assert server_workers(Settings.from_env({})) == 1
    # a memory: database lives in one process: a second worker would have a database of its own
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert server_workers(Settings.from_env({"EHELSE_DATABASE_URL": "memory:"})) == 1


def test_negative_workers_is_refused(monkeypatch):
    # `serve` writes its options into os.environ for the server's worker processes: let the
    # test's monkeypatch put EHELSE_WORKERS back, or every server a later test starts
    # inherits the -1 (it did: tests/cli/test_scale_out.py failed in CI)
    monkeypatch.setenv("EHELSE_WORKERS", "0")
    result = CliRunner().invoke(app, ["serve", "--workers", "-1"], env={"COLUMNS": "300"})
    assert result.exit_code != 0
    assert "--workers" in result.output


def test_settings_tests_leave_no_workers_setting_behind():
    import os

    assert os.environ.get("EHELSE_WORKERS") in (None, "0")


def test_workers_default_keeps_within_a_containers_cpu_limit(monkeypatch, tmp_path):
    from ehelse import settings as settings_module
    from ehelse.settings import _cgroup_cpu_quota, server_workers

    limit = tmp_path / "cpu.max"
    for text, expected in (("150000 100000\n", 2), ("50000 100000", 1), ("max 100000", None),
                           ("400000 100000", 4), ("garbage", None), ("", None)):
        limit.write_text(text)
        assert _cgroup_cpu_quota(str(limit)) == expected, text
    assert _cgroup_cpu_quota(str(tmp_path / "missing")) is None  # no cgroup v2 here: no limit
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda pid: set(range(32)))
    limit.write_text("100000 100000")  # one CPU's worth on a 32-core host
    monkeypatch.setattr(settings_module, "_cgroup_cpu_quota", lambda: _cgroup_cpu_quota(str(limit)))
    assert server_workers(Settings.from_env({})) == 1
