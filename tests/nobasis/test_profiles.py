"""no-basis profiles in the validator: the package's examples, broken variants of them, both
URL forms, unresolvable national bindings, and the `required_profiles` setting."""

from __future__ import annotations

import copy
import json
import tarfile

import pytest

from ehelse.fhir.validation import validate
from ehelse.fhir.validation.profiles import REGISTRY
from ehelse.nobasis.identifiers import check_resource_identifiers
from ehelse.nobasis.profiles import (
    NOBASIS, other_form, package, parse_required_profiles, required_profile_issues,
)
from ehelse.settings import Settings

SHORT = "http://hl7.no/fhir/StructureDefinition/no-basis-"
# The two examples whose FNRs fail their check digits (DOMAIN.md): rejected for that reason.
BAD_FNR = {"Patient-EspenEksempel.json", "Patient-Pasient-Middle-Name-1.json"}
EXAMPLE_NAMES = [
    "Appointment-AppointmentExample.json", "AppointmentResponse-PatientAppointmentResponseExample.json",
    "HealthcareService-no-basis-HealthcareService-example.json",
    "Organization-Direktoratet-for-eHelse-Organization.json", "Patient-EspenEksempel.json",
    "Patient-JanniceSoreng.json", "Patient-JanniceSorengTo.json", "Patient-Pasient-1.json",
    "Patient-Pasient-Middle-Name-1.json", "Patient-PatientExample.json",
    "Practitioner-Magnar-Komann-Practitioner.json", "Procedure-no-basis-Procedure-example.json",
    "RelatedPerson-Solid-Aresdoktor-RelatedPerson.json", "RelatedPerson-Sorgard-Erlend-RelatedPerson.json",
]


@pytest.fixture(scope="module")
def examples(shared_dir) -> dict[str, dict]:
    found = {}
    with tarfile.open(shared_dir / "fhir" / "hl7.fhir.no.basis-2.2.3.tgz") as tar:
        for member in tar.getmembers():
            if member.name.startswith("package/example/") and member.name.endswith(".json"):
                found[member.name.rsplit("/", 1)[1]] = json.load(tar.extractfile(member))
    return found


def errors(issues):
    return [(i.expression, i.diagnostics) for i in issues if i.is_error]


def profile_errors(resource, url=None):
    url = url or NOBASIS + resource["resourceType"]
    return errors(validate(resource, profiles=[url]))


def test_the_package_examples_are_the_ones_expected(examples):
    assert sorted(examples) == sorted(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_validates_against_its_claims_and_its_no_basis_profile(examples, name):
    resource = examples[name]
    assert errors(validate(resource)) == []
    assert profile_errors(resource) == []  # ig URL form
    assert profile_errors(resource, SHORT + resource["resourceType"]) == []  # published form
    identifier_errors = errors(check_resource_identifiers(resource))
    if name in BAD_FNR:
        assert identifier_errors and identifier_errors[0][0] == "Patient.identifier[0].value"
        assert "Fødselsnummer" in identifier_errors[0][1]
    else:
        assert identifier_errors == []


def test_the_two_bad_fnrs_are_rejected_for_their_check_digits(examples):
    espen = check_resource_identifiers(examples["Patient-EspenEksempel.json"])
    middle = check_resource_identifiers(examples["Patient-Pasient-Middle-Name-1.json"])
    assert [(i.severity, i.expression) for i in espen] == [("error", "Patient.identifier[0].value")]
    assert "digits only" in espen[0].diagnostics  # 210377xxxxx
    assert [(i.severity, i.expression) for i in middle] == [("error", "Patient.identifier[0].value")]
    assert "check digits" in middle[0].diagnostics  # 15064312345


def test_profiles_are_really_applied_to_the_examples(examples):
    """An unresolvable Volven binding (kommunenummer) is reported as a warning: proof that the
    no-basis Address profile and its extension definitions were walked, without an error."""
    issues = validate(examples["Patient-JanniceSoreng.json"])
    warnings = [(i.expression, i.diagnostics) for i in issues if i.severity == "warning"]
    assert any("urn:oid:2.16.578.1.12.4.1.1.3402" in d and "not checked" in d for _, d in warnings)
    assert all(not i.is_error for i in issues)


# -- broken variants ------------------------------------------------------------------------
def with_hnr(resource: dict, **changes) -> dict:
    hnr = {"type": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.8327", "code": "HNR"}]},
           "system": "HNR", "value": "13116900216", "assigner": {"display": "Sykehuset"}}
    hnr.update(changes)
    broken = copy.deepcopy(resource)
    broken["identifier"].append(hnr)
    return broken


def test_a_conformant_hnr_identifier_passes(examples):
    assert profile_errors(with_hnr(examples["Patient-Pasient-1.json"])) == []


def test_wrong_fixed_value_is_rejected(examples):
    broken = with_hnr(examples["Patient-Pasient-1.json"],
                      type={"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.8327", "code": "XXX"}]})
    found = profile_errors(broken)
    assert [e for e, _ in found] == ["Patient.identifier[1].type.coding[0].code"]
    assert "'HNR'" in found[0][1] and "no-basis-Patient" in found[0][1]


def test_missing_element_the_profile_makes_required_is_rejected(examples):
    broken = with_hnr(examples["Patient-Pasient-1.json"])
    del broken["identifier"][1]["assigner"]  # 0..1 in R4, 1..1 in the HNR slice
    found = profile_errors(broken)
    assert [e for e, _ in found] == ["Patient.identifier[1].assigner"]
    assert "assigner needs at least 1" in found[0][1]


def test_a_slice_cardinality_violated_inside_a_data_type_profile(examples):
    """no-basis-Patient types address as no-basis-Address, whose `official` extension slice is
    0..1: two of them break it (the type profile is applied to Patient.address)."""
    broken = copy.deepcopy(examples["Patient-JanniceSoreng.json"])
    official = {"url": "http://hl7.no/fhir/StructureDefinition/no-basis-address-official", "valueBoolean": True}
    broken["address"][0]["extension"].append(official)
    found = profile_errors(broken)
    assert [e for e, _ in found] == ["Patient.address[0].extension"]
    assert "official allows at most 1" in found[0][1] and "no-basis-Address" in found[0][1]


def test_an_extension_with_the_wrong_value_type_is_rejected(examples):
    broken = copy.deepcopy(examples["Patient-JanniceSoreng.json"])
    extension = broken["address"][0]["_district"]["extension"][0]
    extension["valueString"] = extension.pop("valueCoding")["code"]  # the definition says Coding
    found = errors(validate(broken))
    assert [e for e, _ in found] == ["Patient.address[0].district.extension[0].valueString"]
    assert "no-basis-municipalitycode" in found[0][1]


def test_a_code_outside_a_no_basis_required_value_set_is_rejected(examples):
    broken = copy.deepcopy(examples["RelatedPerson-Solid-Aresdoktor-RelatedPerson.json"])
    broken["relationship"][1]["coding"][0]["code"] = "bestemor"  # parental responsibility slice
    found = profile_errors(broken)
    assert [e for e, _ in found] == ["RelatedPerson.relationship[1].coding[0].code"]
    assert "no-basis-parental-responsibility" in found[0][1]


def test_broken_variants_fail_under_both_url_forms(examples):
    broken = with_hnr(examples["Patient-Pasient-1.json"])
    del broken["identifier"][1]["assigner"]
    for url in (NOBASIS + "Patient", SHORT + "Patient"):
        claimed = copy.deepcopy(broken)
        claimed["meta"] = {"profile": [url]}
        assert [e for e, _ in errors(validate(claimed))] == ["Patient.identifier[1].assigner"], url


def test_claiming_both_forms_checks_the_profile_once(examples):
    broken = with_hnr(examples["Patient-Pasient-1.json"])
    del broken["identifier"][1]["assigner"]
    broken["meta"] = {"profile": [NOBASIS + "Patient", SHORT + "Patient"]}
    assert len(errors(validate(broken))) == 1


# -- the two URL forms and the data ---------------------------------------------------------
def test_url_forms():
    assert other_form(NOBASIS + "Patient") == SHORT + "Patient"
    assert other_form(SHORT + "Patient") == NOBASIS + "Patient"
    assert other_form("http://hl7.org/fhir/StructureDefinition/bp") is None
    assert REGISTRY.canonical(SHORT + "Patient") == NOBASIS + "Patient"
    assert REGISTRY.get(SHORT + "Patient") is REGISTRY.get(NOBASIS + "Patient")
    # extensions keep their one exact URL (Extension.url is not an alias)
    assert "http://hl7.no/fhir/StructureDefinition/no-basis-middlename" in REGISTRY.extension_urls()
    assert "http://hl7.no/fhir/ig/StructureDefinition/no-basis-middlename" not in REGISTRY.extension_urls()


def test_the_generated_data_names_its_source():
    info = package()
    assert (info["name"], info["version"], info["license"]) == ("hl7.fhir.no.basis", "2.2.3-test", "CC0-1.0")
    for kind in ("Patient", "Practitioner", "Organization", "RelatedPerson", "Address", "HumanName"):
        assert REGISTRY.get(NOBASIS + kind) is not None, kind


# -- required profiles ----------------------------------------------------------------------
def settings(value: str) -> Settings:
    return Settings.from_env({"EHELSE_REQUIRED_PROFILES": value})


def test_required_profiles_setting_parses():
    assert settings("").required_profiles == ""
    value = f"Patient={NOBASIS}Patient, Practitioner={SHORT}Practitioner"
    assert parse_required_profiles(value) == {"Patient": (NOBASIS + "Patient",),
                                              "Practitioner": (SHORT + "Practitioner",)}
    with pytest.raises(ValueError, match="Type=profile-url"):
        parse_required_profiles("Patient")


def test_required_profile_rejects_a_nonconformant_resource_that_does_not_claim_it(examples):
    broken = with_hnr(examples["Patient-Pasient-1.json"])
    del broken["identifier"][1]["assigner"]
    broken.pop("meta")
    found = required_profile_issues(broken, settings(f"Patient={SHORT}Patient"))
    assert [(i.severity, i.expression) for i in found] == [
        ("error", "Patient.meta.profile"), ("error", "Patient.identifier[1].assigner")]
    assert "requires Patient resources to conform" in found[0].diagnostics


def test_required_profile_accepts_conformant_and_skips_claimed(examples):
    required = settings(f"Patient={NOBASIS}Patient")
    unclaimed = copy.deepcopy(examples["Patient-Pasient-1.json"])
    unclaimed.pop("meta")
    assert required_profile_issues(unclaimed, required) == []
    claimed_broken = with_hnr(examples["Patient-Pasient-1.json"])  # claims it: validate() checks
    del claimed_broken["identifier"][1]["assigner"]
    assert required_profile_issues(claimed_broken, required) == []
    assert errors(validate(claimed_broken))  # ... and validate() does reject it
    assert required_profile_issues(examples["Practitioner-Magnar-Komann-Practitioner.json"], required) == []
    assert required_profile_issues(unclaimed, settings("")) == []


def test_required_profile_misconfiguration_is_an_error_not_a_crash(examples):
    patient = examples["Patient-Pasient-1.json"]
    unknown = required_profile_issues(patient, settings("Patient=http://example.org/nope"))
    assert [(i.severity, i.code) for i in unknown] == [("error", "not-supported")]
    wrong_type = required_profile_issues(patient, settings(f"Patient={NOBASIS}Practitioner"))
    assert [(i.severity, i.code) for i in wrong_type] == [("error", "not-supported")]
    garbage = required_profile_issues(patient, settings("Patient"))
    assert [(i.severity, i.code) for i in garbage] == [("error", "exception")]


# -- the generated data is in sync with the package -----------------------------------------
def test_generated_data_matches_the_package(shared_dir):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_nobasis.py"
    spec = importlib.util.spec_from_file_location("gen_nobasis", script)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    from ehelse.fhir.definitions.structure import compact
    from ehelse.nobasis.profiles import _data

    package_path = shared_dir / "fhir" / "hl7.fhir.no.basis-2.2.3.tgz"
    expected = {sd["url"]: compact(sd) for sd in gen.read_structures(package_path)
                if sd.get("snapshot") and sd.get("derivation") == "constraint"}
    assert json.loads(json.dumps(expected)) == _data("profiles")["profiles"], \
        "run scripts/gen_nobasis.py: src/ehelse/nobasis/data is out of date"


# -- validator machinery this part added (profiles.py) --------------------------------------
def _profile(url: str, type_: str, elements: list[dict]) -> dict:
    def base(path):
        return {"path": path, "min": 0, "max": "*" if path == type_ else "1"}
    return {"resourceType": "StructureDefinition", "url": url, "name": url.rsplit("/", 1)[-1],
            "status": "active", "kind": "resource" if type_ == "Patient" else "complex-type",
            "abstract": False, "type": type_, "derivation": "constraint",
            "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{type_}",
            "snapshot": {"element": [{"id": type_, "path": type_, "min": 0, "max": "*", "base": base(type_)},
                                     *[{"id": e["path"], "base": base(e["path"]), **e} for e in elements]]}}


def test_an_element_with_two_type_profiles_needs_to_conform_to_one():
    """ElementDefinition.type.profile: with several profiles, conforming to any one is enough."""
    from ehelse.fhir.validation import register_profile

    root = "http://example.org/fhir/StructureDefinition/two-type-profiles-"
    register_profile(_profile(root + "city", "Address", [{"path": "Address.city", "min": 1, "max": "1"}]))
    register_profile(_profile(root + "postal", "Address",
                              [{"path": "Address.postalCode", "min": 1, "max": "1"}]))
    register_profile(_profile(root + "patient", "Patient", [
        {"path": "Patient.address", "min": 0, "max": "*",
         "type": [{"code": "Address", "profile": [root + "city", root + "postal"]}]}]))

    def check(address):
        resource = {"resourceType": "Patient", "address": [address]}
        return errors(validate(resource, profiles=[root + "patient"]))

    assert check({"city": "Oslo"}) == []
    assert check({"postalCode": "0150"}) == []
    found = check({"line": ["Storgata 1"]})
    assert [e for e, _ in found] == ["Patient.address[0].city"]  # reported against the first


def test_must_support_is_not_required():
    """profiling.html#mustsupport: must-support says a system must handle the element, not that
    an instance must carry it (no-basis 2.2.3 marks none, so a profile of our own shows it)."""
    from ehelse.fhir.validation import register_profile

    url = "http://example.org/fhir/StructureDefinition/must-support-patient"
    register_profile(_profile(url, "Patient", [
        {"path": "Patient.birthDate", "min": 0, "max": "1", "mustSupport": True},
        {"path": "Patient.gender", "min": 1, "max": "1", "mustSupport": True}]))
    assert errors(validate({"resourceType": "Patient", "gender": "male"}, profiles=[url])) == []
    assert [e for e, _ in errors(validate({"resourceType": "Patient"}, profiles=[url]))] == ["Patient.gender"]
