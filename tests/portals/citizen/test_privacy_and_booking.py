"""Portal writes that the server's rules shape: booking marks the Slot busy, read status in
Communication.received, a fullmakt given by FNR (RelatedPerson + Consent in one transaction),
and the emergency-notice choice that access/care.py obeys."""

from __future__ import annotations

import re
from datetime import date, timedelta

import orjson

from ehelse.access.care import GRANT_CODE, GRANT_SYSTEM, wants_notice
from ehelse.access.lookup import find
from ehelse.nobasis.seed import DEMO_CAST

from portals.citizen.test_routes import app, csrf, login  # noqa: F401  (the module's app fixture)


def repo_of(app):  # noqa: F811
    return app.state.repo


def test_booking_marks_the_slot_busy_and_a_second_booking_is_refused(app):  # noqa: F811
    kari = login(app, "kari")
    page = kari.get("/innbygger/timer").text
    slot_id = re.search(r'name="slot" id="slot-1" value="([^"]+)"', page).group(1)
    token = csrf(kari, "/innbygger/timer")
    assert kari.post("/innbygger/timer", data={"slot": slot_id, "csrf_token": token}).status_code == 303
    slot = orjson.loads(repo_of(app).read("Slot", slot_id).content)
    assert slot["status"] == "busy"
    assert f'value="{slot_id}"' not in kari.get("/innbygger/timer").text
    ola = login(app, "ola")
    refused = ola.post("/innbygger/timer", data={"slot": slot_id, "csrf_token": csrf(ola, "/innbygger/timer")})
    assert refused.status_code in (400, 409)
    booked = [a for a in find(repo_of(app), "Appointment", slot=f"Slot/{slot_id}") if a["status"] == "booked"]
    assert len(booked) == 1


def test_opening_a_thread_sets_communication_received(app):  # noqa: F811
    repo = repo_of(app)
    made = orjson.loads(repo.create({
        "resourceType": "Communication", "status": "completed", "subject": {"reference": "Patient/demo-per"},
        "recipient": [{"reference": "Patient/demo-per"}], "sender": {"reference": "Organization/demo-legesenter"},
        "sent": "2026-11-01T09:00:00Z", "payload": [{"contentString": "Prøvesvaret ditt er klart"}]}).content)
    per = login(app, "per")
    assert "1 uleste" in per.get("/innbygger/").text
    assert "Prøvesvaret ditt er klart" in per.get(f"/innbygger/meldinger/{made['id']}").text
    assert orjson.loads(repo.read("Communication", made["id"]).content).get("received")
    assert "uleste" not in per.get("/innbygger/").text


def _give(client, fnr: str, end: str = ""):
    return client.post("/innbygger/fullmakt", data={"holder": "", "holder_fnr": fnr, "area": "3",
                                                    "start": date.today().isoformat(), "end": end,
                                                    "csrf_token": csrf(client, "/innbygger/fullmakt")})


def test_a_fullmakt_given_by_fnr_lets_the_holder_act(app):  # noqa: F811
    per = login(app, "per")
    end = (date.today() + timedelta(days=30)).isoformat()
    assert _give(per, DEMO_CAST["tor"].fnr, end).status_code == 303
    assert "Tor Eriksen" in per.get("/innbygger/fullmakt").text
    tor = login(app, "tor")
    assert "Per Johansen" in tor.get("/innbygger/velg-person").text
    assert _give(per, DEMO_CAST["jonas"].fnr).status_code == 400  # 14: too young to hold it
    assert _give(per, DEMO_CAST["sara"].fnr).status_code == 400  # confidential address
    assert _give(per, "123").status_code == 400
    holders = {i["value"] for r in find(repo_of(app), "RelatedPerson", patient="Patient/demo-per")
               for i in r.get("identifier") or []}
    assert DEMO_CAST["jonas"].fnr not in holders and DEMO_CAST["sara"].fnr not in holders  # nothing half-written


def test_emergency_notice_choice_is_what_the_access_rules_read(app):  # noqa: F811
    repo = repo_of(app)
    liv = login(app, "liv")
    assert wants_notice(repo, "demo-liv")
    token = csrf(liv, "/innbygger/personvern")
    assert liv.post("/innbygger/personvern", data={"action": "notice", "notify": "no", "csrf_token": token}).status_code == 303
    assert not wants_notice(repo, "demo-liv")
    assert 'id="f-notify-no" name="notify" value="no" checked' in liv.get("/innbygger/personvern").text
    token = csrf(liv, "/innbygger/personvern")
    liv.post("/innbygger/personvern", data={"action": "notice", "notify": "yes", "csrf_token": token})
    assert wants_notice(repo, "demo-liv")
    assert liv.post("/innbygger/personvern", data={"action": "notice", "notify": "maybe",
                                                   "csrf_token": csrf(liv, "/innbygger/personvern")}).status_code == 400


def test_emergency_access_notices_are_shown_in_the_portal(app):  # noqa: F811
    repo_of(app).create({"resourceType": "Communication", "status": "completed",
                         "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE}]}],
                         "subject": {"reference": "Patient/demo-knut"}, "recipient": [{"reference": "Patient/demo-knut"}],
                         "sent": "2026-11-02T10:00:00Z", "payload": [{"contentString": "Helsepersonell åpnet journalen din med nødrett"}]})
    page = login(app, "knut").get("/innbygger/personvern").text
    assert "Helsepersonell åpnet journalen din med nødrett" in page


def test_the_summary_downloads_as_a_pdf_with_the_record_in_it(app):  # noqa: F811
    import io

    astrid = login(app, "astrid")
    assert "/innbygger/last-ned/sammendrag.pdf" in astrid.get("/innbygger/last-ned").text
    response = astrid.get("/innbygger/last-ned/sammendrag.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and response.headers["content-disposition"].startswith("attachment")
    from fpdf import FPDF  # noqa: F401  (the dependency is there)

    text = _pdf_text(io.BytesIO(response.content))
    assert "Astrid Hansen" in text
    kari = login(app, "kari")
    act_for_jonas = kari.post("/innbygger/velg-person", data={"patient": "demo-jonas",
                                                               "csrf_token": csrf(kari, "/innbygger/velg-person")})
    assert act_for_jonas.status_code == 303
    assert kari.get("/innbygger/last-ned/sammendrag.pdf").status_code == 404  # parents of a 14-year-old: no


def _pdf_text(stream) -> str:
    """The text drawn by fpdf2's core fonts: uncompressed Latin-1 strings in (...) Tj operators
    when compression is off; with zlib streams, inflate them first."""
    import re
    import zlib

    data = stream.read()
    out = []
    for block in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            block = zlib.decompress(block)
        except zlib.error:
            pass
        out += [m.decode("latin-1") for m in re.findall(rb"\((.*?)\)\s*Tj", block)]
    return " ".join(out)
