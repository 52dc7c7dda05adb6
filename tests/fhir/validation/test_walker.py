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
