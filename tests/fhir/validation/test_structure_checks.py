"""The structural pass on small hand-written resources: each check, and where it points."""

from __future__ import annotations

from ehelse.fhir.jsoncodec import loads
from ehelse.fhir.validation import validate


def errors(resource):
    return [(i.expression, i.code) for i in validate(resource) if i.is_error]


def expressions(resource):
    return [e for e, _ in errors(resource)]


def patient(**elements):
    return {"resourceType": "Patient", **elements}


def obs(**elements):
    base = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    base.update(elements)
    return base


def test_a_valid_patient_has_no_errors():
    assert errors(patient(id="p1", active=True, name=[{"family": "Nordmann", "given": ["Kari", "Ola"]}],
                          birthDate="1980-02-29", gender="female")) == []


def test_not_an_object_and_missing_or_unknown_resource_type():
    assert errors([1]) == [("$this", "structure")]
    assert errors({"id": "x"}) == [("resourceType", "required")]
    assert errors({"resourceType": "Patiant"}) == [("resourceType", "structure")]
    assert errors({"resourceType": "DomainResource"}) == [("resourceType", "structure")]


def test_unknown_element_is_an_error_with_its_path():
    assert errors(patient(name=[{"family": "N", "middle": "x"}])) == [("Patient.name[0].middle", "structure")]
    assert errors(patient(favouriteColour="blue")) == [("Patient.favouriteColour", "structure")]


def test_array_where_array_and_single_where_single():
    assert expressions(patient(name={"family": "N"})) == ["Patient.name"]
    assert expressions(patient(gender=["male"])) == ["Patient.gender"]
    assert expressions(patient(name=[])) == ["Patient.name"]
    assert expressions(patient(name=[{}])) == ["Patient.name[0]"]


def test_primitive_types_point_at_the_item():
    assert expressions(patient(name=[{"given": ["Kari", 3]}])) == ["Patient.name[0].given[1]"]
    assert expressions(patient(active="true")) == ["Patient.active"]
    assert expressions(patient(birthDate="2020-02-30")) == ["Patient.birthDate"]


def test_complex_where_primitive_and_primitive_where_complex():
    assert expressions(patient(maritalStatus="M")) == ["Patient.maritalStatus"]
    assert expressions(patient(gender={"value": "male"})) == ["Patient.gender"]


def test_choice_types_have_exactly_one_form():
    assert errors(obs(valueString="70 kg")) == []
    assert expressions(obs(valueString="70", valueInteger=70)) == ["Observation.valueInteger"]
    assert expressions(obs(valueText="70")) == ["Observation.valueText"]
    assert expressions(obs(valueQuantity={"value": "70"})) == ["Observation.valueQuantity.value"]


def test_cardinality_minimum():
    assert errors({"resourceType": "Observation", "code": {"text": "x"}}) == [("Observation.status", "required")]
    assert ("Observation.code", "required") in errors({"resourceType": "Observation", "status": "final"})


def test_a_primitive_extension_satisfies_a_required_element():
    absent = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                             "valueCode": "unknown"}]}
    assert errors({"resourceType": "Observation", "_status": absent, "code": {"text": "x"}}) == []


def test_primitive_extensions_shape():
    ext = {"url": "http://example.org/x", "valueString": "y"}
    assert errors(patient(birthDate="1980", _birthDate={"extension": [ext]})) == []
    assert errors(patient(name=[{"given": ["A", None], "_given": [None, {"extension": [ext]}]}])) == []
    assert expressions(patient(name=[{"given": ["A", None]}])) == ["Patient.name[0].given[1]"]
    assert expressions(patient(name=[{"given": ["A"], "_given": [None, None]}])) == ["Patient.name[0]._given"]
    assert expressions(patient(_name={"id": "x"})) == ["Patient._name"]
    assert expressions(patient(_birthDate={"colour": "x"})) == ["Patient.birthDate.colour"]


def test_extensions_are_well_formed():
    good = {"url": "http://example.org/x", "valueString": "y"}
    assert errors(patient(extension=[good])) == []
    assert errors(patient(extension=[{"url": "http://example.org/x", "extension": [good]}])) == []
    assert expressions(patient(extension=[{"valueString": "y"}])) == ["Patient.extension[0].url"]
    assert expressions(patient(extension=[{"url": "http://example.org/x"}])) == ["Patient.extension[0]"]
    both = {"url": "http://example.org/x", "valueString": "y", "extension": [good]}
    assert expressions(patient(extension=[both])) == ["Patient.extension[0]"]
    assert expressions(patient(modifierExtension=[{"url": "http://example.org/x", "valueFoo": 1}])) == [
        "Patient.modifierExtension[0].valueFoo"]
    # ext-1 is checked at the end of the Extension table's generated walk (walker.extension_tail):
    # a `_valueString` alone is no value[x]; an empty extension breaks ext-1 too
    alone = {"url": "http://example.org/x", "_valueString": {"extension": [good]}}
    assert errors(patient(extension=[alone])) == [("Patient.extension[0]", "structure")]
    assert errors(patient(extension=[{**alone, "extension": [good]}])) == []
    assert errors(patient(extension=[{}])) == [("Patient.extension[0]", "structure")] * 2
    assert errors(patient(extension=[{"url": "http://example.org/x", "valueString": "y", "valueCode": "z"}])) == [
        ("Patient.extension[0].valueCode", "structure")]


def test_contained_resources_are_validated_and_not_nested():
    org = {"resourceType": "Organization", "id": "o1", "name": "Sykehuset"}
    assert errors(patient(contained=[org], managingOrganization={"reference": "#o1"})) == []
    bad = dict(org, colour="x")
    assert "Patient.contained[0].colour" in expressions(patient(contained=[bad], managingOrganization={"reference": "#o1"}))
    nested = dict(org, contained=[{"resourceType": "Organization", "id": "o2", "name": "x"}])
    assert "Patient.contained[0].contained" in expressions(patient(contained=[nested],
                                                                   managingOrganization={"reference": "#o1"}))


def test_resources_inside_a_bundle_are_validated_with_their_paths():
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
                         "resource": patient(birthDate="1980-13-01")}]}
    assert expressions(bundle) == ["Bundle.entry[0].resource.birthDate"]


def test_content_references_are_followed():
    questionnaire = {"resourceType": "Questionnaire", "status": "draft",
                     "item": [{"linkId": "1", "type": "group", "item": [{"type": "string"}]}]}
    assert expressions(questionnaire) == ["Questionnaire.item[0].item[0].linkId"]


def test_decimals_keep_their_text_and_are_valid():
    resource = loads(b'{"resourceType":"Observation","status":"final","code":{"text":"w"},'
                     b'"valueQuantity":{"value":72.50,"unit":"kg"}}')
    assert errors(resource) == []


def test_all_issues_are_reported_not_only_the_first():
    found = expressions(patient(active="yes", gender=["x"], colour=1, birthDate="2020-02-30"))
    assert sorted(found) == ["Patient.active", "Patient.birthDate", "Patient.colour", "Patient.gender"]


def test_null_is_not_a_value():
    assert expressions(patient(active=None)) == ["Patient.active"]
    assert expressions(patient(maritalStatus=None)) == ["Patient.maritalStatus"]


def test_required_binding_on_a_code():
    assert [(e, c) for e, c in errors(patient(gender="kvinne"))] == [("Patient.gender", "code-invalid")]
    assert errors(obs(status="done")) == [("Observation.status", "code-invalid")]


def test_a_required_choice_is_reported_by_its_fhirpath_name():
    # MedicationAdministration.effective[x] is 1..1; FHIRPath names it without [x]
    found = errors({"resourceType": "MedicationAdministration", "status": "completed",
                    "medicationCodeableConcept": {"text": "x"}, "subject": {"reference": "Patient/1"}})
    assert found == [("MedicationAdministration.effective", "required")]


def test_simple_quantity_has_no_comparator():
    # Observation.referenceRange.low is a SimpleQuantity (datatypes.html#SimpleQuantity)
    good = obs(referenceRange=[{"low": {"value": 1, "unit": "kg"}}])
    assert errors(good) == []
    bad = obs(referenceRange=[{"low": {"value": 1, "comparator": "<"}}])
    assert errors(bad) == [("Observation.referenceRange[0].low.comparator", "structure")]
    assert errors(obs(valueQuantity={"value": 1, "comparator": "<"})) == []  # a plain Quantity may


def test_contained_ids_are_unique():
    org = {"resourceType": "Organization", "id": "o1", "name": "A"}
    twice = patient(contained=[org, dict(org)], managingOrganization={"reference": "#o1"})
    assert expressions(twice) == ["Patient.contained[1].id"]


def test_a_choice_with_a_primitive_extension_is_still_one_form():
    ext = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    assert errors(obs(valueString="70", _valueString=ext)) == []
    assert errors(obs(_valueString=ext)) == []
    assert expressions(obs(valueBoolean=True, _valueString=ext)) == ["Observation._valueString"]
    assert expressions(obs(_valueString=ext, valueBoolean=True)) == ["Observation.valueBoolean"]


def test_flat_objects_remembered_as_valid_are_only_ever_the_same_strings():
    """Walk.object remembers flat objects (a Coding of strings) found valid; an object that
    compares equal only through Python's 1 == True must still be checked, and so must the
    same keys with another value, and a table's objects after clear_known."""
    from ehelse.fhir.validation.model import model
    from ehelse.fhir.validation.primitives import clear_known

    def category(**coding):
        return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "category": [{"coding": [{"system": "http://example.org/cs", **coding}]}]}

    def errors(resource):
        return [i.expression for i in validate(resource) if i.is_error]

    assert errors(category(code="a")) == []
    assert errors(category(code="a")) == []
    assert (("system", "http://example.org/cs"), ("code", "a")) in model().tables["Coding"].known
    assert errors(category(code="a b  c")) == ["Observation.category[0].coding[0].code"]
    assert errors(category(code="a", userSelected=True)) == []
    assert errors(category(code="a", userSelected=1)) == ["Observation.category[0].coding[0].userSelected"]
    assert errors(category(code="a", userSelected="true")) == ["Observation.category[0].coding[0].userSelected"]
    clear_known()
    assert model().tables["Coding"].known == set()
    assert errors(category(code="a ")) == ["Observation.category[0].coding[0].code"]


def test_long_strings_do_not_make_flat_objects_remembered():
    """A flat object is remembered only when its strings are short: the set of known objects
    must not hold on to large texts (a Coding whose display is a megabyte)."""
    from ehelse.fhir.validation.model import model

    long_display = "x" * 100_000
    resource = {"resourceType": "Observation", "status": "final", "code": {"coding": [
        {"system": "http://example.org/cs", "code": "long", "display": long_display}]}}
    assert [i.expression for i in validate(resource) if i.is_error] == []
    assert not any(long_display in dict(items).values() for items in model().tables["Coding"].known)
    assert model().tables["Narrative"].known is None and model().tables["Attachment"].known is None
