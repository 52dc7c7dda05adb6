"""Bad input gets issues, never an exception (which the server would turn into a 500).

Every element of a few rich resources is replaced, in turn, by each of a set of hostile
JSON values; validate() must return, and report at least one error for most of them.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from ehelse.fhir.jsoncodec import Number
from ehelse.fhir.validation import validate

HOSTILE: list[Any] = [None, "", " ", [], {}, [None], [[]], {"": 1}, {"_": None}, True, 0, -1, 2**40,
                      1.5, Number("1.50"), Number("1e999"), "x" * 300, "2020-02-30", "#", "urn:uuid:",
                      [{"url": 1}], {"reference": {}}, {"coding": [{"system": {}, "code": []}]},
                      {"resourceType": "Patient", "contained": [{"resourceType": "Patient"}]},
                      {"extension": [{}]}]

SEEDS = [
    {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org",
     "code": "29463-7"}]}, "subject": {"reference": "Patient/1"}, "effectivePeriod": {"start": "2020-01-01"},
     "valueQuantity": {"value": Number("72.50"), "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
     "component": [{"code": {"text": "x"}, "valueString": "y"}],
     "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]}},
    {"resourceType": "Patient", "id": "p", "name": [{"given": ["A", None], "_given": [None, {"id": "g"}]}],
     "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "2020-01-01T10:00:00Z"}],
     "contained": [{"resourceType": "Organization", "id": "o"}], "managingOrganization": {"reference": "#o"}},
    {"resourceType": "Bundle", "type": "transaction", "entry": [{"fullUrl": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
     "resource": {"resourceType": "Condition", "subject": {"reference": "Patient/1"}},
     "request": {"method": "POST", "url": "Condition"}}]},
]


def places(value: Any, route: tuple = ()) -> Iterator[tuple]:
    yield route
    if isinstance(value, dict):
        for key, child in value.items():
            yield from places(child, route + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from places(child, route + (index,))


def replaced(resource: dict, route: tuple, new: Any) -> Any:
    if not route:
        return new
    copy_ = copy.deepcopy(resource)
    target = copy_
    for step in route[:-1]:
        target = target[step]
    target[route[-1]] = new
    return copy_


def test_hostile_values_everywhere_give_issues_not_exceptions():
    rejected = tried = 0
    for seed in SEEDS:
        for route in places(seed):
            for value in HOSTILE:
                issues = validate(replaced(seed, route, value))
                tried += 1
                rejected += any(i.is_error for i in issues)
    assert tried > 1000
    assert rejected / tried > 0.9


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["Patient", "resourceType", "_given", "value", "url"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["resourceType", "id", "name", "_name", "extension", "url", "value",
                                       "valueString", "given", "_given", "contained", "reference", "coding",
                                       "code", "system", ""]) | st.text(max_size=5), children, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Patient", "Observation", "Bundle", "Questionnaire"]), json_values)
def test_random_json_never_raises(resource_type, body):
    resource = {"resourceType": resource_type, **body} if isinstance(body, dict) else body
    validate(resource)
