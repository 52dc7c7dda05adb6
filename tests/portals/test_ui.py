"""The shared UI foundation: Norwegian formatting, the SVG chart, catalogues, /static."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from ehelse.portals.ui import Catalogue, Series, line_chart
from ehelse.portals.ui.chart import nice_ticks
from ehelse.portals.ui.formatting import format_date, format_datetime, format_number, format_quantity
from ehelse.portals.ui.messages import MESSAGES
from ehelse.portals.ui.static import node_modules


def test_dates_the_norwegian_way():
    assert format_date("2026-11-27") == "27. november 2026"
    assert format_date("2026-11-27", "en") == "27 November 2026"
    assert format_date("2026-03-05", short=True) == "5. mar. 2026"
    assert format_datetime("2026-11-27T14:05:00+01:00") == "27. november 2026 kl. 14:05"
    assert format_datetime("2026-11-27T14:05:00+01:00", "en") == "27 November 2026, 14:05"
    assert format_date("2026-11") == "1. november 2026"  # partial FHIR dates
    assert format_date("not a date") == "not a date"


def test_numbers_the_norwegian_way():
    assert format_number(72.5) == "72,5"
    assert format_number("1.50") == "1,50"  # the lab's precision is kept
    assert format_number(10000) == "10\u00a0000"
    assert format_number(1234) == "1234"  # Norwegian: four digits stay together
    assert format_number(1234, "en") == "1,234"
    assert format_number(-3.25, decimals=1) == "-3,2"
    assert format_quantity({"value": 72.5, "unit": "kg"}) == "72,5\u00a0kg"
    assert format_quantity({"value": 5, "comparator": "<", "unit": "mg/L"}) == "<5\u00a0mg/L"


def test_nice_ticks_cover_the_range():
    ticks = nice_ticks(63.2, 81.7)
    assert ticks[0] <= 63.2 and ticks[-1] >= 81.7
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and steps.pop() in (1, 2, 5, 10)


def test_chart_is_accessible_svg_with_reference_range():
    t = Catalogue(MESSAGES).translator("nb")
    svg = str(line_chart([Series("Klinikk", [("2024-01-02", 72.5), ("2025-03-01", 74)]),
                          Series("Hjemme", [("2025-01-01", 73)], "home")],
                         title="Vekt", unit="kg", reference=(60, 80), t=t))
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "Referanseområde 60–80" in svg
    assert svg.count("<circle") == 2 + 1 and svg.count("<rect") >= 2  # markers differ by shape; range band
    assert "style=" not in svg  # the CSP forbids inline styles
    assert "Klinikk, 2. januar 2024: 72,5 kg" in svg
    empty = str(line_chart([Series("x", [])], title="t", unit="kg", t=t))
    assert "Ingen målinger" in empty and "<svg" not in empty


def test_chart_escapes_names():
    t = Catalogue(MESSAGES).translator("en")
    svg = str(line_chart([Series("<script>", [("2024-01-02", 1)])], title="<b>", unit="&", t=t))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_catalogue_nb_and_en_have_the_same_keys():
    catalogue = Catalogue(MESSAGES)
    assert catalogue.missing("en") == set()
    assert catalogue.translator("en")("acting_for", name="Emma") == "You are acting on behalf of Emma"


def test_a_word_missing_in_nynorsk_falls_back_to_bokmal_and_nynorsk_is_then_not_offered():
    catalogue = Catalogue({"nb": {"a": "bokmål", "b": "berre bokmål"}, "nn": {"a": "nynorsk"}, "en": {"a": "en", "b": "b"}})
    assert catalogue.translator("nn")("a") == "nynorsk"
    assert catalogue.translator("nn")("b") == "berre bokmål"  # never a raw key
    assert catalogue.missing("nn") == {"b"}
    assert catalogue.complete() == ("nb", "en")


def test_the_citizen_portal_speaks_nynorsk_the_clinician_workspace_does_not_yet():
    from ehelse.portals.citizen.messages import MESSAGES as CITIZEN
    from ehelse.portals.clinician.messages import MESSAGES as CLINICIAN

    citizen = Catalogue(MESSAGES, CITIZEN)
    assert citizen.missing("nn") == set() and citizen.missing("en") == set()
    assert citizen.complete() == ("nb", "nn", "en")
    # every placeholder of a bokmål text is in its nynorsk text too (no KeyError when filled in)
    for key, text in citizen.texts["nb"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", citizen.texts["nn"][key])), key
    assert citizen.translator("nn")("nav_messages") == "Meldingar"
    assert "nn" not in Catalogue(MESSAGES, CLINICIAN).complete()


@pytest.mark.skipif(not (node_modules() / "@digdir/designsystemet-css").exists(), reason="npm ci has not run")
def test_static_serves_designsystemet_and_our_css_but_nothing_outside():
    from ehelse.web.app import create_app

    client = TestClient(create_app())
    for path in ("/static/ui/ehelse.css", "/static/ds/css/index.css", "/static/ds/theme/digdir.css",
                 "/static/htmx/htmx.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"].startswith("public")
    assert client.get("/static/ds/css/../../../../package.json").status_code == 404
    assert client.get("/static/ui/missing.css").status_code == 404
    css = client.get("/static/ui/ehelse.css").text
    assert not re.search(r"https?://", css)  # nothing from a CDN
