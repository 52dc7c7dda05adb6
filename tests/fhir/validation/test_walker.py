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
