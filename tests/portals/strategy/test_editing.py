"""/strategi editing: admins (HelseID role administrator) edit items through CSRF-checked
forms, others read only; indicators keep one computed snapshot per day as their history."""

from __future__ import annotations

import re

import httpx
import pytest

from ehelse.errors import BadRequest
from ehelse.portals.strategy.editing import apply_form, record_snapshot
from ehelse.portals.strategy.plan import Item, PlanStore
from portals.healthdata.test_routes import csrf_of, personnel_client


def test_reading_needs_no_login_but_editing_does(live_server):
    page = httpx.get(f"{live_server}/strategi/")
    assert page.status_code == 200 and "/strategi/rediger/" not in page.text and "Logg inn for å redigere" in page.text
    r = httpx.get(f"{live_server}/strategi/rediger/I4")
    assert r.status_code == 303 and r.headers["location"] == "/strategi/logg-inn"
    assert httpx.post(f"{live_server}/strategi/rediger/I4", data={"title": "x"}).status_code == 403
    doctor = personnel_client(live_server.url, "lege")
    assert doctor.post("/strategi/rediger/I4", data={"title": "x"}).status_code == 403


def test_admin_edits_an_indicator_and_an_activity(live_server, portal_repo):
    admin = personnel_client(live_server.url, "administrator")
    overview = admin.get("/strategi/")
    assert 'href="/strategi/rediger/I4"' in overview.text
    form = admin.get("/strategi/rediger/I4")
    assert form.status_code == 200 and 'name="target_year"' in form.text
    r = admin.post("/strategi/rediger/I4", data={"csrf_token": csrf_of(form.text), "title": "Legemiddellisten i bruk",
                                                 "baseline": "12,5", "baseline_year": "2024", "target": "80",
                                                 "target_year": "2029", "unit": "%"})
    assert r.status_code == 200 and r.url.path == "/strategi/indikator/I4" and "Endringen er lagret" in r.text
    saved = PlanStore(portal_repo).get("I4")
    assert saved.title == "Legemiddellisten i bruk" and saved.data["baseline"] == 12.5
    assert saved.data["baseline_year"] == 2024 and saved.data["computed"] == "medication_list"  # kept
    form = admin.get("/strategi/rediger/A1")
    r = admin.post("/strategi/rediger/A1", data={"csrf_token": csrf_of(form.text), "title": "Digital dialog",
                                                 "owner": "Helse Vest", "status": "kanskje", "start": "", "end": ""})
    assert r.status_code == 400 and "status must be one of" in r.text
    r = admin.post("/strategi/rediger/A1", data={"csrf_token": "forged", "title": "x"})
    assert r.status_code == 403
    r = admin.post("/strategi/rediger/A1", data={"csrf_token": csrf_of(form.text), "title": "Digital dialog",
                                                 "owner": "Helse Vest", "status": "fullført", "start": "2023-01-01",
                                                 "end": "2025-06-30"})
    assert r.status_code == 200 and "Helse Vest" in r.text and "fullført" in r.text
    assert admin.get("/strategi/rediger/nope").status_code == 404


def test_apply_form_checks_fields():
    activity = Item("A1", "activity", "T", "1A", {"owner": "X", "status": "pågår"})
    for form, says in (({"title": ""}, "title"), ({"title": "T", "start": "2025-13-01"}, "start"),
                       ({"title": "T", "start": "2025-02-01", "end": "2025-01-01"}, "before"),
                       ({"title": "T", "status": "??"}, "status")):
        with pytest.raises(BadRequest, match=says):
            apply_form(activity, form)
    indicator = Item("I1", "indicator", "T", "1A", {"computed": "portal_use"})
    with pytest.raises(BadRequest, match="baseline"):
        apply_form(indicator, {"title": "T", "baseline": "mye"})
    assert apply_form(indicator, {"title": "T", "target": "80,5", "target_year": "2030"}).data == {
        "computed": "portal_use", "target": 80.5, "target_year": 2030}


def test_history_keeps_one_snapshot_per_day(portal_repo, live_server):
    store = PlanStore(portal_repo)
    store.ensure_seeded()
    item = store.get("I5")
    assert record_snapshot(store, item, 10.0, today="2025-01-01") == [("2025-01-01", 10.0)]
    item = store.get("I5")
    assert record_snapshot(store, item, 99.0, today="2025-01-01") == [("2025-01-01", 10.0)]  # same day: kept
    history = record_snapshot(store, store.get("I5"), 12.345, today="2025-01-02")
    assert history == [("2025-01-01", 10.0), ("2025-01-02", 12.35)]
    page = httpx.get(f"{live_server}/strategi/indikator/I5").text  # today's value joins the stored history
    rows = re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)</th>', page)
    assert rows[:2] == ["2025-01-01", "2025-01-02"] and len(rows) == 3
