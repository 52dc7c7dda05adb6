"""Fixtures for the CLI tests: a CliRunner, a way to run `ehelse ...` in-process, and a few
small Synthea bundles (skipped when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehelse.cli.main import app


@pytest.fixture
def ehelse():
    """ehelse(*args) -> click Result, run in this process with a wide terminal."""
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0):
        result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return run


@pytest.fixture(scope="session")
def synthea_files(shared_dir) -> list[Path]:
    """The hospital and practitioner bundles, then the two smallest patient bundles."""
    folder = shared_dir / "data" / "synthea-r4-dev"
    if not folder.is_dir():
        pytest.skip("Synthea bundles not present")
    everything = sorted(folder.glob("*.json"))
    shared = [p for p in everything if p.name.startswith(("hospitalInformation", "practitionerInformation"))]
    patients = sorted((p for p in everything if p not in shared), key=lambda p: p.stat().st_size)[:2]
    return shared + patients
