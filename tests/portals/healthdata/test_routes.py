"""/helsedata over HTTP on the seeded portal database: who may run views, validation of a
pasted view, pseudonymised output by default, downloads, and the audit of every run."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest

from ehelse.nobasis.seed import DEMO_CAST

P = "/helsedata"


def personnel_client(base: str, role: str) -> httpx.Client:
    """A client logged in through the built-in HelseID-style login in `role`."""
    client = httpx.Client(base_url=base, follow_redirects=True)
    client.get(f"{P}/logg-inn")  # the anonymous session remembers to come back to /helsedata
    page = client.get("/login/helseid").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    gp = DEMO_CAST["gp"]
    client.post("/login/helseid", data={"csrf_token": csrf, "hpr": gp.hpr, "orgnr": gp.orgnr, "role": role,
                                        "purpose": "TREAT"})
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def analyst(live_server):
    client = personnel_client(live_server.url, "analytiker")
    yield client
    client.close()


def test_anonymous_and_wrong_role_are_sent_to_login(live_server):
    r = httpx.get(f"{live_server}{P}/")
    assert r.status_code == 303 and r.headers["location"] == f"{P}/logg-inn"
    doctor = personnel_client(live_server.url, "lege")
    page = doctor.get(f"{P}/")
    assert page.url.path == f"{P}/logg-inn" and "ikke i rollen analytiker" in page.text


def test_analyst_runs_a_library_view_pseudonymised(analyst, portal_repo):
    page = analyst.get(f"{P}/")
    assert page.status_code == 200 and "patient_demographics" in page.text
    assert "Uten pseudonymisering" not in page.text  # only admins may turn it off
    r = analyst.post(f"{P}/", data={"csrf_token": csrf_of(page.text), "library": "patient_demographics",
                                    "engine": "duckdb", "project": "prosjekt-a", "purpose": "Test av kjøring",
                                    "identifiable": "on"})  # ignored: not an admin
    assert r.status_code == 200, r.text
    assert "Pseudonymisert for prosjektet" in r.text
    ids = {p.id for p in (portal_repo.iter_current("Patient"))}
    assert ids and not any(f">{i}<" in r.text for i in ids)  # no live Patient id in the table
    assert re.search(r"<td>[0-9a-f]{32}</td>", r.text)  # pseudonyms
    # audited: one event per patient read, naming the view and the purpose
    from ehelse.audit import log

    rows = [row for row in log.select(portal_repo, log.LogQuery(newest_first=True))][:200]
    text = json.dumps([str(r) for r in rows], ensure_ascii=False)
    assert "patient_demographics" in text and "Test av kjøring" in text


def test_pasted_view_is_validated_with_a_clear_error(analyst):
    csrf = csrf_of(analyst.get(f"{P}/").text)
    for bad, says in (("{not json", "not valid JSON"),
                      (json.dumps({"resourceType": "ViewDefinition", "resource": "Patient", "status": "active",
                                   "select": [{"column": [{"name": "bad name", "path": "id"}]}]}), "name")):
        r = analyst.post(f"{P}/", data={"csrf_token": csrf, "view_json": bad, "engine": "runner", "project": "p",
                                        "purpose": "q"})
        assert r.status_code == 400 and 'role="alert"' in r.text and says in r.text
    r = analyst.post(f"{P}/", data={"csrf_token": csrf, "library": "patient_demographics", "engine": "spark!",
                                    "project": "p", "purpose": "q"})
    assert r.status_code == 400
    r = analyst.post(f"{P}/", data={"csrf_token": "wrong", "library": "patient_demographics", "project": "p",
                                    "purpose": "q"})
    assert r.status_code == 403


def test_download_csv_and_parquet_same_pseudonyms_within_a_project(analyst):
    csrf = csrf_of(analyst.get(f"{P}/").text)
    form = {"csrf_token": csrf, "library": "patient_demographics", "engine": "runner", "purpose": "uttrekk"}
    first = analyst.post(f"{P}/last-ned", data={**form, "project": "prosjekt-a", "format": "csv"})
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/csv")
    assert "attachment" in first.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(first.text)))
    assert len(rows) >= 20 and all(re.fullmatch(r"[0-9a-f]{32}", r["patient_id"]) for r in rows)
    again = list(csv.DictReader(io.StringIO(
        analyst.post(f"{P}/last-ned", data={**form, "project": "prosjekt-a", "format": "csv"}).text)))
    other = list(csv.DictReader(io.StringIO(
        analyst.post(f"{P}/last-ned", data={**form, "project": "prosjekt-b", "format": "csv"}).text)))
    assert {r["patient_id"] for r in again} == {r["patient_id"] for r in rows}  # stable within a project
    assert not {r["patient_id"] for r in other} & {r["patient_id"] for r in rows}  # unlinkable across
    parquet = analyst.post(f"{P}/last-ned", data={**form, "project": "prosjekt-a", "format": "parquet"})
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
    assert analyst.post(f"{P}/last-ned", data={**form, "project": "prosjekt-a", "format": "xls"}).status_code == 400


def test_admin_may_download_identifiable(live_server, portal_repo):
    admin = personnel_client(live_server.url, "administrator")
    page = admin.get(f"{P}/")
    assert "Uten pseudonymisering" in page.text
    r = admin.post(f"{P}/last-ned", data={"csrf_token": csrf_of(page.text), "library": "patient_demographics",
                                          "engine": "duckdb", "project": "p", "purpose": "kontroll",
                                          "identifiable": "on", "format": "csv"})
    ids = {row["patient_id"] for row in csv.DictReader(io.StringIO(r.text))}
    assert ids == {p.id for p in portal_repo.iter_current("Patient")}
