"""The committed definitions match what scripts/gen_definitions.py makes from the package."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from ehelse.fhir.definitions import HERE, load

REPO = Path(__file__).resolve().parents[3]


def test_committed_data_is_what_the_script_generates(shared_dir, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("gen_definitions", REPO / "scripts" / "gen_definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path)
    assert module.main(["gen", str(shared_dir / "fhir" / "hl7.fhir.r4.core-4.0.1.tgz")]) == 0
    for name in ("structures", "profiles"):
        fresh = json.loads(gzip.decompress((tmp_path / f"{name}.json.gz").read_bytes()))
        assert fresh == load(name), f"{name}.json.gz is stale: run scripts/gen_definitions.py"


def test_generated_data_has_every_r4_resource_and_notes_its_source():
    data = load("structures")
    resources = [n for n, d in data["types"].items() if d["kind"] == "resource" and not d["abstract"]]
    assert len(resources) == 146  # the concrete resource types in hl7.fhir.r4.core 4.0.1
    assert "4.0.1" in data["source"] and "CC0" in data["source"]
    assert (HERE / "structures.json.gz").stat().st_size < 200_000
