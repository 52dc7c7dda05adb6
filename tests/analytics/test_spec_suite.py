"""The SQL on FHIR v2 spec tests on the in-process runner (reference for the other engines).

Pass counts per file are printed with `pytest -s`; KNOWN_BAD (spec_suite.py) lists the
stored tests that contradict the rest of the suite, each with why; they must still fail.
"""

from __future__ import annotations

import pytest

from ehelse.analytics.runner import run_view
from ehelse.analytics.viewdefinition import InvalidView, parse_view

from .spec_suite import KNOWN_BAD, canonical, default_resource, expects_error, spec_cases

CASES = spec_cases()


def outcome(suite, test) -> str:
    """'ok' when the runner does what the spec test expects, else what went wrong."""
    try:
        view = parse_view(test["view"], default_resource=default_resource(suite, test))
        rows = list(run_view(view, suite["resources"]))
    except InvalidView as exc:
        return "ok" if expects_error(test) else f"unexpected error: {exc}"
    if expects_error(test):
        return f"no error; rows {rows}"
    return "ok" if canonical(rows) == canonical(test["expect"]) else f"rows {rows} != {test['expect']}"


@pytest.mark.parametrize("name,index,suite,test", CASES, ids=[f"{c[0]}:{c[3]['title']}" for c in CASES])
def test_spec_case_on_runner(name, index, suite, test):
    result = outcome(suite, test)
    if (name, test["title"]) in KNOWN_BAD:
        assert result != "ok", f"known-bad spec test now passes; remove it from KNOWN_BAD: {name}"
    else:
        assert result == "ok", result


def test_spec_suite_counts(capsys):
    passed: dict[str, list[int]] = {}
    for name, _, suite, test in CASES:
        counts = passed.setdefault(name, [0, 0])
        counts[1] += 1
        counts[0] += outcome(suite, test) == "ok"
    with capsys.disabled():
        print("\nSQL on FHIR spec tests on the runner:",
              ", ".join(f"{n} {p}/{t}" for n, (p, t) in sorted(passed.items())))
    assert sum(p for p, _ in passed.values()) == len(CASES) - len(KNOWN_BAD)
