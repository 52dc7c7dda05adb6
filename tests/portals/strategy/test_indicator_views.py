"""Strategy indicators that name a library ViewDefinition compute through it: the number on
/strategi equals the share computed independently from the view's rows (in-process runner),
DuckDB compiles the views, and small counts are suppressed."""

from __future__ import annotations

import re

import httpx
import pytest

from ehelse.analytics import library
from ehelse.analytics.engines import run
from ehelse.analytics.sources import RepositorySource
from ehelse.analytics.viewdefinition import parse_view
from ehelse.portals.strategy import indicators

VIEW_INDICATORS = {"I4": "medication_list", "I6": "self_reported"}


def _rows(repo, name: str, engine: str = "runner") -> list[dict]:
    return list(run(parse_view(library.load(name)), RepositorySource(repo), engine=engine).rows)


def expected(repo, key: str) -> tuple[int, int]:
    """(numerator, denominator) from the views' rows on the in-process reference runner."""
    patients = {v.id for v in repo.iter_current("Patient")}
    if key == "medication_list":
        hits = {r["patient_id"] for r in _rows(repo, "medication_lists")
                if r["status"] == "current" and r["list_code"] == "medications"}
    else:
        hits = {r["patient_id"] for r in _rows(repo, "self_measurements") if r["performer_patient_id"] == r["patient_id"]}
        hits |= {r["patient_id"] for r in _rows(repo, "questionnaire_answers") if r["author_patient_id"] == r["patient_id"]}
    return len(hits & patients), len(patients)


def test_every_named_view_exists_and_compiles_on_duckdb(portal_repo):
    for definition in indicators.DEFINITIONS.values():
        for name in definition.views:
            view = parse_view(library.load(name))
            assert run(view, RepositorySource(portal_repo), engine="duckdb").engine == "duckdb", name
    assert indicators.DEFINITIONS["self_reported"].views == ("self_measurements", "questionnaire_answers")
    assert indicators.DEFINITIONS["medication_list"].views == ("medication_lists",)


@pytest.mark.parametrize("code, key", sorted(VIEW_INDICATORS.items()))
def test_page_number_equals_the_views_result(live_server, portal_repo, code, key):
    numerator, denominator = expected(portal_repo, key)
    assert denominator > 0
    result = indicators.compute(portal_repo, key, 3)
    page = httpx.get(f"{live_server}/strategi/indikator/{code}").text
    for name in indicators.DEFINITIONS[key].views:
        assert f"{name}" in page  # the definition, one click away
    if 0 < numerator < 3 or 0 < denominator - numerator < 3:
        assert result.value is None and f"{numerator} av {denominator}" not in page
        return
    assert (result.numerator, result.denominator) == (numerator, denominator)
    shown = re.search(r"(\d+) av (\d+)", page)
    assert shown and (int(shown[1]), int(shown[2])) == (numerator, denominator)
    assert result.value == pytest.approx(100.0 * numerator / denominator)


def test_small_cells_are_suppressed():
    patients = {f"p{i}" for i in range(10)}
    assert indicators._suppressed_share({"p1", "p2"}, patients, 3).value is None  # 2 people
    assert indicators._suppressed_share(patients - {"p1"}, patients, 3).value is None  # 1 left out
    assert indicators._suppressed_share({"p1", "p2", "p3"}, patients, 3).value == pytest.approx(30.0)
    assert indicators._suppressed_share(set(), patients, 3).value == 0.0
