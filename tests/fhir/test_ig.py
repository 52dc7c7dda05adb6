"""Installing an implementation guide package (ehelse.fhir.ig) on every backend: its profile
is checked after install, its value set drives a binding check, a reinstall changes nothing,
the profile survives a reopen (another process loads it), and bad packages are refused whole."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from ehelse.errors import BadRequest, Conflict, ValidationFailed
from ehelse.fhir import ig
from ehelse.fhir.validation import validate
from ehelse.storage import open_repository
from ig_package import conformance_resources, patient, unique_base, write_package


def errors(resource):
    return [(i.expression, i.diagnostics) for i in validate(resource) if i.is_error]


@pytest.fixture
def base() -> str:
    return unique_base()


@pytest.fixture
def package_path(tmp_path, base):
    return write_package(tmp_path / "test-ig.tgz", conformance_resources(base))


def stored_count(repo, kind: str) -> int:
    return sum(1 for _ in repo.iter_current(kind))


def test_read_package_keeps_conformance_resources_and_skips_examples(package_path):
    package = ig.read_package(package_path)
    assert (package.name, package.version) == ("example.test.ig", "1.0.0")
    assert sorted(r["resourceType"] for r in package.resources) == ["CodeSystem", "StructureDefinition", "ValueSet"]
    assert package.skipped == 0  # package/example/ is not read at all


def test_install_then_a_resource_claiming_the_profile_is_checked(repo, package_path, base):
    profile_url = f"{base}/StructureDefinition/test-patient"
    before = validate(patient(profile_url))
    assert [(i.severity, i.code) for i in before if i.code == "not-supported"] == [("warning", "not-supported")]

    result = ig.install(repo, ig.read_package(package_path))
    assert result.created == {"StructureDefinition": 1, "ValueSet": 1, "CodeSystem": 1}
    assert result.profiles == [profile_url]
    assert stored_count(repo, "StructureDefinition") == 1

    found = errors(patient(profile_url))
    assert [e for e, _ in found] == ["Patient.gender"]
    assert "gender needs at least 1" in found[0][1] and profile_url in found[0][1]
    assert errors(patient(profile_url, gender="female")) == []
    # an unclaimed profile is not applied
    assert errors({"resourceType": "Patient"}) == []


def test_the_package_value_set_is_used_for_the_profile_binding(repo, package_path, base):
    ig.install(repo, ig.read_package(package_path))
    profile_url = f"{base}/StructureDefinition/test-patient"
    system = f"{base}/CodeSystem/test-marital"
    good = patient(profile_url, gender="male", maritalStatus={"coding": [{"system": system, "code": "gift"}]})
    bad = patient(profile_url, gender="male", maritalStatus={"coding": [{"system": system, "code": "enslig"}]})
    assert errors(good) == []
    found = errors(bad)
    assert [e for e, _ in found] == ["Patient.maritalStatus.coding[0].code"]
    assert f"{base}/ValueSet/test-marital" in found[0][1]


def test_reinstall_changes_nothing_and_a_new_version_updates(repo, tmp_path, base, package_path):
    ig.install(repo, ig.read_package(package_path))
    again = ig.install(repo, ig.read_package(package_path))
    assert again.created == {} and again.updated == {}
    assert again.unchanged == {"StructureDefinition": 1, "ValueSet": 1, "CodeSystem": 1}
    assert repo.read("StructureDefinition", "test-patient").version_id == 1

    resources = conformance_resources(base)
    resources[0]["version"] = "1.1.0"
    newer = write_package(tmp_path / "newer.tgz", resources)
    result = ig.install(repo, ig.read_package(newer))
    assert result.updated == {"StructureDefinition": 1}
    assert repo.read("StructureDefinition", "test-patient").version_id == 2


def test_profile_survives_a_reopen_in_another_process(tmp_path, package_path, base):
    url = f"sqlite:///{tmp_path / 'ig.sqlite'}"
    repo = open_repository(url)
    try:
        ig.install(repo, ig.read_package(package_path))
    finally:
        repo.close()
    profile_url = f"{base}/StructureDefinition/test-patient"
    script = (
        "import json, sys\n"
        "from ehelse.fhir import ig\n"
        "from ehelse.fhir.validation import validate\n"
        "from ehelse.storage import open_repository\n"
        "repo = open_repository(sys.argv[1])\n"
        "loaded = ig.load_installed(repo)\n"
        "repo.close()\n"
        "resource = {'resourceType': 'Patient', 'meta': {'profile': [sys.argv[2]]}}\n"
        "found = [i.expression for i in validate(resource) if i.is_error]\n"
        "print(json.dumps({'loaded': loaded, 'errors': found}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, url, profile_url], capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"loaded": 1, "errors": ["Patient.gender"]}


# -- refused packages: nothing stored ---------------------------------------------------------
def test_not_a_package_is_a_bad_request(tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not a tar file")
    with pytest.raises(BadRequest, match="not a FHIR package"):
        ig.read_package(junk)
    no_manifest = tmp_path / "no-manifest.tgz"
    with tarfile.open(no_manifest, "w:gz"):
        pass
    with pytest.raises(BadRequest, match="package.json"):
        ig.read_package(no_manifest)


def test_a_package_for_another_fhir_version_is_refused(tmp_path, base):
    path = write_package(tmp_path / "stu3.tgz", conformance_resources(base),
                         manifest={"name": "old.ig", "version": "1", "fhirVersions": ["3.0.2"]})
    with pytest.raises(BadRequest, match="R4") as caught:
        ig.read_package(path)
    assert caught.value.issues[0].code == "not-supported"


def test_malformed_json_in_a_package_is_a_bad_request(tmp_path, base):
    path = write_package(tmp_path / "bad-json.tgz", conformance_resources(base),
                         extra={"package/ValueSet-broken.json": b'{"resourceType": "ValueSet",'})
    with pytest.raises(BadRequest, match="ValueSet-broken.json"):
        ig.read_package(path)


def test_a_profile_without_snapshot_is_refused_and_nothing_is_stored(repo, tmp_path, base):
    resources = conformance_resources(base)
    resources[0]["differential"] = resources[0].pop("snapshot")
    package = ig.read_package(write_package(tmp_path / "nosnap.tgz", resources))
    with pytest.raises(ValidationFailed) as caught:
        ig.install(repo, package, force=True)  # force does not help: we cannot use it
    assert [i.expression for i in caught.value.issues] == ["StructureDefinition.snapshot"]
    assert "snapshot" in caught.value.issues[0].diagnostics
    assert stored_count(repo, "ValueSet") == 0 and stored_count(repo, "CodeSystem") == 0


def test_an_invalid_resource_is_refused_unless_forced(repo, tmp_path, base):
    resources = conformance_resources(base)
    del resources[0]["snapshot"]["element"][1]["definition"]  # sdf-3
    package = ig.read_package(write_package(tmp_path / "invalid.tgz", resources))
    with pytest.raises(ValidationFailed) as caught:
        ig.install(repo, package)
    assert caught.value.status == 422
    assert [(i.severity, i.expression) for i in caught.value.issues] == [("error", "StructureDefinition.snapshot")]
    assert "sdf-3" in caught.value.issues[0].diagnostics
    assert stored_count(repo, "StructureDefinition") == 0

    result = ig.install(repo, package, force=True)
    assert [i.severity for i in result.warnings] == ["warning"]
    assert result.created["StructureDefinition"] == 1


def test_an_id_holding_another_canonical_is_not_replaced(repo, tmp_path, base):
    other = conformance_resources(unique_base())[2]  # CodeSystem/test-marital of another IG
    repo.update(other)
    package = ig.read_package(write_package(tmp_path / "clash.tgz", conformance_resources(base)))
    with pytest.raises(Conflict, match="test-marital"):
        ig.install(repo, package)
    assert stored_count(repo, "StructureDefinition") == 0  # the transaction rolled back
    assert json.loads(repo.read("CodeSystem", "test-marital").content)["url"] == other["url"]


def test_resource_id_from_the_canonical_url():
    assert ig.resource_id({"url": "http://x.org/fhir/StructureDefinition/no-basis-Patient"}) == "no-basis-Patient"
    assert ig.resource_id({"id": "given", "url": "http://x.org/a"}) == "given"
    assert ig.resource_id({"url": "urn:oid:2.16.578.1"}) == "urn-oid-2.16.578.1"


def test_an_oversized_package_file_is_refused(tmp_path, base, monkeypatch):
    monkeypatch.setattr(ig, "MAX_MEMBER_BYTES", 1000)
    path = write_package(tmp_path / "big.tgz", conformance_resources(base))  # the profile is > 1000 bytes
    with pytest.raises(BadRequest, match="larger than this server reads") as caught:
        ig.read_package(path)
    assert caught.value.issues[0].code == "too-costly"
