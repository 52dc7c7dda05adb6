"""The spec tests on DuckDB and Spark: each gives the in-process runner's rows (or its error).

Known-bad spec tests (spec_suite.KNOWN_BAD) are included: the engines must agree with the
runner on them too. Views with `repeat` run on the runner on both SQL engines (the Result
says so); test_fallback_is_reported pins that.
"""

from __future__ import annotations

import os
import time

import pytest

from ehelse.analytics.engines import run
from ehelse.analytics.runner import run_view
from ehelse.analytics.sources import InlineSource
from ehelse.analytics.viewdefinition import InvalidView, parse_view

from .spec_suite import canonical, default_resource, spec_cases

CASES = spec_cases()
IDS = [f"{c[0]}:{c[3]['title']}" for c in CASES]


def rows_or_error(engine: str, suite, test, **options):
    try:
        view = parse_view(test["view"], default_resource=default_resource(suite, test))
        if engine == "runner":
            return canonical(list(run_view(view, suite["resources"]))), "runner"
        result = run(view, InlineSource(suite["resources"]), engine=engine, **options)
        return canonical(list(result.rows)), result.engine
    except InvalidView:
        return "error", None


@pytest.mark.parametrize("name,index,suite,test", CASES, ids=IDS)
def test_duckdb_gives_the_runners_rows(name, index, suite, test):
    expected, _ = rows_or_error("runner", suite, test)
    got, engine = rows_or_error("duckdb", suite, test)
    assert got == expected
    if got != "error" and "repeat" not in str(test["view"]):
        assert engine == "duckdb"  # compiled, not the fallback


def test_fallback_is_reported():
    view = parse_view({"resource": "QuestionnaireResponse", "select": [{"repeat": ["item"], "column": [
        {"name": "linkId", "path": "linkId"}]}]})
    result = run(view, InlineSource([{"resourceType": "QuestionnaireResponse", "id": "q", "item": [
        {"linkId": "1", "item": [{"linkId": "1.1"}]}]}]), engine="duckdb")
    assert result.engine == "runner (duckdb fallback: repeat)"
    assert [r["linkId"] for r in result.rows] == ["1", "1.1"]


def spark_cases():
    """Every spec test with EHELSE_SPARK_FULL=1 (~3.5 min on 2 busy cores: measured, all
    agree); by default the first of each file and three of row_index.json (forEachOrNull,
    nested forEach, unionAll inside forEach): 18 queries, about a minute on an idle machine."""
    if os.environ.get("EHELSE_SPARK_FULL") == "1":
        return CASES
    chosen, seen = [], {}
    for case in CASES:
        seen[case[0]] = seen.get(case[0], 0) + 1
        if seen[case[0]] == 1 or (case[0] == "row_index.json" and seen[case[0]] in (3, 4, 8)):
            chosen.append(case)
    return chosen


@pytest.mark.slow
def test_spark_gives_the_runners_rows(spark):
    started = time.monotonic()
    mismatches = []
    cases = spark_cases()
    for name, _, suite, test in cases:
        expected, _ = rows_or_error("runner", suite, test)
        got, engine = rows_or_error("spark", suite, test, spark=spark)
        if got != expected:
            mismatches.append((name, test["title"], got, expected))
        elif got != "error" and "repeat" not in str(test["view"]) and engine != "spark":
            mismatches.append((name, test["title"], "not compiled", engine))
    print(f"\nspec suite on Spark: {len(cases) - len(mismatches)}/{len(cases)} agree with the runner "
          f"in {time.monotonic() - started:.1f} s")
    assert mismatches == []
