"""The import engine on its own (ehelse.importer), through the real router on the in-memory
repository: what each kind of input becomes, and how rejections are reported."""

from __future__ import annotations

import orjson
import pytest

from ehelse.importer import Importer, find_files
from ehelse.settings import Settings
from ehelse.storage.memory import MemoryRepository


@pytest.fixture
def importer():
    return Importer(MemoryRepository(), Settings.from_env({}))


def _write(path, value) -> None:
    path.write_bytes(orjson.dumps(value))


def _bundle(type_: str, entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": type_, "entry": entries}


def _post(resource: dict, full_url: str | None = None) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def test_collection_entries_are_created_or_updated(importer, tmp_path):
    importer.repo.create({"resourceType": "Patient"}, id="old")
    _write(tmp_path / "c.json", _bundle("collection", [
        {"resource": {"resourceType": "Patient", "id": "old", "gender": "male"}},
        {"resource": {"resourceType": "Patient", "id": "new"}},
        {"resource": {"resourceType": "Organization", "name": "Sykehuset"}},
    ]))
    summary = importer.run([tmp_path])
    assert dict(summary.created) == {"Patient": 1, "Organization": 1}
    assert dict(summary.updated) == {"Patient": 1}
    assert importer.repo.read("Patient", "old").version_id == 2


def test_transaction_lands_whole(importer, tmp_path):
    _write(tmp_path / "t.json", _bundle("transaction", [
        _post({"resourceType": "Patient", "gender": "female"}, "urn:uuid:0c1e8d2a-0000-4000-8000-000000000001"),
        _post({"resourceType": "Observation", "status": "final", "code": {"text": "puls"},
               "subject": {"reference": "urn:uuid:0c1e8d2a-0000-4000-8000-000000000001"}}),
    ]))
    summary = importer.run([tmp_path / "t.json"])
    assert dict(summary.created) == {"Patient": 1, "Observation": 1} and not summary.rejected
    observation = orjson.loads(next(importer.repo.iter_current("Observation")).content)
    patient = next(importer.repo.iter_current("Patient"))
    assert observation["subject"]["reference"] == f"Patient/{patient.id}"  # urn:uuid resolved


def test_failing_transaction_stores_nothing(importer, tmp_path):
    _write(tmp_path / "t.json", _bundle("transaction", [
        _post({"resourceType": "Patient", "gender": "female"}),
        _post({"resourceType": "Patient", "gender": "robot"}),
    ]))
    summary = importer.run([tmp_path / "t.json"])
    assert summary.total_created == 0 and len(summary.rejected) == 1
    assert summary.rejected[0].where.endswith("t.json") and "robot" in summary.rejected[0].reason
    assert list(importer.repo.iter_current()) == []


def test_batch_reports_each_failed_entry(importer, tmp_path):
    _write(tmp_path / "b.json", _bundle("batch", [
        _post({"resourceType": "Patient", "gender": "female"}),
        _post({"resourceType": "Patient", "gender": "robot"}),
    ]))
    summary = importer.run([tmp_path / "b.json"])
    assert dict(summary.created) == {"Patient": 1}
    assert [r.where.rsplit("#", 1)[1] for r in summary.rejected] == ["1"]
    assert summary.rejected[0].reason.startswith(("400", "422"))


def test_single_resource_and_non_resources(importer, tmp_path):
    _write(tmp_path / "p.json", {"resourceType": "Patient", "id": "one"})
    _write(tmp_path / "x.json", {"hello": "world"})
    (tmp_path / "notes.txt").write_text("ignored: not an import suffix")
    summary = importer.run([tmp_path])
    assert dict(summary.created) == {"Patient": 1} and summary.files == 2
    assert [r.reason for r in summary.rejected] == ["not a FHIR resource (no resourceType)"]


def test_progress_counts_every_byte(tmp_path):
    _write(tmp_path / "a.json", {"resourceType": "Patient"})
    (tmp_path / "b.ndjson").write_bytes(b'{"resourceType":"Patient"}\n{"resourceType":"Patient"}\n')
    seen = []
    Importer(MemoryRepository(), Settings.from_env({}), progress=seen.append).run([tmp_path])
    assert sum(seen) == sum(p.stat().st_size for p in find_files([tmp_path]))


def test_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_files([tmp_path / "nope"])


def test_transaction_keeps_decimals_exact_and_bad_json_is_rejected(importer, tmp_path):
    # the importer outlines a transaction with orjson (floats inexact); the stored resource
    # must still come from the router's exact parse: 24.960 keeps its trailing zero
    (tmp_path / "a.json").write_bytes(
        b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource":'
        b' {"resourceType": "Observation", "status": "final", "code": {"text": "vekt"},'
        b' "valueQuantity": {"value": 24.960, "unit": "kg"}},'
        b' "request": {"method": "POST", "url": "Observation"}}]}')
    (tmp_path / "b.json").write_bytes(b'{"resourceType": "Bundle", "type": "transaction", "entry": [')
    summary = importer.run([tmp_path])
    assert dict(summary.created) == {"Observation": 1}
    content = next(importer.repo.iter_current("Observation")).content
    assert b"24.960" in (content if isinstance(content, bytes) else content.encode())
    assert len(summary.rejected) == 1 and summary.rejected[0].where.endswith("b.json")
    assert summary.rejected[0].reason.startswith("400: Malformed JSON")


def test_helper_process_keeps_file_order_and_results(tmp_path, monkeypatch):
    """With a helper process preparing the next Bundle (importer.py), files are still written
    in order: a later Bundle's conditional reference finds what an earlier file stored, an
    invalid Bundle is rejected alone, and the outcome equals an import without the helper."""
    org = {"resourceType": "Organization", "identifier": [{"system": "urn:ehelse:test", "value": "org-1"}]}
    _write(tmp_path / "a.json", _bundle("transaction", [_post(org)]))
    _write(tmp_path / "b.json", _bundle("transaction", [
        _post({"resourceType": "Patient", "managingOrganization":
               {"reference": "Organization?identifier=urn:ehelse:test|org-1"}}, "urn:uuid:b1"),
        _post({"resourceType": "Observation", "status": "final", "code": {"text": "puls"},
               "subject": {"reference": "urn:uuid:b1"},
               "performer": [{"reference": "Organization?identifier=urn:ehelse:test|org-1"}]}),
    ]))
    _write(tmp_path / "c.json", _bundle("transaction", [_post({"resourceType": "Patient", "gender": "robot"})]))
    (tmp_path / "d.ndjson").write_bytes(b'{"resourceType": "Patient", "gender": "male"}\n')
    outcomes = []
    original = Importer.import_file
    for processes in (0, 1):
        in_process = []
        monkeypatch.setattr(Importer, "import_file", lambda self, path: (in_process.append(path.name),
                                                                         original(self, path))[1])
        importer = Importer(MemoryRepository(), Settings.from_env({}), prepare_processes=processes)
        summary = importer.run([tmp_path])
        org_id = next(importer.repo.iter_current("Organization")).id
        patients = [orjson.loads(v.content) for v in importer.repo.iter_current("Patient")]
        managed = [p["managingOrganization"]["reference"] for p in patients if "managingOrganization" in p]
        assert managed == [f"Organization/{org_id}"]
        observation = orjson.loads(next(importer.repo.iter_current("Observation")).content)
        assert observation["performer"][0]["reference"] == f"Organization/{org_id}"
        assert observation["subject"]["reference"].startswith("Patient/")
        assert [r.where.rsplit("/", 1)[-1] for r in summary.rejected] == ["c.json"]
        assert "robot" in summary.rejected[0].reason
        outcomes.append((dict(summary.created), dict(summary.updated), summary.files))
        # without the helper every file goes through import_file; with it only the NDJSON
        assert in_process == (["a.json", "b.json", "c.json", "d.ndjson"] if processes == 0 else ["d.ndjson"])
    assert outcomes[0] == outcomes[1] == ({"Organization": 1, "Patient": 2, "Observation": 1}, {}, 4)
