"""The 705 official R4 examples: valid, round-trip unchanged, and broken variants are caught.

Needs ../shared (the official examples package); skipped cleanly without it.
"""

from __future__ import annotations

import copy
import tarfile
from collections import Counter

import pytest
from validation_mutations import MUTATIONS, caught, mutate

from ehelse.fhir import jsoncodec
from ehelse.fhir.validation import validate
from ehelse.storage.memory import MemoryRepository

# Official examples that are invalid per the R4 definitions themselves. The checks are not
# loosened for them; each is listed with the rule it breaks.
KNOWN_INVALID = {
    "Questionnaire-qs1.json":
        "Questionnaire.item.linkId is 1..1, but the nested display items have none",
    "Observation-clinical-gender.json":
        "Observation.performer refers to an Encounter; R4 allows Practitioner, PractitionerRole, "
        "Organization, CareTeam, Patient, RelatedPerson",
    "DeviceUseStatement-example.json":
        "DeviceUseStatement.reasonReference refers to a Procedure; R4 allows Condition, "
        "Observation, DiagnosticReport, DocumentReference, Media",
    "MedicationRequest-medrx0301.json":
        "MedicationRequest.dispenseRequest.performer refers to a Practitioner; R4 allows Organization",
    "DeviceMetric-example.json":
        "DeviceMetric.parent refers to a DeviceDefinition; R4 allows Device",
    # TestScript operation.accept/contentType and assert.contentType are `code` with a
    # required binding to MIME types (BCP 13) in R4; 'xml'/'json' are STU3 short forms.
    **{f"TestScript-testscript-example{suffix}.json":
       "TestScript accept/contentType 'xml' or 'json' is not a MIME type (required binding to mimetypes)"
       for suffix in ("", "-readtest", "-multisystem", "-search", "-update", "-history")},
    "Bundle-b0a5e4277-83c4-4adb-87e2-e3efe3369b6f.json":
        "Endpoint.payloadMimeType 'application/dicom; variant=DICOM QIDO-RS': a MIME parameter value "
        "with a space must be quoted (RFC 2045 section 5.1)",
}


@pytest.fixture(scope="module")
def examples(shared_dir) -> dict[str, dict]:
    found = {}
    with tarfile.open(shared_dir / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                name = member.name.rsplit("/", 1)[-1]
                found[name] = jsoncodec.loads(tar.extractfile(member).read(), max_depth=10_000)
    return found


def test_there_are_705_examples(examples):
    assert len(examples) == 705


def test_every_official_example_validates_without_errors(examples):
    failures = {}
    for name, resource in examples.items():
        errors = [i for i in validate(resource) if i.is_error]
        if name in KNOWN_INVALID:
            assert errors, f"{name} is listed as invalid but validated: remove it from KNOWN_INVALID"
        elif errors:
            failures[name] = [(i.expression, i.diagnostics) for i in errors[:3]]
    assert not failures, failures


def _without_meta(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


def test_examples_round_trip_through_create_and_read(examples):
    repo = MemoryRepository()
    for name, resource in examples.items():
        created = repo.create(copy.deepcopy(resource))
        stored = jsoncodec.loads(repo.read(created.type, created.id).content, max_depth=10_000)
        # Equality is exact for decimals too: a jsoncodec.Number compares by its text, so
        # 1.50 coming back as 1.5 would fail here. Object key order is not part of FHIR data.
        assert _without_meta(stored) == _without_meta(resource), name


def test_broken_variants_are_caught_where_they_break(examples, capsys):
    tried: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    missed: dict[str, list[str]] = {kind: [] for kind in MUTATIONS}
    for name, resource in examples.items():
        if name in KNOWN_INVALID or any(i.is_error for i in validate(resource)):
            continue  # only variants of valid resources say something about a mutation
        for kind in MUTATIONS:
            result = mutate(resource, kind)
            if result is None:
                continue  # nothing of this kind to break in this resource
            broken, path = result
            tried[kind] += 1
            if caught(validate(broken), path, kind):
                hit[kind] += 1
            else:
                missed[kind].append(f"{name} @ {path}")
    with capsys.disabled():
        print("\nmutation class                          caught / tried")
        for kind in MUTATIONS:
            print(f"  {kind:38s} {hit[kind]:5d} / {tried[kind]:5d}")
    for kind in MUTATIONS:
        assert tried[kind] > 0, f"no example offered a place for {kind!r}"
        assert hit[kind] >= 0.99 * tried[kind], (kind, missed[kind][:20])
