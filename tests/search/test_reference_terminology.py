"""The reference evaluator's `:in`/`:not-in`/`:above`/`:below` (search.html#token), judged
against hand-made resources and the ATC hierarchy of the demo terminology
(A02 > A02B > A02BC > A02BC01)."""

from __future__ import annotations

import pytest

from ehelse.search.reference import ReferenceEvaluator
from ehelse.storage.protocol import SearchParam

ATC = "http://www.whocc.no/atc"


def _med(id: str, system: str | None, code: str) -> dict:
    coding = {"code": code} if system is None else {"system": system, "code": code}
    return {"resourceType": "Medication", "id": id, "code": {"coding": [coding]}}


@pytest.fixture(scope="module")
def ev() -> ReferenceEvaluator:
    return ReferenceEvaluator([
        _med("omeprazol", ATC, "A02BC01"),
        _med("a02b", ATC, "A02B"),
        _med("no-system", None, "A02BC02"),  # a coding without system: its binding names it
        _med("other-system", "http://example.org/x", "A02BC01"),
        _med("unknown", ATC, "Z99"),
        {"resourceType": "Medication", "id": "no-code"},
    ])


def _search(ev, modifier, value):
    return ev.search("Medication", [SearchParam("code", modifier, (value,))])


def test_below_finds_the_code_and_what_it_subsumes(ev):
    assert _search(ev, "below", f"{ATC}|A02B") == {"omeprazol", "a02b", "no-system"}
    assert _search(ev, "below", f"{ATC}|A02BC01") == {"omeprazol"}


def test_above_finds_the_code_and_what_subsumes_it(ev):
    assert _search(ev, "above", f"{ATC}|A02BC01") == {"omeprazol", "a02b"}


def test_in_and_not_in_the_implicit_value_set(ev):
    inside = _search(ev, "in", ATC + "?fhir_vs")
    assert inside == {"omeprazol", "a02b", "no-system"}  # Z99 is no ATC code; other system is out
    assert _search(ev, "not-in", ATC + "?fhir_vs") == {"other-system", "unknown", "no-code"}


def test_bad_values_are_the_clients_error(ev):
    with pytest.raises(ValueError):
        _search(ev, "below", "A02B")  # needs system|code
    with pytest.raises(ValueError):
        _search(ev, "in", "http://example.org/no-such-valueset")
