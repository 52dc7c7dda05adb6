"""`ehelse ig install PACKAGE.tgz`: installs, reports, refuses bad packages with every problem.

(Named test_ig_install.py, not test_ig.py: tests/fhir/test_ig.py exists and pytest's default
import mode needs test module names unique across the tests/ folders.)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ehelse.storage import open_repository

# The package builder shared with tests/fhir/test_ig.py (loaded by path: tests/ is no package).
_spec = importlib.util.spec_from_file_location(
    "ig_package", Path(__file__).resolve().parent.parent / "fhir" / "ig_package.py")
ig_package = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ig_package)


@pytest.fixture
def base() -> str:
    return ig_package.unique_base()


def stored(url: str, kind: str) -> list[dict]:
    repo = open_repository(url)
    try:
        return [json.loads(v.content) for v in repo.iter_current(kind)]
    finally:
        repo.close()


def test_install_reports_and_stores(ehelse, sqlite_url, tmp_path, base):
    path = ig_package.write_package(tmp_path / "test-ig.tgz", ig_package.conformance_resources(base))
    output = ehelse("ig", "install", path, "--database", sqlite_url).output
    assert "example.test.ig 1.0.0" in output
    assert "StructureDefinition" in output and "1 profiles known to the validator" in output
    assert [r["url"] for r in stored(sqlite_url, "StructureDefinition")] == [
        f"{base}/StructureDefinition/test-patient"]
    assert len(stored(sqlite_url, "ValueSet")) == 1 and len(stored(sqlite_url, "CodeSystem")) == 1

    again = ehelse("ig", "install", path, "--database", sqlite_url).output
    row = next(line for line in again.splitlines() if "StructureDefinition" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells == ["StructureDefinition", "0", "0", "1"], row  # created, updated, unchanged


def test_install_refuses_an_invalid_package_listing_every_problem(ehelse, sqlite_url, tmp_path, base):
    resources = ig_package.conformance_resources(base)
    for element in resources[0]["snapshot"]["element"]:
        del element["definition"]  # sdf-3 on the profile
    del resources[1]["status"]  # ValueSet.status is 1..1
    path = ig_package.write_package(tmp_path / "invalid.tgz", resources)
    result = ehelse("ig", "install", path, "--database", sqlite_url, expect=1)
    assert "sdf-3" in result.output and "status is required" in result.output
    assert "invalid.tgz was not installed (2 problem(s))" in result.output and "--force" in result.output
    assert stored(sqlite_url, "StructureDefinition") == [] and stored(sqlite_url, "ValueSet") == []

    forced = ehelse("ig", "install", path, "--force", "--database", sqlite_url).output
    assert forced.count("warning:") == 2
    assert len(stored(sqlite_url, "StructureDefinition")) == 1


def test_install_of_something_that_is_no_package(ehelse, sqlite_url, tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_text("not a package")
    result = ehelse("ig", "install", junk, "--database", sqlite_url, expect=1)
    assert "not a FHIR package" in result.output
    missing = ehelse("ig", "install", tmp_path / "missing.tgz", "--database", sqlite_url, expect=2)
    assert "does not exist" in missing.output
