"""Search by parameter type and modifier on SQLite and PostgreSQL, over small hand-made
resources whose expected matches follow from http://hl7.org/fhir/R4/search.html directly.

The data set is loaded once per backend (module scope); each case is one search.
"""

from __future__ import annotations

import pytest

from ehelse.errors import BadRequest
from ehelse.storage.protocol import SearchParam, SearchQuery

FNR_OID = "urn:oid:2.16.578.1.12.4.1.4.1"
FNR_URI = "http://hl7.no/fhir/NamingSystem/FNR"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ATC = "urn:oid:2.16.578.1.12.4.1.1.7180"


def quantity(value, code):
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def loinc(code, display=None, text=None):
    concept = {"coding": [{"system": LOINC, "code": code, **({"display": display} if display else {})}]}
    return {**concept, "text": text} if text else concept


RESOURCES = [
    {"resourceType": "Patient", "id": "p1", "active": True, "gender": "female", "birthDate": "1980-05-02",
     "name": [{"family": "Østby", "given": ["Åse"]}], "identifier": [{"system": FNR_OID, "value": "12345678901",
     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI"}]}}],
     "telecom": [{"system": "phone", "value": "99999999"}], "address": [{"city": "Tromsø", "postalCode": "9008"}],
     "meta": {"tag": [{"system": "http://example.org/tags", "code": "demo"}], "profile": ["http://hl7.no/fhir/StructureDefinition/no-basis-Patient"]},
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Åse Østby, diabetes</div>"}},
    {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1990", "deceasedBoolean": False,
     "name": [{"family": "Ærø", "given": ["Ola", "Nils"]}], "identifier": [{"system": FNR_URI, "value": "10987654321"}],
     "address": [{"city": "Oslo", "line": ["Storgata 1"]}]},
    {"resourceType": "Patient", "id": "p3", "gender": "other", "birthDate": "2001-12-31",
     "name": [{"family": "Åsen", "given": ["José"]}], "generalPractitioner": [{"reference": "Practitioner/pr1"}]},
    {"resourceType": "Patient", "id": "p4", "name": [{"text": "Kari Nordmann"}]},
    {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Legesen"}]},
    {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
     "code": loinc("8480-6", "Systolic blood pressure"), "effectiveDateTime": "2024-03-01T10:00:00Z",
     "valueQuantity": quantity(120, "mm[Hg]")},
    {"resourceType": "Observation", "id": "o2", "status": "preliminary", "subject": {"reference": "Patient/p1"},
     "code": loinc("2339-0", "Glucose"), "effectivePeriod": {"start": "2024-01-01", "end": "2024-01-31"},
     "valueQuantity": quantity(5.4, "mmol/L")},
    {"resourceType": "Observation", "id": "o3", "status": "final", "subject": {"reference": "Patient/p2"},
     "code": loinc("85354-9", text="Blodtrykk"), "effectiveDateTime": "2023",
     "component": [{"code": loinc("8480-6"), "valueQuantity": quantity(150, "mm[Hg]")},
                   {"code": loinc("8462-4"), "valueQuantity": quantity(95, "mm[Hg]")}]},
    {"resourceType": "Observation", "id": "o4", "status": "final", "subject": {"reference": "Patient/p2"},
     "code": loinc("29463-7", "Body weight"), "effectiveDateTime": "2024-03-15",
     "valueQuantity": quantity(70, "kg")},
    {"resourceType": "Observation", "id": "o5", "status": "final", "subject": {"reference": "Patient/p3"},
     "code": loinc("2339-0"), "valueQuantity": quantity(97, "mg/dL")},
    {"resourceType": "Observation", "id": "o6", "status": "final",
     "subject": {"reference": "http://other.example/fhir/Patient/x1"},
     "code": {"text": "Covid test"}, "valueString": "Positiv"},
    {"resourceType": "Observation", "id": "o7", "status": "final",
     "subject": {"identifier": {"system": FNR_OID, "value": "12345678901"}}, "code": loinc("8480-6")},
    {"resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"},
     "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "A02BC01"}]}},
    {"resourceType": "MedicationStatement", "id": "m2", "status": "active", "subject": {"reference": "Patient/p1"},
     "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "N02BE01"}]}},
    {"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"},
     "prediction": [{"probabilityDecimal": 0.25}]},
    {"resourceType": "RiskAssessment", "id": "r2", "status": "final", "subject": {"reference": "Patient/p2"},
     "prediction": [{"probabilityDecimal": 0.8}]},
    {"resourceType": "ValueSet", "id": "vs1", "status": "active", "url": "http://example.org/fhir/ValueSet/a/b"},
    {"resourceType": "ValueSet", "id": "vs2", "status": "active", "url": "http://example.org/fhir/ValueSet/a"},
    {"resourceType": "ValueSet", "id": "vs3", "status": "active", "url": "http://example.org/other"},
]

CASES = [
    # string: prefix, case- and accent-insensitive, Norwegian letters folded (search.html#string)
    ("Patient", "name=ostby", {"p1"}),
    ("Patient", "name=Østby", {"p1"}),
    ("Patient", "name=asen", {"p3"}),
    ("Patient", "name=aero", {"p2"}),
    ("Patient", "given=jose", {"p3"}),
    ("Patient", "name=kari", {"p4"}),
    ("Patient", "name=o", {"p1", "p2"}),
    ("Patient", "name:exact=Østby", {"p1"}),
    ("Patient", "name:exact=ostby", set()),
    ("Patient", "name:contains=stb", {"p1"}),
    ("Patient", "name:contains=ORDM", {"p4"}),
    ("Patient", "address-city=tromso", {"p1"}),
    ("Patient", "address=storgata", {"p2"}),
    ("Patient", "name=ostby,aero", {"p1", "p2"}),
    ("Patient", "given=ola&given=nils", {"p2"}),
    ("Patient", "given=ola&given=ase", set()),
    # token
    ("Patient", "gender=male", {"p2"}),
    ("Patient", "gender:not=male", {"p1", "p3", "p4"}),
    ("Patient", "gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", {"p1", "p2", "p3"}),
    ("Patient", "gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender", {"p4"}),
    ("Patient", "active=true", {"p1"}),
    # the official expression is `deceased.exists() and deceased != false`: not deceased
    # is false, whether deceased[x] is absent or false
    ("Patient", "deceased=false", {"p1", "p2", "p3", "p4"}),
    ("Patient", "deceased=true", set()),
    ("Patient", f"identifier={FNR_OID}|12345678901", {"p1"}),
    ("Patient", f"identifier={FNR_URI}|12345678901", {"p1"}),  # OID and URI forms find each other
    ("Patient", f"identifier={FNR_OID}|10987654321", {"p2"}),
    ("Patient", "identifier=10987654321", {"p2"}),
    ("Patient", f"identifier={FNR_OID}|", {"p1", "p2"}),
    ("Patient", "identifier=|12345678901", set()),
    ("Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|12345678901", {"p1"}),
    ("Patient", "phone=99999999", {"p1"}),
    ("Observation", f"code={LOINC}|8480-6", {"o1", "o7"}),
    ("Observation", "code=8480-6,29463-7", {"o1", "o4", "o7"}),
    ("Observation", "code:text=systolic", {"o1"}),
    ("Observation", "code:text=blodt", {"o3"}),
    ("Observation", "code:text=covid", {"o6"}),
    ("Observation", "combo-code=8480-6", {"o1", "o3", "o7"}),
    ("Observation", "component-code=8462-4", {"o3"}),
    ("Observation", "status=final&code=2339-0", {"o5"}),
    ("Observation", "status:in=http://hl7.org/fhir/ValueSet/observation-status", {"o1", "o2", "o3", "o4", "o5", "o6", "o7"}),
    ("MedicationStatement", f"code:below={ATC}|A02", {"m1"}),
    ("MedicationStatement", f"code:below={ATC}|A02BC01", {"m1"}),
    ("MedicationStatement", f"code:above={ATC}|A02BC01", {"m1"}),
    ("Patient", "_tag=http://example.org/tags|demo", {"p1"}),
    ("Patient", "_profile=http://hl7.no/fhir/StructureDefinition/no-basis-Patient", {"p1"}),
    # date: precision ranges and prefixes (search.html#date, #prefix)
    ("Patient", "birthdate=1980", {"p1"}),
    ("Patient", "birthdate=1980-05-02", {"p1"}),
    ("Patient", "birthdate=1990-06", set()),  # 1990 (a year) is not within June 1990
    ("Patient", "birthdate=gt1985", {"p2", "p3"}),
    ("Patient", "birthdate=lt1990-06-01", {"p1", "p2"}),
    ("Patient", "birthdate=ge1990", {"p2", "p3"}),
    ("Patient", "birthdate=le1990", {"p1", "p2"}),
    ("Patient", "birthdate=sa1990", {"p3"}),
    ("Patient", "birthdate=eb1990", {"p1"}),
    ("Patient", "birthdate=ne1990", {"p1", "p3"}),
    ("Patient", "birthdate=ge1980&birthdate=lt2000", {"p1", "p2"}),
    ("Observation", "date=2024", {"o1", "o2", "o4"}),
    ("Observation", "date=2024-01", {"o2"}),  # the Period lies within January
    ("Observation", "date=2024-01-15", set()),  # the Period is wider than the day
    ("Observation", "date=gt2024-01-15", {"o1", "o2", "o4"}),
    ("Observation", "date=ge2024-03-01T10:00:00Z", {"o1", "o4"}),
    ("Observation", "date=2024-03-01T11:00:00+01:00", {"o1"}),  # the same instant in another zone
    ("Observation", "date=lt2024", {"o3"}),
    # number (search.html#number: significant figures)
    ("RiskAssessment", "probability=0.25", {"r1"}),
    ("RiskAssessment", "probability=0.3", {"r1"}),  # 0.3 means [0.25, 0.35)
    ("RiskAssessment", "probability=0.4", set()),
    ("RiskAssessment", "probability=gt0.5", {"r2"}),
    ("RiskAssessment", "probability=le0.25", {"r1"}),
    ("RiskAssessment", "probability=8e-1", {"r2"}),
    # quantity, UCUM-aware (search.html#quantity)
    ("Observation", "value-quantity=120", {"o1"}),
    ("Observation", f"value-quantity=120|{UCUM}|mm[Hg]", {"o1"}),
    ("Observation", "value-quantity=120||mm[Hg]", {"o1"}),
    ("Observation", f"value-quantity=gt100|{UCUM}|mm[Hg]", {"o1"}),
    ("Observation", f"value-quantity=16|{UCUM}|kPa", {"o1"}),
    ("Observation", f"value-quantity=0.0054|{UCUM}|mol/L", {"o2"}),
    ("Observation", f"value-quantity=70000|{UCUM}|g", {"o4"}),
    ("Observation", f"value-quantity=lt1|{UCUM}|g/L", {"o5"}),
    ("Observation", f"value-quantity=ap118|{UCUM}|mm[Hg]", {"o1"}),
    ("Observation", f"component-value-quantity=gt140|{UCUM}|mm[Hg]", {"o3"}),
    # composite: both parts from one component (search.html#composite)
    ("Observation", f"component-code-value-quantity={LOINC}|8480-6$gt140", {"o3"}),
    ("Observation", f"component-code-value-quantity={LOINC}|8462-4$gt140", set()),
    ("Observation", f"code-value-quantity={LOINC}|8480-6$gt100", {"o1"}),
    ("Observation", f"combo-code-value-quantity={LOINC}|8480-6$gt100", {"o1", "o3"}),
    ("Observation", "code-value-quantity=2339-0$lt6", {"o2"}),
    # reference (search.html#reference)
    ("Observation", "subject=Patient/p1", {"o1", "o2"}),
    ("Observation", "subject=p2", {"o3", "o4"}),
    ("Observation", "subject:Patient=p3", {"o5"}),
    ("Observation", "patient=p1", {"o1", "o2"}),
    ("Observation", "subject=http://other.example/fhir/Patient/x1", {"o6"}),
    ("Observation", f"subject:identifier={FNR_URI}|12345678901", {"o7"}),
    ("Patient", "general-practitioner=Practitioner/pr1", {"p3"}),
    ("Patient", "general-practitioner:Practitioner=pr1", {"p3"}),
    ("RiskAssessment", "subject=Patient/p1,Patient/p2", {"r1", "r2"}),
    # uri (search.html#uri)
    ("ValueSet", "url=http://example.org/fhir/ValueSet/a", {"vs2"}),
    ("ValueSet", "url:below=http://example.org/fhir/ValueSet/a", {"vs1", "vs2"}),
    ("ValueSet", "url:above=http://example.org/fhir/ValueSet/a/b/c", {"vs1", "vs2"}),
    # :missing (search.html#missing)
    ("Patient", "gender:missing=true", {"p4"}),
    ("Patient", "gender:missing=false", {"p1", "p2", "p3"}),
    ("Patient", "birthdate:missing=true", {"p4"}),
    ("Observation", "date:missing=true", {"o5", "o6", "o7"}),
    ("Observation", "value-quantity:missing=false", {"o1", "o2", "o4", "o5"}),
    ("Observation", "subject:missing=true", set()),
    # escaping (search.html#escaping) and the common parameters
    ("Patient", "name=ostby\\,x", set()),
    ("Patient", "_id=p1,p3", {"p1", "p3"}),
    ("Patient", "_text=diabetes", {"p1"}),
    ("Patient", "_content=tromso", {"p1"}),
    ("Patient", "_content=ase ostby", {"p1"}),
]


def _param(text: str) -> SearchParam:
    key, _, value = text.partition("=")
    name, _, modifier = key.partition(":")
    values = tuple(v.replace("\0", ",") for v in value.replace("\\,", "\0").split(","))
    return SearchParam(name, modifier or None, values)


def search(repo, type: str, query: str) -> set[str]:
    params = [_param(part) for part in query.split("&")]
    page = repo.search(type, SearchQuery(params=params, count=100))
    return {entry.id for entry in page.entries}


@pytest.fixture(scope="module", params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def loaded(request, tmp_path_factory):
    from ehelse.storage import open_repository

    if request.param == "memory":
        repo = open_repository("memory://")
    elif request.param == "sqlite":
        repo = open_repository(f"sqlite:///{tmp_path_factory.mktemp('search') / 'search.sqlite'}")
    else:
        repo = open_repository(request.getfixturevalue("pg_url"), db_pool_size=2)
        repo.upgrade()
    with repo.transaction():
        for resource in RESOURCES:
            repo.create(dict(resource), id=resource["id"])
    yield repo
    repo.close()


# The in-memory fake searches through search/reference.py's brute-force evaluator, which
# leaves out (on purpose or not yet) what needs terminology, UCUM conversion, Norwegian
# system names or full text; those cases run on the SQL backends only.
MEMORY_GAPS = {
    "gender:in=", "gender:not-in=", "status:in=", "code:below=", "code:above=",  # terminology
    "|kPa", "|mol/L", "|g", "|g/L", "ap118",  # UCUM conversion, ap
    f"identifier={FNR_URI}|12345678901", f"identifier={FNR_OID}|10987654321", f"identifier={FNR_OID}|",
    f"subject:identifier={FNR_URI}", "_text=", "_content=",  # OID/URI forms; full text
    "combo-code-value-quantity=",  # the evaluator misses the component occurrence
}


@pytest.mark.parametrize("type, query, expected", CASES, ids=[f"{t}?{q}" for t, q, _ in CASES])
def test_search(loaded, type, query, expected):
    if loaded.url == "memory://" and any(gap in query for gap in MEMORY_GAPS):
        pytest.skip("beyond the reference evaluator the in-memory repository uses")
    assert search(loaded, type, query) == expected


BAD = [
    ("Patient", "birthdate=not-a-date"),
    ("Patient", "birthdate=xx2020"),
    ("Patient", "birthdate=2020-13"),
    ("Patient", "name:below=x"),
    ("Patient", "nonsense=1"),
    ("Patient", "gender:missing=maybe"),
    ("Observation", "value-quantity=abc"),
    ("Observation", "value-quantity=1|2"),
    ("Observation", "code-value-quantity=8480-6"),
    ("Observation", "subject=Nonsense/1/2/3"),
    ("Observation", "subject:Practitioner=1"),
    ("Patient", "gender:in=http://example.org/no-such-valueset"),
    ("Patient", "identifier=|"),
    ("Location", "near=1|2|3"),
    ("Patient", "name="),
]


@pytest.mark.parametrize("type, query", BAD, ids=[f"{t}?{q}" for t, q in BAD])
def test_bad_values_are_400_with_the_parameter(loaded, type, query):
    with pytest.raises(BadRequest) as caught:
        search(loaded, type, query)
    assert caught.value.status == 400
    name = query.split("=")[0].split(":")[0]
    assert caught.value.issues[0].expression == name


def test_history_has_no_index_rows(loaded):
    """Only current versions are indexed: an update replaces the rows, a delete removes them."""
    patient = dict(RESOURCES[0], name=[{"family": "Nyland"}])
    loaded.update(patient)
    try:
        assert search(loaded, "Patient", "name=ostby") == set()
        assert search(loaded, "Patient", "name=nyland") == {"p1"}
        loaded.delete("Patient", "p1")
        assert search(loaded, "Patient", "name=nyland") == set()
        assert search(loaded, "Patient", "gender=female") == set()
    finally:
        loaded.update(dict(RESOURCES[0]))
    assert search(loaded, "Patient", "name=ostby") == {"p1"}
