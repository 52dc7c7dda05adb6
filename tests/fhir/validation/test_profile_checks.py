"""Profiles (profiling.html): core profiles, extension definitions, and registered ones."""

from __future__ import annotations

import copy

from ehelse.fhir.validation import register_profile, validate

BP = "http://hl7.org/fhir/StructureDefinition/bp"
VITALSIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


def loinc(code):
    return {"coding": [{"system": "http://loinc.org", "code": code}]}


def mmhg(value):
    return {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}


def blood_pressure():
    return {
        "resourceType": "Observation", "id": "bp", "status": "final",
        "meta": {"profile": [VITALSIGNS]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": loinc("85354-9"), "subject": {"reference": "Patient/1"},
        "effectiveDateTime": "2024-05-01T10:00:00+02:00",
        "component": [{"code": loinc("8480-6"), "valueQuantity": mmhg(120)},
                      {"code": loinc("8462-4"), "valueQuantity": mmhg(80)}],
    }


def issues(resource, profiles=None):
    return [(i.severity, i.expression, i.diagnostics) for i in validate(resource, profiles=profiles)
            if i.code != "invariant"]


def errors(resource, profiles=None):
    return [(e, d) for s, e, d in issues(resource, profiles) if s == "error"]


def test_a_conformant_blood_pressure_passes_bp_and_vitalsigns():
    assert errors(blood_pressure(), [BP]) == []


def test_slice_cardinality_by_pattern_discriminator():
    resource = blood_pressure()
    resource["component"][0]["code"] = loinc("1234-5")
    found = errors(resource, [BP])
    assert [e for e, _ in found] == ["Observation.component"]
    assert "SystolicBP" in found[0][1] and BP in found[0][1]


def test_fixed_value_inside_a_slice():
    resource = blood_pressure()
    resource["component"][1]["valueQuantity"]["code"] = "kg"
    assert [e for e, _ in errors(resource, [BP])] == ["Observation.component[1].valueQuantity.code"]


def test_profile_forbids_an_element_the_base_allows():
    resource = blood_pressure()
    resource["valueQuantity"] = mmhg(1)
    assert [e for e, _ in errors(resource, [BP])] == ["Observation.value"]


def test_meta_profile_is_validated_without_being_asked():
    resource = blood_pressure()
    del resource["category"]  # vitalsigns: category 1..*, with the VSCat slice
    found = [e for e, _ in errors(resource)]
    assert "Observation.category" in found


def test_unknown_profile_in_meta_is_a_warning_explicit_one_an_error():
    resource = blood_pressure()
    resource["meta"]["profile"].append("http://example.org/StructureDefinition/nope")
    found = issues(resource)
    assert [(s, e) for s, e, d in found if "nope" in d] == [("warning", "Observation.meta.profile")]
    assert [s for s, e, d in issues(blood_pressure(), ["http://example.org/nope"]) if "nope" in d] == ["error"]


def test_profile_of_another_type_is_an_error():
    patient = {"resourceType": "Patient"}
    assert [e for e, _ in errors(patient, [BP])] == ["Patient"]


def test_known_extension_definitions_are_applied():
    patient = {"resourceType": "Patient", "birthDate": "1980-01-01",
               "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                             "valueDateTime": "1980-01-01T10:00:00+01:00"}]}}
    assert errors(patient) == []
    patient["_birthDate"]["extension"][0] = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                             "valueString": "morning"}
    assert [e for e, _ in errors(patient)] == ["Patient.birthDate.extension[0].valueString"]


def _norwegian_patient_profile():
    """A small hand-made profile in the style of no-basis: identifier required, gender fixed
    to a pattern, a closed slicing of identifier by system."""
    base = "http://example.org/StructureDefinition/test-patient"
    element = lambda path, **kw: {"id": kw.pop("id", path), "path": path, "min": kw.pop("min", 0),  # noqa: E731
                                  "max": kw.pop("max", "*"), **kw}
    return base, {
        "resourceType": "StructureDefinition", "url": base, "name": "TestPatient", "status": "draft",
        "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "snapshot": {"element": [
            element("Patient", max="*"),
            element("Patient.identifier", min=1, type=[{"code": "Identifier"}],
                    slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"}),
            element("Patient.identifier", id="Patient.identifier:fnr", sliceName="fnr", min=0, max="1",
                    type=[{"code": "Identifier"}]),
            element("Patient.identifier.system", id="Patient.identifier:fnr.system", min=1, max="1",
                    type=[{"code": "uri"}], fixedUri="urn:oid:2.16.578.1.12.4.1.4.1"),
            element("Patient.gender", max="1", type=[{"code": "code"}], patternCode="female"),
        ]},
    }


def test_registered_profile_is_used():
    url, definition = _norwegian_patient_profile()
    assert register_profile(definition) == url
    fnr = {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13031353453"}
    good = {"resourceType": "Patient", "meta": {"profile": [url]}, "identifier": [fnr], "gender": "female"}
    assert errors(good) == []
    missing = copy.deepcopy(good)
    del missing["identifier"]
    assert [e for e, _ in errors(missing)] == ["Patient.identifier"]
    other = copy.deepcopy(good)
    other["identifier"].append({"system": "http://example.org/other", "value": "1"})
    assert [e for e, _ in errors(other)] == ["Patient.identifier[1]"]
    twice = copy.deepcopy(good)
    twice["identifier"].append(dict(fnr))
    assert [e for e, _ in errors(twice)] == ["Patient.identifier"]
    male = dict(good, gender="male")
    assert [e for e, _ in errors(male)] == ["Patient.gender"]


def test_profiles_claimed_inside_a_bundle_are_checked_at_their_path():
    resource = blood_pressure()
    resource["component"][0]["code"] = loinc("1234-5")
    resource["meta"]["profile"] = [BP]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "http://example.org/fhir/Observation/bp", "resource": resource}]}
    found = errors(bundle)
    assert [e for e, _ in found] == ["Bundle.entry[0].resource.component"]


def test_unknown_profile_inside_a_bundle_is_a_warning_at_its_path():
    patient = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/nope"]}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    assert [(s, e) for s, e, d in issues(bundle) if "nope" in d] == [
        ("warning", "Bundle.entry[0].resource.meta.profile")]


def test_max_length_from_a_profile():
    url = "http://example.org/StructureDefinition/short-name"
    register_profile({
        "resourceType": "StructureDefinition", "url": url, "name": "ShortName", "status": "draft",
        "kind": "resource", "abstract": False, "type": "Organization", "derivation": "constraint",
        "snapshot": {"element": [
            {"id": "Organization", "path": "Organization", "min": 0, "max": "*"},
            {"id": "Organization.name", "path": "Organization.name", "min": 0, "max": "1",
             "type": [{"code": "string"}], "maxLength": 5},
        ]},
    })
    assert errors({"resourceType": "Organization", "name": "Kort"}, [url]) == []
    assert [e for e, _ in errors({"resourceType": "Organization", "name": "Sykehuset"}, [url])] == [
        "Organization.name"]


BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"


def test_an_extension_is_only_allowed_in_its_context():
    on_birth_date = {"resourceType": "Patient", "birthDate": "1980-01-01",
                     "_birthDate": {"extension": [{"url": BIRTH_TIME, "valueDateTime": "1980-01-01T10:00:00+01:00"}]}}
    assert errors(on_birth_date) == []
    on_name = {"resourceType": "Patient", "name": [{"family": "N", "extension": [
        {"url": BIRTH_TIME, "valueDateTime": "1980-01-01T10:00:00+01:00"}]}]}
    found = errors(on_name)
    assert [e for e, _ in found] == ["Patient.name[0].extension[0]"]
    assert "Patient.birthDate" in found[0][1]


def test_extension_context_inside_a_bundle_is_relative_to_the_entry():
    patient = {"resourceType": "Patient", "birthDate": "1980-01-01",
               "_birthDate": {"extension": [{"url": BIRTH_TIME, "valueDateTime": "1980-01-01T10:00:00+01:00"}]}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    assert errors(bundle) == []
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "extension": [{"url": BIRTH_TIME, "valueDateTime": "1980-01-01T10:00:00+01:00"}]}
    bundle["entry"].append({"resource": observation})
    assert [e for e, _ in errors(bundle)] == ["Bundle.entry[1].resource.extension[0]"]


def test_elements_a_profile_leaves_as_the_base_are_skipped_but_its_narrowings_are_checked():
    """Profile.prune leaves out elements that cannot report anything after the structural
    pass; a maximum below the base's deep under such elements, and a minimum the structure
    counts differently (`_gender` alone), are still checked."""
    url = "http://example.org/StructureDefinition/one-given-name"
    register_profile({
        "resourceType": "StructureDefinition", "url": url, "name": "OneGivenName", "status": "draft",
        "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
        "snapshot": {"element": [
            {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
            {"id": "Patient.id", "path": "Patient.id", "min": 0, "max": "1", "type": [{"code": "id"}]},
            {"id": "Patient.name", "path": "Patient.name", "min": 0, "max": "*", "type": [{"code": "HumanName"}]},
            {"id": "Patient.name.family", "path": "Patient.name.family", "min": 0, "max": "1",
             "type": [{"code": "string"}]},
            {"id": "Patient.name.given", "path": "Patient.name.given", "min": 0, "max": "1",
             "type": [{"code": "string"}]},
            {"id": "Patient.gender", "path": "Patient.gender", "min": 1, "max": "1", "type": [{"code": "code"}]},
        ]},
    })
    from ehelse.fhir.validation.profiles import REGISTRY

    root = REGISTRY.get(url).root
    assert [name for name, _, _ in root.checked] == ["name", "gender"]  # id: as the base
    assert [name for name, _, _ in root.children["name"].checked] == ["given"]
    good = {"resourceType": "Patient", "name": [{"family": "N", "given": ["Kari"]}], "gender": "female"}
    assert errors(good, [url]) == []
    two = {**good, "name": [{"family": "N", "given": ["Kari", "Anne"]}]}
    assert [e for e, _ in errors(two, [url])] == ["Patient.name[0].given"]
    absent = {"resourceType": "Patient", "_gender": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}
    assert [e for e, _ in errors(absent, [url])] == ["Patient.gender"]


MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"


def test_cardinality_and_choice_forms_of_extension_definitions():
    """Elements whose only check is their count, and value[x] with only its allowed forms,
    are counted without building their values (Constraint.count_only); what they report
    must not change: a form the definition does not allow, too many, too few."""
    def patient(maiden=None, geo=None):
        resource = {"resourceType": "Patient",
                    "extension": [maiden or {"url": MAIDEN_NAME, "valueString": "Boyle"}],
                    "address": [{"city": "Bergen", "extension": [geo or {"url": GEOLOCATION, "extension": [
                        {"url": "latitude", "valueDecimal": 60.39}, {"url": "longitude", "valueDecimal": 5.32}]}]}]}
        return resource

    assert errors(patient()) == []
    found = errors(patient(maiden={"url": MAIDEN_NAME, "valueInteger": 3}))
    assert [e for e, _ in found] == ["Patient.extension[0].valueInteger"]
    assert "only as string" in found[0][1]
    found = errors(patient(maiden={"url": MAIDEN_NAME, "extension": [{"url": "x", "valueString": "y"}]}))
    assert ("Patient.extension[0].extension", ) == tuple(e for e, m in found if "at most 0" in m)
    geo = {"url": GEOLOCATION, "extension": [{"url": "latitude", "valueDecimal": 60.39}] * 2}
    found = errors(patient(geo=geo))
    assert ["Patient.address[0].extension[0].extension"] * 2 == [e for e, _ in found]
    assert any("extension:latitude allows at most 1" in m for _, m in found)
    assert any("extension:longitude needs at least 1" in m for _, m in found)
    geo = {"url": GEOLOCATION, "valueString": "60.39,5.32"}
    found = errors(patient(geo=geo))
    assert any(e == "Patient.address[0].extension[0].value" and "at most 0" in m for e, m in found)
