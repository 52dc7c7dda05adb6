"""Differential tests of the invariant shortcuts (shortcuts.py) against fhirpathpy.

A shortcut may only answer when it is certain; wherever it answers and fhirpathpy gives a
definite result, the two must agree. Generated resources cover each key being present, absent,
present only as a `_key` extension, and the code values the expressions look for.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehelse.fhir.validation import invariants, shortcuts
from test_invariants import official_examples

EXT = {"extension": [{"url": "http://example.org/x", "valueString": "x"}]}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def concept(system: str, codes: list[str]) -> st.SearchStrategy:
    coding = st.fixed_dictionaries({}, optional={"system": st.sampled_from([system, "http://other"]),
                                                 "code": st.sampled_from(codes)})
    return st.fixed_dictionaries({"coding": st.lists(coding, min_size=1, max_size=3)})


LOINC = concept("http://loinc.org", ["8480-6", "8462-4"])
# Per base type: the elements its shortcut expressions read, in the shapes that matter.
ELEMENTS = {
    "Observation": {
        "dataAbsentReason": st.just({"text": "unknown"}),
        "valueQuantity": st.just({"value": 1, "unit": "mg"}),
        "valueString": st.just("a"),
        "_valueString": st.just(EXT),
        "component": st.lists(st.fixed_dictionaries({"code": LOINC}), min_size=1, max_size=2),
        "code": LOINC,
        "text": st.sampled_from([{"status": "generated", "div": "<div>x</div>"}, {"status": "empty"}]),
    },
    "Condition": {
        "clinicalStatus": concept(CLINICAL, ["active", "resolved", "remission", "inactive"]),
        "verificationStatus": concept(VER, ["confirmed", "entered-in-error"]),
        "abatementDateTime": st.just("2020-01-01"),
        "abatementString": st.just("gone"),
        "_abatementString": st.just(EXT),
        "category": st.lists(concept("http://terminology.hl7.org/CodeSystem/condition-category",
                                     ["problem-list-item", "encounter-diagnosis"]), min_size=1, max_size=2),
    },
    "Quantity": {"code": st.just("mg"), "_code": st.just(EXT),
                 "system": st.just("http://unitsofmeasure.org"), "_system": st.just(EXT)},
    "ContactPoint": {"value": st.just("555"), "_value": st.just(EXT), "system": st.just("phone"),
                     "_system": st.just(EXT)},
}
BASE = {"obs-6": "Observation", "obs-7": "Observation", "dom-6": "Observation", "con-3": "Condition",
        "con-4": "Condition", "con-5": "Condition", "qty-3": "Quantity", "cpt-2": "ContactPoint"}


def constraint(key: str, base: str) -> invariants.Constraint:
    """The core constraint `key` (the one on `base` when a key sits on several types)."""
    for c in invariants.constraints():
        if c.key == key:
            c.prepare()
            return c
    raise AssertionError(key)


def compare(key: str, node: dict, base: str) -> tuple[bool | None, bool | None]:
    c = constraint(key, base)
    env = {"resource": node, "rootResource": node, "context": node}
    ours = shortcuts.SHORTCUTS[key](node, dict(env))
    theirs = invariants._fhirpathpy_eval(c._fallback, node, base, dict(env))
    return ours, theirs


def test_every_shortcut_is_tested_and_wired():
    assert set(BASE) == set(shortcuts.SHORTCUTS)
    for key in shortcuts.SHORTCUTS:
        assert getattr(constraint(key, BASE[key])._fn, "shortcut", None) is shortcuts.SHORTCUTS[key]


@pytest.mark.parametrize("key", sorted(BASE))
def test_shortcut_agrees_with_fhirpathpy_on_generated_resources(key):
    base = BASE[key]
    shape = st.fixed_dictionaries({}, optional=ELEMENTS[base])
    answered = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(shape)
    def run(node):
        if base in ("Observation", "Condition"):
            node = {"resourceType": base, **node}
        ours, theirs = compare(key, node, base)
        if ours is not None:
            answered.append(ours)
            if theirs is not None:
                assert ours == theirs, (key, node)

    run()
    assert answered, f"{key}: the shortcut never answered"


def test_shortcuts_agree_with_fhirpathpy_on_the_official_examples():
    examples = official_examples()
    compared = 0
    for _, resource in examples:
        base = resource["resourceType"]
        for key, on in BASE.items():
            if on != base and not (key == "dom-6" and "text" in resource):
                continue
            ours, theirs = compare(key, resource, base)
            if ours is not None and theirs is not None:
                compared += 1
                assert ours == theirs, (key, resource.get("id"))
    assert compared > 100


def test_shortcut_cases_by_hand():
    obs = {"resourceType": "Observation", "dataAbsentReason": {"text": "x"}}
    assert shortcuts.SHORTCUTS["obs-6"](obs, {}) is True
    assert shortcuts.SHORTCUTS["obs-6"]({**obs, "_valueString": EXT}, {}) is False
    assert shortcuts.SHORTCUTS["qty-3"]({"code": "mg"}, {}) is False
    assert shortcuts.SHORTCUTS["qty-3"]({"_code": EXT, "_system": EXT}, {}) is True
    condition = {"resourceType": "Condition", "abatementString": "gone",
                 "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]}}
    assert shortcuts.SHORTCUTS["con-4"](condition, {}) is None  # defers: the FHIRPath says false
    assert invariants.Constraint("con-4", "error", "", constraint("con-4", "Condition").expression) \
        .holds(condition, "Condition", {"resource": condition, "rootResource": condition}) is False
