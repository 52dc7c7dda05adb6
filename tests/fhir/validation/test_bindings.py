"""Required-binding value sets (terminologies.html#binding) and the rule-checked systems."""

from __future__ import annotations

import gzip
import json

import pytest

from ehelse.fhir.validation import bindings
from ehelse.fhir.validation.bindings import check_code, valueset_codes

VS = "http://hl7.org/fhir/ValueSet/"
V3 = "http://terminology.hl7.org/ValueSet/"


@pytest.mark.parametrize(
    ("url", "system", "code", "expected"),
    [
        # whole code system, plain `code` element (no system)
        (VS + "administrative-gender", None, "female", True),
        (VS + "administrative-gender", None, "unknown", True),
        (VS + "administrative-gender", None, "F", False),
        (VS + "administrative-gender", None, "Female", False),  # codes are case-sensitive
        (VS + "administrative-gender|4.0.1", None, "male", True),  # version suffix stripped
        (VS + "observation-status", None, "final", True),
        (VS + "observation-status", None, "entered-in-error", True),
        (VS + "observation-status", None, "done", False),
        (VS + "request-status", None, "active", True),
        (VS + "request-status", None, "on-hold", True),
        (VS + "request-status", None, "final", False),
        (VS + "bundle-type", None, "transaction-response", True),
        (VS + "bundle-type", None, "searchset", True),
        (VS + "bundle-type", None, "bundle", False),
        # Coding with a system: the pair must match
        (VS + "administrative-gender", "http://hl7.org/fhir/administrative-gender", "other", True),
        (VS + "administrative-gender", "http://example.org/gender", "other", False),
    ],
)
def test_enumerated_required_valuesets(url, system, code, expected):
    assert check_code(url, system, code) is expected


def test_filter_is_a_on_nested_hierarchy():
    # parent-relationship-codes: v3-RoleCode is-a PRN (parent) or is-a TWIN (required binding
    # of the family-member extension); MTH (mother) sits below PRN, BRO below SIB.
    url = VS + "parent-relationship-codes"
    role = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
    assert check_code(url, role, "PRN") is True
    assert check_code(url, role, "MTH") is True
    assert check_code(url, role, "NMTH") is True
    assert check_code(url, role, "BRO") is False
    assert check_code(VS + "sibling-relationship-codes", role, "BRO") is True
    assert check_code(VS + "sibling-relationship-codes", role, "MTH") is False


def test_filter_with_exclude_of_the_abstract_parent():
    # v3-ActEncounterCode: is-a _ActEncounterCode, excluding _ActEncounterCode itself
    url = V3 + "v3-ActEncounterCode"
    act = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert check_code(url, act, "AMB") is True
    assert check_code(url, act, "EMER") is True
    assert check_code(url, act, "_ActEncounterCode") is False
    assert check_code(url, act, "ACADR") is False  # an ActCode, but not an encounter code


def test_filter_is_not_a():
    # patient-contactrelationship: v2-0131 is-not-a O (other)
    url = VS + "patient-contactrelationship"
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0131"
    assert check_code(url, v2, "C") is True
    assert check_code(url, v2, "N") is True
    assert check_code(url, v2, "O") is False


def test_valueset_import():
    # security-labels imports six v3 value sets
    url = VS + "security-labels"
    assert check_code(url, "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R") is True
    assert check_code(url, "http://terminology.hl7.org/CodeSystem/v3-ActCode", "HIV") is True
    assert check_code(url, "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "ZZ") is False


def test_unknown_or_external_gives_none():
    assert check_code("http://example.org/ValueSet/nothing", None, "x") is None
    # doc-typecodes is LOINC filtered by a property we do not have: never a False
    assert check_code(VS + "doc-typecodes", "http://loinc.org", "11488-4") is None
    assert check_code(VS + "doc-typecodes", "http://loinc.org", "no-such-code") is None
    assert valueset_codes(VS + "doc-typecodes") is None
    assert valueset_codes("http://example.org/ValueSet/nothing") is None


def test_partly_open_valueset_is_open_only_for_its_unknown_systems():
    # consent-content-class (extensible): resource types enumerated, plus an import of the
    # IHE format codes, whose system the package does not carry.
    url = VS + "consent-content-class"
    assert check_code(url, "http://hl7.org/fhir/resource-types", "Patient") is True
    assert check_code(url, "http://hl7.org/fhir/resource-types", "Patients") is False
    assert check_code(url, "http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem", "x") is None
    assert check_code(url, None, "Observation") is True
    assert check_code(url, None, "no-such-code") is None  # could be an IHE format code
    assert valueset_codes(url) is None


def test_import_of_a_missing_valueset_leaves_every_system_open():
    # use-context imports v3-ActTaskCode, which is not in the package: any system may be in it
    url = VS + "use-context"
    assert check_code(url, "http://hl7.org/fhir/administrative-gender", "female") is True
    assert check_code(url, "http://hl7.org/fhir/administrative-gender", "F") is None


def test_valueset_codes_is_the_full_set():
    codes = valueset_codes(VS + "administrative-gender")
    system = "http://hl7.org/fhir/administrative-gender"
    assert codes == frozenset((system, c) for c in ("male", "female", "other", "unknown"))
    assert valueset_codes(VS + "mimetypes") is None  # rule-based: not enumerable


@pytest.mark.parametrize(
    ("code", "expected"),
    [("text/plain", True), ("application/fhir+json", True), ("text/html; charset=UTF-8", True),
     ("image/svg+xml", True), ("text", False), ("plain/", False), ("nonsense/plain", False),
     ("text/plain charset", False)],
)
def test_mimetypes_by_syntax(code, expected):
    assert check_code(VS + "mimetypes", None, code) is expected
    assert check_code(VS + "mimetypes", "urn:ietf:bcp:13", code) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("nb", True), ("nb-NO", True), ("nn", True), ("se", True), ("zh-Hant-TW", True),
     ("de-CH-1996", True), ("en-GB-oed", True), ("x-private", True), ("es-419", True),
     ("norwegian!", False), ("n", False), ("nb_NO", False), ("nb-", False)],
)
def test_languages_by_bcp47_syntax(code, expected):
    assert check_code(VS + "all-languages", "urn:ietf:bcp:47", code) is expected
    assert check_code(VS + "all-languages", None, code) is expected


def test_languages_list_and_syntax():
    url = VS + "languages"
    assert check_code(url, "urn:ietf:bcp:47", "en-US") is True  # listed
    assert check_code(url, "urn:ietf:bcp:47", "nb-NO") is True  # well-formed, not listed
    assert check_code(url, "urn:ietf:bcp:47", "not a tag") is False


@pytest.mark.parametrize(
    ("code", "expected"),
    [("mg", True), ("mm[Hg]", True), ("kg/m2", True), ("/min", True), ("10*3/uL", True),
     ("{beats}/min", True), ("%", True), ("mL/(24.h)", True), ("m g", False), ("", False),
     ("mm[Hg", False), ("kg)", False), ("{open", False)],
)
def test_ucum_plausible_syntax(code, expected):
    assert check_code(VS + "ucum-units", "http://unitsofmeasure.org", code) is expected


def test_currencies():
    url = VS + "currencies"
    assert check_code(url, None, "NOK") is True
    assert check_code(url, "urn:iso:std:iso:4217", "EUR") is True
    assert check_code(url, None, "KRO") is False
    assert check_code(url, None, "nok") is False


def test_generated_file_is_small_and_covers_required_bindings():
    from ehelse.fhir.definitions import HERE

    path = HERE / "valuesets.json.gz"
    assert path.stat().st_size < 200_000
    data = json.loads(gzip.decompress(path.read_bytes()))
    assert data["source"].startswith("hl7.fhir.r4.core 4.0.1")
    assert len(data["valuesets"]) > 250
    assert VS + "administrative-gender" in bindings.known_valuesets()


def test_repeated_lookups_give_the_same_answers():
    """Lookups are served from the loaded sets (their speed is measured in bench/validation.py)."""
    url = VS + "observation-status"
    for _ in range(1000):
        assert check_code(url, None, "final") is True
        assert check_code(url, "http://hl7.org/fhir/observation-status", "bogus") is False



def test_codes_remembered_as_valid_are_forgotten_when_value_sets_change():
    """terminology.check_binding remembers codes (and codings) that raised no issue; a value
    set registered later must be applied to them again, and a remembered good coding next to
    a bad one still satisfies a CodeableConcept (one coding in the set is enough)."""
    from ehelse.fhir.validation import validate

    def observation(status: str, *codings: tuple[str, str]) -> dict:
        return {"resourceType": "Observation", "status": status, "code": {"text": "x"},
                "category": [{"coding": [{"system": s, "code": c} for s, c in codings]}]}

    def coded(resource: dict) -> list[tuple[str, str]]:
        return [(i.severity, i.expression) for i in validate(resource) if i.code == "code-invalid"]

    category = "http://terminology.hl7.org/CodeSystem/observation-category"
    assert coded(observation("final", (category, "vital-signs"))) == []
    assert coded(observation("final", (category, "vital-signs"))) == []  # now remembered
    # extensible binding: a code outside it is a warning, with or without a remembered one beside it
    assert coded(observation("final", (category, "nope"))) == [("warning", "Observation.category[0].coding[0].code")]
    assert coded(observation("final", (category, "nope"), (category, "vital-signs"))) == []
    assert coded(observation("done")) == [("error", "Observation.status")]
    status_vs = "http://hl7.org/fhir/ValueSet/observation-status"
    original = bindings._EXTRA.get(status_vs)
    try:
        bindings.register_valuesets({status_vs: {"c": {"http://hl7.org/fhir/observation-status": ["done"]}}})
        assert coded(observation("final")) == [("error", "Observation.status")]
        assert coded(observation("done")) == []
    finally:
        if original is None:
            bindings._EXTRA.pop(status_vs, None)
        else:
            bindings._EXTRA[status_vs] = original
        bindings.register_valuesets({})
    assert coded(observation("final")) == []


def test_codes_remembered_as_raising_an_issue_report_it_again_at_their_own_path():
    """terminology.check_binding remembers the issue a binding raised for the same codes; the
    issue comes back the same, at the path of each new occurrence."""
    from ehelse.fhir.validation import validate
    from ehelse.fhir.validation.primitives import clear_known

    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"

    def patient(*types: list[tuple[str, str]]) -> dict:
        return {"resourceType": "Patient", "identifier": [
            {"type": {"coding": [{"system": s, "code": c} for s, c in codings]}, "value": "1"}
            for codings in types]}

    def coded(resource: dict) -> list[tuple[str, str, str]]:
        return [(i.severity, i.expression, i.diagnostics) for i in validate(resource)
                if i.code == "code-invalid"]

    clear_known()
    message = f"{v2}#SS is not in the extensible value set http://hl7.org/fhir/ValueSet/identifier-type"
    first = coded(patient([(v2, "SS")]))
    assert first == [("warning", "Patient.identifier[0].type.coding[0].code", message)]
    again = coded(patient([(v2, "MR")], [(v2, "SS")], [(v2, "SS")]))
    assert again == [("warning", f"Patient.identifier[{i}].type.coding[0].code", message) for i in (1, 2)]
    two = coded(patient([(v2, "SS"), (v2, "XX")]))
    assert two == [("warning", "Patient.identifier[0].type",
                    f"{v2}#SS, {v2}#XX is not in the extensible value set "
                    "http://hl7.org/fhir/ValueSet/identifier-type")]
    assert coded(patient([(v2, "SS"), (v2, "XX")])) == two
    assert coded(patient([(v2, "SS"), (v2, "MR")])) == []  # one coding in the set suffices
