"""The SearchParameter registry and index extraction: coverage of the official definitions,
compiled accessors against fhirpathpy, values per type, Norwegian folding, speed."""

from __future__ import annotations

import json
import tarfile

import fhirpathpy
import pytest
from fhirpathpy.models import models

from ehelse.fhir import jsoncodec
from ehelse.search import values
from ehelse.search.extract import choice_names, compile_counts, index_rows
from ehelse.search.normalize import normalize
from ehelse.search.paths import accessor_for, split_union
from ehelse.search.registry import compartments, registry


# -- the registry ------------------------------------------------------------------------------------
def test_every_resource_type_has_the_common_parameters():
    reg = registry()
    assert len(reg.types()) == 146
    for type in reg.types():
        params = reg.for_type(type)
        for code in ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_content"):
            assert code in params, (type, code)
        assert ("_text" in params) == (type not in ("Bundle", "Binary", "Parameters"))


def test_union_expressions_are_split_per_base_type():
    reg = registry()
    assert reg.get("Practitioner", "given").expression == "Practitioner.name.given"
    assert reg.get("Patient", "given").expression == "Patient.name.given"
    assert reg.get("Observation", "patient").expression == "Observation.subject.where(resolve() is Patient)"
    assert reg.get("Patient", "_tag").expression == "Patient.meta.tag"
    code = reg.get("Observation", "code")
    assert (code.type, code.strategy, code.table) == ("token", "token_index", "token_index")


def test_composites_know_their_components():
    combo = registry().get("Observation", "component-code-value-quantity")
    assert combo.strategy == "composite"
    assert [(c.code, c.type, c.expression) for c in combo.components] == [
        ("component-code", "token", "code"), ("component-value-quantity", "quantity", "value.as(Quantity)")]


def test_no_basis_parameters_and_special_ones():
    reg = registry()
    middlename = reg.get("Patient", "middlename")
    assert middlename.type == "string" and "no-basis-middlename" in middlename.expression
    assert reg.get("Location", "near").strategy == "unsupported"
    assert reg.get("Patient", "_id").strategy == "column"
    assert "near" not in reg.searchable("Location") and "name" in reg.searchable("Location")


def test_compartment_definitions():
    patient = compartments()["Patient"]
    assert set(patient["Observation"]) == {"subject", "performer"}
    assert set(compartments()) == {"Patient", "Encounter", "RelatedPerson", "Practitioner", "Device"}


def test_most_expressions_compile_to_direct_accessors():
    compiled, fallback = compile_counts()
    # 2,437 expressions (a Resource-level parameter counts once per type); 4 need fhirpathpy:
    # Patient.deceased.exists() and ..., QuestionnaireResponse subject's hasExtension(), and
    # MolecularSequence's %resource components.
    print(f"compiled {compiled}, fhirpathpy {fallback}")
    assert compiled >= 2400
    assert fallback <= 6


# -- compiled accessors agree with fhirpathpy on the official examples ---------------------------------
@pytest.fixture(scope="module")
def examples(shared_dir) -> list[dict]:
    found = []
    with tarfile.open(shared_dir / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                found.append(jsoncodec.loads(tar.extractfile(member).read(), max_depth=10_000))
    assert len(found) == 705
    return found


def _canonical(values_: list) -> list[str]:
    # `|` is a union in FHIRPath (duplicates removed); index rows are deduplicated anyway
    return sorted({json.dumps(v, sort_keys=True, default=float) for v in values_})


def test_compiled_accessors_select_what_fhirpathpy_selects(examples):
    model = models["r4"]
    seen_types: set[str] = set()
    checked = 0
    for resource in examples:
        type = resource["resourceType"]
        if type in seen_types:  # one example per type keeps this fast
            continue
        seen_types.add(type)
        for param in registry().for_type(type).values():
            if not param.expression or "resolve()" in param.expression or param.strategy == "composite":
                continue
            try:
                expected = fhirpathpy.evaluate(jsoncodec.loads(jsoncodec.dumps(resource)), param.expression, model=model)
            except Exception:  # noqa: BLE001 - fhirpathpy cannot evaluate a few official expressions
                continue
            accessor, compiled = accessor_for(param.expression, choice_names())
            if not compiled:
                continue
            mine = accessor(resource)
            assert _canonical(mine) == _canonical(expected), (type, param.code, param.expression)
            checked += 1
    assert checked > 500


def test_every_official_example_indexes(examples):
    total = 0
    for resource in examples:
        rows = index_rows(resource)
        total += len(rows)
        for row in rows:
            assert row.param and len(row.values) == {
                "token_index": 4, "string_index": 3, "date_index": 3, "number_index": 4, "quantity_index": 8,
                "reference_index": 5, "uri_index": 2, "text_index": 2}[row.table]
    assert total > 5_000


# -- values per type ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, folded", [
    ("Østby", "ostby"), ("Åsen", "asen"), ("Ærø", "aero"), ("JOSÉ", "jose"), ("Müller", "muller"),
    ("Bjørnstjerne", "bjornstjerne"), ("plain", "plain"),
])
def test_norwegian_folding(text, folded):
    assert normalize(text) == folded


def test_token_values():
    assert values.token({"coding": [{"system": "http://loinc.org", "code": "1", "display": "Blod"}], "text": "Blodtrykk"}) \
        == [("http://loinc.org", "1", "blod"), ("", "", "blodtrykk")]
    assert values.token({"coding": [{"code": "1", "display": "Blod"}], "text": "blod"}) == [("", "1", "blod")]
    assert values.token(True) == [("", "true", None)]
    assert values.token({"system": "http://hl7.no/fhir/NamingSystem/FNR", "value": "1"}) \
        == [("urn:oid:2.16.578.1.12.4.1.4.1", "1", None)]
    assert values.token({"system": "phone", "value": "99"}) == [("phone", "99", None)]


def test_string_values_expand_names_and_addresses():
    name = {"family": "Østby", "given": ["Åse", "Marie"], "prefix": ["Dr."]}
    assert {v for v, _ in values.string(name)} == {"ostby", "ase", "marie", "dr."}
    address = {"line": ["Storgata 1"], "city": "Tromsø", "postalCode": "9008", "country": "NO"}
    assert {v for v, _ in values.string(address)} == {"storgata 1", "tromso", "9008", "no"}


def test_date_values_cover_their_precision():
    assert values.date("2024") == [("2024-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z")]
    assert values.date("2024-02-03T10:00:00+01:00") == [("2024-02-03T09:00:00.000000Z", "2024-02-03T09:00:01.000000Z")]
    assert values.date({"start": "2024-01-01"}) == [("2024-01-01T00:00:00.000000Z", values.HIGH_INSTANT)]
    assert values.date({"event": ["2024-01-05", "2024-01-02"]}) == \
        [("2024-01-02T00:00:00.000000Z", "2024-01-06T00:00:00.000000Z")]
    assert values.date("not a date") == []


def test_number_and_quantity_values():
    assert values.number(100) == [(100.0, 99.5, 100.5)]
    assert values.number(jsoncodec.Number("1.50")) == [(1.5, 1.495, 1.505)]
    row = values.quantity({"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"})[0]
    assert row[:3] == ("http://unitsofmeasure.org", "mg", 5.0) and row[5] == "g" and row[6] == pytest.approx(0.005)
    assert values.quantity({"value": 37, "unit": "Cel"})[0][5:] == ("K", pytest.approx(310.15))
    assert values.quantity({"value": 3, "code": "tablet"})[0][5:] == (None, None)


def test_reference_values():
    assert values.reference({"reference": "Patient/1/_history/2"}) == [("Patient", "1", "", "")]
    assert values.reference({"reference": "http://x.org/fhir/Patient/1"}) == \
        [("Patient", "1", "http://x.org/fhir/Patient/1", "")]
    assert values.reference("http://x.org/Questionnaire/q|2.0") == \
        [("Questionnaire", "q", "http://x.org/Questionnaire/q", "2.0")]
    assert values.reference({"reference": "#contained"}) == []


def test_composite_rows_keep_one_component_together():
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "BP"},
           "component": [{"code": {"coding": [{"system": "s", "code": "sys"}]}, "valueQuantity": {"value": 120}},
                         {"code": {"coding": [{"system": "s", "code": "dia"}]}, "valueQuantity": {"value": 80}}]}
    rows = [r for r in index_rows(obs) if r.param.startswith("component-code-value-quantity$")]
    groups = {}
    for row in rows:
        groups.setdefault(row.values[-1], []).append(row.values)
    by_code = {next(v[1] for v in vs if len(v) == 4): next(v[2] for v in vs if len(v) == 8) for vs in groups.values()}
    assert by_code == {"sys": 120.0, "dia": 80.0}


def test_split_union_respects_parentheses_and_strings():
    assert split_union("A.b | (A.c as X) | A.d.where(e = 'x|y')") == ["A.b", "(A.c as X)", "A.d.where(e = 'x|y')"]


# -- Synthea and speed -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthea(shared_dir) -> list[dict]:
    resources = []
    for path in sorted((shared_dir / "data" / "synthea-r4-dev").glob("*.json")):
        bundle = jsoncodec.loads(path.read_bytes(), max_depth=10_000)
        resources += [entry["resource"] for entry in bundle.get("entry", ())]
    return resources


def test_every_synthea_resource_indexes(synthea):
    assert len(synthea) > 5000
    by_type: dict[str, int] = {}
    for resource in synthea:
        by_type[resource["resourceType"]] = by_type.get(resource["resourceType"], 0) + len(index_rows(resource))
    assert by_type["Observation"] > 0 and by_type["Patient"] > 0 and by_type["Claim"] > 0


def test_every_synthea_observation_indexes_its_code_subject_and_date(synthea):
    """Extraction gives each Observation its most searched rows (its speed is in bench/)."""
    observations = [r for r in synthea if r["resourceType"] == "Observation"]
    assert observations
    for resource in observations:
        params = {row.param for row in index_rows(resource)}
        assert {"code", "subject", "date"} <= params, (resource.get("id"), sorted(params))

