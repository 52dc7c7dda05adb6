"""The citizen portal's pages in process (Starlette TestClient on a copy of the seeded
database): login, acting for others within the rules, CSRF, writes landing in the API."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from ehelse.nobasis.seed import DEMO_CAST
from ehelse.settings import get_settings

from testsupport import copy_db

PAGES = ["/innbygger/", "/innbygger/velg-person", "/innbygger/journal", "/innbygger/legemidler", "/innbygger/provesvar",
         "/innbygger/dokumenter", "/innbygger/meldinger", "/innbygger/timer", "/innbygger/egenmaling", "/innbygger/skjema",
         "/innbygger/personvern", "/innbygger/fullmakt", "/innbygger/last-ned", "/innbygger/last-ned/sammendrag",
         "/innbygger/tilgjengelighet"]


@pytest.fixture(scope="module")
def app(portal_db, tmp_path_factory):
    from ehelse.web.app import create_app

    path = copy_db(portal_db, tmp_path_factory.mktemp("routes"))
    return create_app(get_settings(database_url=f"sqlite:///{path}", rate_limit=0))


def login(app, key: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert client.get("/innbygger/logg-inn").status_code == 200
    page = client.get("/login/idporten")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login/idporten", data={"pid": DEMO_CAST[key].fnr, "csrf_token": token})
    assert response.headers["location"] == "/innbygger/"  # back to the portal, not /login/done
    return client


def csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def act_for(client: TestClient, patient_id: str) -> None:
    response = client.post("/innbygger/velg-person", data={"patient": patient_id,
                                                           "csrf_token": csrf(client, "/innbygger/velg-person")})
    assert response.status_code == 303


def test_anonymous_visitors_go_to_the_login_page(app):
    client = TestClient(app, follow_redirects=False)
    assert client.get("/innbygger/journal").headers["location"] == "/innbygger/logg-inn"
    assert client.get("/innbygger/tilgjengelighet").status_code == 200


def test_every_page_renders_with_server_timing_in_every_language(app):
    client = login(app, "astrid")
    for path in PAGES:
        for lang in ("nb", "nn", "en"):
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code == 200, (path, lang)
            assert response.headers["server-timing"].startswith("app;dur=")
            assert response.headers["cache-control"] == "no-store"
            assert f'<html lang="{lang}">' in response.text
            assert "11848441637" not in response.text and DEMO_CAST["astrid"].fnr not in response.text  # no FNRs shown


def test_parent_acts_for_the_9_year_old_but_not_for_strangers(app):
    client = login(app, "kari")
    switch = client.get("/innbygger/velg-person").text
    assert "Emma Nordmann" in switch and "Jonas Nordmann" in switch
    assert client.post("/innbygger/velg-person", data={"patient": "demo-astrid",
                                                       "csrf_token": csrf(client, "/innbygger/velg-person")}).status_code == 400
    act_for(client, "demo-emma")
    page = client.get("/innbygger/journal").text
    assert "Du handler på vegne av Emma Nordmann" in page
    assert "/innbygger/dokumenter" in page  # under 12: everything


def test_parent_of_14_year_old_sees_no_documents_and_nothing_withheld(app, portal_db):
    client = login(app, "kari")
    act_for(client, "demo-jonas")
    page = client.get("/innbygger/journal").text
    assert "Du handler på vegne av Jonas Nordmann" in page
    assert 'href="/innbygger/dokumenter"' not in page and 'href="/innbygger/personvern"' not in page
    assert client.get("/innbygger/dokumenter").status_code == 404
    assert "angst" not in page.lower()  # the GP contact about anxiety is withheld from parents
    jonas = login(app, "jonas")
    assert "angst" in jonas.get("/innbygger/journal").text.lower()  # ...but it is there for him


def test_post_without_csrf_is_refused(app):
    client = login(app, "astrid")
    response = client.post("/innbygger/egenmaling", data={"kind": "weight", "value": "70"})
    assert response.status_code == 403


def test_bad_measurement_is_a_400_page_not_a_500(app):
    client = login(app, "astrid")
    token = csrf(client, "/innbygger/egenmaling")
    for value in ("abc", "9999", "nan"):
        response = client.post("/innbygger/egenmaling", data={"kind": "weight", "value": value, "csrf_token": token})
        assert response.status_code == 400, value
    assert client.post("/innbygger/egenmaling", data={"kind": "x", "value": "1", "csrf_token": token}).status_code == 400
    assert client.get("/innbygger/provesvar/<script>").status_code == 404


def test_message_with_attachment_type_and_size_limits(app):
    client = login(app, "astrid")
    page = client.get("/innbygger/meldinger").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    recipient = re.search(r'<option value="(Organization/[^"]+)"', page).group(1)
    bad = client.post("/innbygger/meldinger", data={"recipient": recipient, "text": "Hei", "csrf_token": token},
                      files={"attachment": ("x.exe", b"MZ", "application/x-msdownload")})
    assert bad.status_code == 400
    ok = client.post("/innbygger/meldinger", data={"recipient": recipient, "text": "Hei, legen", "csrf_token": token},
                     files={"attachment": ("notat.txt", b"hello", "text/plain")})
    assert ok.status_code == 303
    thread = client.get(ok.headers["location"]).text
    assert "Hei, legen" in thread and "notat.txt" in thread
    attachment = re.search(r'href="(/innbygger/meldinger/[^"]+/vedlegg/\d+)"', thread).group(1)
    download = client.get(attachment)
    assert download.content == b"hello" and download.headers["content-disposition"].startswith("attachment")


def test_nynorsk_is_offered_and_remembered(app):
    """Issue 7, "nynorsk welcome": the switch offers bokmål, nynorsk and English on every
    page; nynorsk is then the page's language (html lang, words) until changed."""
    client = login(app, "kari")
    page = client.get("/innbygger/").text
    assert 'hreflang="nn"' in page and 'hreflang="en"' in page
    nn = client.get("/innbygger/journal?lang=nn")
    assert nn.headers["content-language"] == "nn" and client.cookies.get("lang") == "nn"
    assert '<html lang="nn">' in nn.text and "Aktive diagnosar" in nn.text and "Aktive diagnoser" not in nn.text
    remembered = client.get("/innbygger/meldinger").text
    assert '<html lang="nn">' in remembered and "Ny melding" in remembered and "Meldingar" in remembered
    act_for(client, "demo-emma")
    assert "Du handlar på vegner av Emma Nordmann" in client.get("/innbygger/").text
