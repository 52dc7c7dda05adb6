"""The structural walk generated per table (walker.py): every table compiles, and the code is
generated anew when invariants.attach changes the tables it was generated from.

That the generated walk reports what the interpreted one did is checked over the official
examples, the Synthea resources and their mutations by scripts/compare_validation.py; the
other tests in this directory check each rule through validate()."""

from __future__ import annotations

from ehelse.fhir.definitions import load
from ehelse.fhir.validation import invariants, validate
from ehelse.fhir.validation.model import Model, model
from ehelse.fhir.validation.structure import Walk, walkers


def test_every_table_of_the_model_compiles():
    tables = model()
    invariants.attach(tables)
    compiled = walkers(tables)
    every = [*tables.tables.values(), *tables._paths.values()]
    for table in every:
        compiled._compile(table, compiled.name(table))
    assert len(compiled.sources) == len({id(t) for t in every})
    assert all(text.startswith("def t") for text in compiled.sources.values())


def test_a_walk_generated_before_attach_is_generated_again_after_it():
    fresh = Model(load("structures")["types"])
    resource = {"resourceType": "Patient", "name": [{"family": "Nordmann"}],
                "telecom": [{"system": "phone", "value": "12345678"}]}
    before = Walk(fresh, frozenset())
    before.resource(resource, None)
    assert before.pending == [] and before.issues == []  # nothing attached yet
    invariants.attach(fresh)
    after = Walk(fresh, frozenset())
    after.resource(resource, None)
    keys = {c.key for constraints, *_ in after.pending for c in constraints}
    assert {"cpt-2", "dom-6"} <= keys  # ContactPoint's and the resource's own constraints
    invariants.attach(model())  # give the shared model its constraints back for other tests
    assert [i.expression for i in validate(resource) if i.is_error] == []


def test_threads_generating_at_once_give_each_table_its_own_function():
    import sys
    import threading

    resources = [
        {"resourceType": "Patient", "name": [{"family": "N", "given": ["K", 3]}], "gender": "x",
         "address": [{"line": ["1"], "period": {"start": "2020-02-30"}}]},
        {"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": " x"}]},
         "valueQuantity": {"value": 1, "comparator": "<<"}, "valueString": "2"},
        {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
         "onsetPeriod": {"start": "2020"}, "stage": [{"summary": {"text": "s"}, "x": 1}]},
        {"resourceType": "Encounter", "status": "planned", "class": {"code": "AMB"},
         "participant": [{"individual": {"reference": "Observation/1"}}]},
    ]

    def issues(resource: dict) -> list[tuple]:
        return [(i.severity, i.code, i.expression, i.diagnostics) for i in validate(resource)]

    expected = [issues(r) for r in resources]
    assert all(expected)
    compiled = walkers(model())
    compiled.reset()
    wrong: list = []

    def work(offset: int) -> None:
        for step in range(40):
            index = (step + offset) % len(resources)
            if issues(resources[index]) != expected[index]:
                wrong.append(index)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []
    assert len(set(compiled.names.values())) == len(compiled.names)


def _issues(resource):
    return [(i.severity, i.expression, i.diagnostics) for i in validate(resource)]


def test_a_remembered_codeable_concept_is_remembered_only_in_its_own_form():
    """Rule.memo: a CodeableConcept found valid is not walked again, but one that differs in
    any way (another JSON type equal in Python, a key more, an extension) still is."""
    coding = {"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}
    good = {"resourceType": "Patient", "maritalStatus": {"coding": [coding], "text": "1"}}
    for _ in range(2):
        assert [i for i in _issues(good) if i[0] == "error"] == []
    assert model().tables["Patient"]["maritalStatus"].memo  # remembered
    bad_text = {"resourceType": "Patient", "maritalStatus": {"coding": [coding], "text": 1}}
    assert ("error", "Patient.maritalStatus.text") in [i[:2] for i in _issues(bad_text)]
    flag = {"resourceType": "Patient", "maritalStatus": {"coding": [dict(coding, userSelected=True)]}}
    one = {"resourceType": "Patient", "maritalStatus": {"coding": [dict(coding, userSelected=1)]}}
    for _ in range(2):
        assert [i for i in _issues(flag) if i[0] == "error"] == []
        assert ("error", "Patient.maritalStatus.coding[0].userSelected") in [i[:2] for i in _issues(one)]
    extra = {"resourceType": "Patient", "maritalStatus": {"coding": [coding], "text": "1", "colour": "x"}}
    assert ("error", "Patient.maritalStatus.colour") in [i[:2] for i in _issues(extra)]
    unknown_code = {"resourceType": "Patient", "maritalStatus": {"coding": [dict(coding, code="Q")], "text": "1"}}
    first = _issues(unknown_code)
    assert any(i[1].startswith("Patient.maritalStatus") for i in first)  # the required binding
    assert _issues(unknown_code) == first


def test_a_codeable_concept_valid_under_one_binding_is_checked_under_another():
    """The memo is per rule: the same concept at another element meets that element's binding."""
    concept = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]}
    assert [i for i in _issues({"resourceType": "Patient", "maritalStatus": concept}) if i[0] == "error"] == []
    elsewhere = {"resourceType": "Patient", "communication": [{"language": concept}]}
    first = _issues(elsewhere)
    assert any(i[1].startswith("Patient.communication[0].language") for i in first)  # not a language
    assert _issues(elsewhere) == first
