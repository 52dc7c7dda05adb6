"""/strategi over HTTP on the seeded portal database: the plan, live indicators with their
definitions, suppression of small cells, both languages, and `ehelse strategy import`."""

from __future__ import annotations

import re

import httpx
import pytest

from ehelse.portals.strategy.plan import PlanStore, read_csv
from ehelse.errors import BadRequest

# live indicators are computed on request: give a loaded machine time (httpx's default is 5 s)
http = httpx.Client(timeout=60)


def test_overview_lists_goals_and_live_indicators(live_server):
    r = http.get(f"{live_server}/strategi/")
    assert r.status_code == 200 and r.headers["content-language"] == "nb"
    for goal in ("Aktiv medvirkning", "Enklere arbeidshverdag", "Helsedata til fornying", "Tilgjengelig informasjon",
                 "Samarbeid og gjennomføringskraft"):
        assert goal in r.text
    assert "57" in r.text and "Illustrativt utkast" in r.text
    assert re.search(r'href="/strategi/indikator/I4"', r.text)


def test_indicator_page_has_value_definition_and_suppressed_breakdown(live_server):
    r = http.get(f"{live_server}/strategi/indikator/I8")
    assert r.status_code == 200
    assert "Formel" in r.text and "vaccinations" in r.text  # the ViewDefinition, one click away
    assert "<svg" in r.text and "Tallene i grafen" in r.text  # chart plus its table alternative
    table = r.text.split("Etter kommune", 1)[1]
    # 20 patients over several kommuner: counts below 3 are hidden (shown as –), never printed
    cells = re.findall(r"<td>(\d+|–)</td>", table)
    assert "–" in cells and not any(c.isdigit() and 0 < int(c) < 3 for c in cells)


def test_english_and_unknown_indicator(live_server):
    r = http.get(f"{live_server}/strategi/indikator/I4", params={"lang": "en"})
    assert r.status_code == 200 and "Formula" in r.text and 'lang="en"' in r.text
    assert http.get(f"{live_server}/strategi/indikator/nope").status_code == 404
    assert http.get(f"{live_server}/strategi/indikator/{'x' * 500}").status_code == 404


def test_csv_import_replaces_and_checks(portal_repo, live_server):
    store = PlanStore(portal_repo)
    store.ensure_seeded()
    store.save(read_csv("code,kind,parent,title,owner,status,start,end\n"
                        "A9,activity,1A,Ny digital timebestilling,Helse Sør-Øst,pågår,2025-01-01,2026-06-30\n"))
    assert "Ny digital timebestilling" in http.get(f"{live_server}/strategi/").text
    for bad in ("code,kind,title\nX,nonsense,T\n", "code,kind,title,status\nX,activity,T,kanskje\n",
                "code,title\nX,T\n", "code,kind,title,baseline\nX,indicator,T,mye\n"):
        with pytest.raises(BadRequest):
            read_csv(bad)


def test_cli_import(ehelse_cli, tmp_path, portal_repo):
    plan = tmp_path / "plan.csv"
    plan.write_text("code,kind,parent,title,baseline,baseline_year,unit\nI9,indicator,5A,Antall tiltak i rute,10,2024,stk\n",
                    encoding="utf-8")
    result = ehelse_cli("strategy", "import", str(plan), "--database", portal_repo.url)
    assert "imported 1" in result.output
    assert PlanStore(portal_repo).get("I9").data == {"baseline": 10.0, "baseline_year": 2024, "unit": "stk"}


@pytest.fixture
def ehelse_cli():
    from typer.testing import CliRunner

    from ehelse.cli.main import app

    def run(*args: str):
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result

    return run
