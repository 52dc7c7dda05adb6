"""Core FHIRPath invariants (conformance-rules.html#constraints) and the FHIRPath compiler."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ehelse.fhir import jsoncodec
from ehelse.fhir.validation import invariants
from ehelse.fhir.validation.fhirpath_compile import Unsupported, compile_expression

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO.parent / "shared" / "fhir" / "hl7.fhir.r4.examples-4.0.1.tgz"


def official_examples() -> list[tuple[str, dict]]:
    if not EXAMPLES.exists():
        pytest.skip("official R4 examples not present (../shared)")
    out = []
    with tarfile.open(EXAMPLES) as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if name.endswith(".json") and name != "package.json" and not name.startswith("."):
                resource = jsoncodec.loads(tar.extractfile(member).read())
                if isinstance(resource, dict) and "resourceType" in resource:
                    out.append((name, resource))
    return out


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, dict]]:
    return official_examples()


def keyed(issues) -> set[tuple[str, str]]:
    return {(i.diagnostics.split(":")[0], i.expression) for i in issues}


# -- the official examples ----------------------------------------------------------------


def test_official_examples_violate_no_error_invariant(examples):
    assert len(examples) == 705
    failures = [(name, i.expression, i.diagnostics) for name, r in examples
                for i in invariants.check(r) if i.is_error]
    assert failures == []


def test_compiled_python_agrees_with_fhirpathpy_on_the_examples(examples, monkeypatch):
    """Differential test: wherever fhirpathpy gives a definite answer, the compiled
    expression must give the same one (or decline with Unsupported)."""
    compared, disagreements = 0, []
    original = invariants.Constraint.holds

    def both(self, node, base, env):
        nonlocal compared
        self.prepare()
        if self.key not in invariants.NATIVE and self._fn is not None and self._fallback is not None:
            try:
                ours = self._fn(node, env)
            except Unsupported:
                ours = "unsupported"
            theirs = invariants._fhirpathpy_eval(self._fallback, node, base, env)
            if theirs is not None and ours != "unsupported":
                compared += 1
                if ours != theirs:
                    disagreements.append((self.key, base, ours, theirs))
        return original(self, node, base, env)

    monkeypatch.setattr(invariants.Constraint, "holds", both)
    for _, resource in examples[::3]:  # a third of them keeps this test fast
        invariants.check(resource)
    assert compared > 1000
    # que-1 / dom-6 / rng-2 etc. are compared too; none may differ.
    assert disagreements == []


# -- hand-made violations ----------------------------------------------------------------


def observation(**extra) -> dict:
    base = {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}
    base.update(extra)
    return base


def test_valid_observation_has_no_issues():
    assert invariants.check(observation(valueQuantity={"value": 72.5, "unit": "kg"})) == []


def test_obs_6_value_and_data_absent_reason():
    issues = invariants.check(observation(valueString="x", dataAbsentReason={"text": "unknown"}))
    assert keyed(issues) == {("obs-6", "Observation")}
    issue = issues[0]
    assert issue.severity == "error" and issue.code == "invariant"
    assert issue.diagnostics.startswith("obs-6: dataAbsentReason SHALL only be present if")
    assert "(dataAbsentReason.empty() or value.empty())" in issue.diagnostics


def test_obs_3_points_at_the_reference_range_occurrence():
    resource = observation(referenceRange=[{"low": {"value": 1}}, {"appliesTo": [{"text": "adults"}]}])
    assert keyed(invariants.check(resource)) == {("obs-3", "Observation.referenceRange[1]")}


def test_per_1_in_a_choice_element_and_in_a_nested_data_type():
    resource = observation(effectivePeriod={"start": "2021-05-02", "end": "2021-05-01"},
                           performer=[{"reference": "Practitioner/1",
                                       "identifier": {"value": "x", "period": {"start": "2020", "end": "2019"}}}])
    assert keyed(invariants.check(resource)) == {
        ("per-1", "Observation.effectivePeriod"),
        ("per-1", "Observation.performer[0].identifier.period"),
    }


def test_per_1_undecidable_precision_and_time_zones():
    # 2021 vs 2021-05-01: the comparison is empty (different precision), not a violation
    ok = observation(effectivePeriod={"start": "2021", "end": "2021-05-01"})
    assert invariants.check(ok) == []
    # 10:00+02:00 is 08:00Z, before 09:00Z
    tz = observation(effectivePeriod={"start": "2021-05-01T10:00:00+02:00", "end": "2021-05-01T09:00:00Z"})
    assert invariants.check(tz) == []
    bad = observation(effectivePeriod={"start": "2021-05-01T10:00:00Z", "end": "2021-05-01T11:00:00+02:00"})
    assert keyed(invariants.check(bad)) == {("per-1", "Observation.effectivePeriod")}


def test_qty_3_code_without_system():
    resource = observation(valueQuantity={"value": 1, "code": "kg"})
    assert keyed(invariants.check(resource)) == {("qty-3", "Observation.valueQuantity")}


def test_rng_2_with_exact_decimals():
    low, high = jsoncodec.Number("1.50"), jsoncodec.Number("1.0")
    unit = {"system": "http://unitsofmeasure.org", "code": "mg"}
    resource = observation(valueRange={"low": {"value": low, **unit}, "high": {"value": high, **unit}})
    assert keyed(invariants.check(resource)) == {("rng-2", "Observation.valueRange")}


def test_contained_rules():
    unreferenced = observation(contained=[{"resourceType": "Patient", "id": "p1"}])
    assert keyed(invariants.check(unreferenced)) == {("dom-3", "Observation")}
    referenced = observation(contained=[{"resourceType": "Patient", "id": "p1"}], subject={"reference": "#p1"})
    assert invariants.check(referenced) == []
    nested = observation(subject={"reference": "#p1"}, contained=[
        {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "2"},
         "contained": [{"resourceType": "Patient", "id": "p2"}]}])
    keys = {k for k, _ in keyed(invariants.check(nested))}
    assert {"dom-2", "dom-4"} <= keys


def test_ref_1_local_reference_must_resolve():
    resource = observation(subject={"reference": "#nothing"})
    assert keyed(invariants.check(resource)) == {("ref-1", "Observation.subject")}


def test_patient_contact_and_backbone_index():
    patient = {"resourceType": "Patient", "contact": [{"name": {"family": "A"}}, {"gender": "male"}],
               "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}
    assert keyed(invariants.check(patient)) == {("pat-1", "Patient.contact[1]")}


def test_invariants_inside_bundle_entries_and_warnings():
    bundle = {"resourceType": "Bundle", "type": "collection", "total": 1,
              "entry": [{"fullUrl": "urn:uuid:1", "resource": observation(referenceRange=[{}])}]}
    issues = invariants.check(bundle)
    assert keyed(issues) == {("bdl-1", "Bundle"), ("obs-3", "Bundle.entry[0].resource.referenceRange[0]")}
    no_text = {k: v for k, v in observation().items() if k != "text"}
    (warning,) = invariants.check(no_text)
    assert warning.severity == "warning" and warning.diagnostics.startswith("dom-6")


def test_questionnaire_recursive_items():
    q = {"resourceType": "Questionnaire", "status": "draft", "text": observation()["text"],
         "item": [{"linkId": "1", "type": "group", "item": [
             {"linkId": "1.1", "type": "display", "required": True},
             {"linkId": "1.2", "type": "group"}]}]}
    assert keyed(invariants.check(q)) == {("que-6", "Questionnaire.item[0].item[0]"),
                                           ("que-1", "Questionnaire.item[0].item[1]")}


def test_primitive_with_only_an_extension_counts_as_present():
    # obs-6: `value` exists when only `_valueString` (an extension, no value) is there
    resource = observation(_valueString={"extension": [{"url": "http://x", "valueCode": "y"}]},
                           dataAbsentReason={"text": "asked"})
    assert keyed(invariants.check(resource)) == {("obs-6", "Observation")}


def test_unsupported_constraints_are_listed_with_reasons():
    listed = dict(invariants.unsupported())
    assert {"txt-1", "txt-2", "ctm-1"} <= set(listed)
    assert all(reason for reason in listed.values())
    assert "ele-1" not in {c.key for c in invariants.constraints()}
    assert len(invariants.constraints()) > 200


# -- the FHIRPath compiler ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "node", "expected"),
    [
        ("a.exists() or b.exists()", {"a": 1}, True),
        ("a.exists() or b.exists()", {}, False),
        ("a.empty() or b.exists()", {"a": "x"}, False),
        ("a.count() <= 1", {"a": [1, 2]}, False),
        ("a implies b", {"a": True}, None),  # three-valued: true implies empty is empty
        ("a implies b", {"a": False}, True),
        ("a xor b", {"a": True, "b": True}, False),
        ("status in ('a' | 'b')", {"status": "b"}, True),
        ("value > 0", {"valueQuantity": {"value": 1}}, None),  # Quantity vs number: declined
        ("name.matches('^[A-Z]')", {"name": "abc"}, False),
        ("x.where(system = 's' and code = 'c').exists()", {"x": [{"system": "s", "code": "c"}]}, True),
        ("x.all(code.exists())", {"x": [{"code": "a"}, {}]}, False),
        ("(a.count() + b.count()) > 0", {}, False),
        ("reference.substring(1) = 'p1'", {"reference": "#p1"}, True),
    ],
)
def test_compiled_expressions(expression, node, expected):
    fn = compile_expression(expression)
    try:
        result = fn(node, {"resource": node, "rootResource": node, "context": node})
    except Unsupported:
        result = None
    assert result is expected


def test_unsupported_shapes_raise_at_compile_time():
    with pytest.raises(Unsupported):
        compile_expression("member.resolve().exists()")
    with pytest.raises(Unsupported):
        compile_expression("answer is Boolean")


# -- speed -------------------------------------------------------------------------------


def test_typical_observation_passes_its_invariants():
    """A typical Observation with every common element passes (its speed is measured in
    bench/validation.py, not asserted here: timings belong in the benchmarks)."""
    resource = observation(
        subject={"reference": "Patient/1"}, encounter={"reference": "Encounter/1"},
        effectiveDateTime="2021-05-01T10:00:00Z", performer=[{"reference": "Practitioner/1"}],
        valueQuantity={"value": jsoncodec.Number("72.50"), "unit": "kg",
                       "system": "http://unitsofmeasure.org", "code": "kg"},
        category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
        referenceRange=[{"low": {"value": 50}, "high": {"value": 100}}])
    assert invariants.check(resource) == []



# -- validate() evaluates them on the structural walk ------------------------------------


def collected(resource: dict) -> list | None:
    """The invariant issues validate() finds: constraints collected by the structural walk
    (invariants.attach, Walk.pending) and evaluated; None when the structure is invalid."""
    from ehelse.fhir.validation.model import model
    from ehelse.fhir.validation.profiles import extension_urls
    from ehelse.fhir.validation.structure import Walk

    invariants.attach(model())
    walk = Walk(model(), extension_urls())
    walk.resource(resource, None)
    if any(issue.is_error for issue in walk.issues):
        return None
    return invariants.evaluate(walk.pending)


def as_rows(issues) -> list[tuple[str, str, str]]:
    return sorted((i.severity, i.diagnostics, i.expression) for i in issues)


def test_the_structural_walk_finds_what_the_invariant_walk_finds_on_the_examples(examples):
    compared = 0
    for name, resource in examples:
        found = collected(resource)
        if found is not None:
            assert as_rows(found) == as_rows(invariants.check(resource)), name
            compared += 1
    assert compared >= 690  # all but the twelve invalid examples (test_official_examples.py)


TEXT = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}
VIOLATIONS = [
    # (resource, the (key, expression) pairs check() reports)
    (observation(valueString="x", dataAbsentReason={"text": "unknown"}), {("obs-6", "Observation")}),
    (observation(referenceRange=[{"low": {"value": 1}}, {"appliesTo": [{"text": "adults"}]}]),
     {("obs-3", "Observation.referenceRange[1]")}),
    (observation(effectivePeriod={"start": "2021-05-02", "end": "2021-05-01"},
                 performer=[{"reference": "Practitioner/1",
                             "identifier": {"value": "x", "period": {"start": "2020", "end": "2019"}}}]),
     {("per-1", "Observation.effectivePeriod"), ("per-1", "Observation.performer[0].identifier.period")}),
    (observation(valueQuantity={"value": 1, "code": "kg"}), {("qty-3", "Observation.valueQuantity")}),
    (observation(contained=[{"resourceType": "Patient", "id": "p1"}]), {("dom-3", "Observation")}),
    # a contained resource without narrative: dom-6 is its container's business
    (observation(contained=[{"resourceType": "Patient", "id": "p1"}], subject={"reference": "#p1"}), set()),
    ({k: v for k, v in observation().items() if k != "text"}, {("dom-6", "Observation")}),
    ({"resourceType": "Patient", "contact": [{"name": {"family": "A"}}, {"gender": "male"}], "text": TEXT},
     {("pat-1", "Patient.contact[1]")}),
    ({"resourceType": "Bundle", "type": "collection", "total": 1,
      "entry": [{"fullUrl": "urn:uuid:1", "resource": observation(
          effectivePeriod={"start": "2021-05-02", "end": "2021-05-01"},
          contained=[{"resourceType": "Patient", "id": "p1",
                      "contact": [{"gender": "male"}]}])}]},
     {("bdl-1", "Bundle"), ("per-1", "Bundle.entry[0].resource.effectivePeriod"),
      ("dom-3", "Bundle.entry[0].resource"), ("pat-1", "Bundle.entry[0].resource.contained[0].contact[0]")}),
    ({"resourceType": "Questionnaire", "status": "draft", "text": TEXT,
      "item": [{"linkId": "1", "type": "group", "item": [
          {"linkId": "1.1", "type": "display", "required": True}, {"linkId": "1.2", "type": "group"}]}]},
     {("que-6", "Questionnaire.item[0].item[0]"), ("que-1", "Questionnaire.item[0].item[1]")}),
    (observation(_valueString={"extension": [{"url": "http://x", "valueCode": "y"}]},
                 dataAbsentReason={"text": "asked"}), {("obs-6", "Observation")}),
]


@pytest.mark.parametrize(("resource", "expected"), VIOLATIONS)
def test_the_structural_walk_finds_what_the_invariant_walk_finds_on_violations(resource, expected):
    found = collected(resource)
    assert found is not None  # structurally valid: only the invariants are broken
    assert keyed(invariants.check(resource)) == expected
    assert as_rows(found) == as_rows(invariants.check(resource))


def test_invariants_hold_inside_extensions_on_primitives_too():
    """conformance-rules.html#constraints: a constraint holds on every occurrence, also in an
    extension on a primitive (`_birthDate`), which the structural walk visits (check()'s own
    walk does not go there)."""
    from ehelse.fhir.validation import validate

    resource = {"resourceType": "Patient", "birthDate": "1980-01-01", "text": TEXT, "_birthDate": {"extension": [
        {"url": "http://example.org/x", "valuePeriod": {"start": "2020-01-02", "end": "2020-01-01"}}]}}
    assert keyed(validate(resource)) == {("per-1", "Patient.birthDate.extension[0].valuePeriod")}
    resource["_birthDate"]["extension"][0]["valuePeriod"]["end"] = "2020-01-03"
    assert validate(resource) == []
