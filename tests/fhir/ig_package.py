"""A small FHIR package built in a test's tmp_path: one profile constraining Patient (gender
1..1, maritalStatus bound `required` to the package's own value set), that value set and its
code system. Shared by tests/fhir/test_ig.py and tests/cli/test_ig.py."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any


def element(path: str, min_: int, max_: str, **more: Any) -> dict[str, Any]:
    base_min, base_max = {"Patient": (0, "*"), "Patient.gender": (0, "1"),
                          "Patient.maritalStatus": (0, "1")}[path]
    return {"id": path, "path": path, "definition": f"{path} in the test profile", "min": min_, "max": max_,
            "base": {"path": path, "min": base_min, "max": base_max}, **more}


def conformance_resources(base: str) -> list[dict[str, Any]]:
    """Profile, value set and code system under the canonical base URL `base`."""
    profile = {
        "resourceType": "StructureDefinition", "id": "test-patient",
        "url": f"{base}/StructureDefinition/test-patient", "version": "1.0.0", "name": "TestPatient",
        "status": "active", "kind": "resource", "abstract": False, "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
        "snapshot": {"element": [
            element("Patient", 0, "*"),
            element("Patient.gender", 1, "1", type=[{"code": "code"}]),
            element("Patient.maritalStatus", 0, "1", type=[{"code": "CodeableConcept"}],
                    binding={"strength": "required", "valueSet": f"{base}/ValueSet/test-marital"}),
        ]},
    }
    codesystem = {
        "resourceType": "CodeSystem", "id": "test-marital", "url": f"{base}/CodeSystem/test-marital",
        "status": "active", "content": "complete",
        "concept": [{"code": "gift", "display": "Gift"}, {"code": "ugift", "display": "Ugift"}],
    }
    valueset = {
        "resourceType": "ValueSet", "id": "test-marital", "url": f"{base}/ValueSet/test-marital",
        "status": "active", "compose": {"include": [{"system": f"{base}/CodeSystem/test-marital"}]},
    }
    return [profile, valueset, codesystem]


def unique_base() -> str:
    """A canonical base no other test uses: the validator's registry is per process."""
    return f"http://example.org/fhir/{uuid.uuid4().hex[:12]}"


def write_package(path: Path, resources: list[dict[str, Any]], *, manifest: dict[str, Any] | None = None,
                  extra: dict[str, bytes] | None = None) -> Path:
    """A package .tgz at `path`: package/package.json, one file per resource, and `extra` members."""
    manifest = manifest if manifest is not None else {
        "name": "example.test.ig", "version": "1.0.0", "fhirVersions": ["4.0.1"]}
    members = {"package/package.json": json.dumps(manifest).encode()}
    for resource in resources:
        members[f"package/{resource['resourceType']}-{resource.get('id', 'x')}.json"] = json.dumps(resource).encode()
    members["package/example/Patient-ex.json"] = json.dumps({"resourceType": "Patient", "id": "ex"}).encode()
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def patient(profile_url: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "meta": {"profile": [profile_url]}, **more}
