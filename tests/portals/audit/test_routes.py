"""/revisjon: admins only, the report's tables with captions, period filter, details by
audit id (no FNR in URLs), and every view audited."""

from __future__ import annotations

import re

import httpx

from ehelse.audit import log
from ehelse.audit.security import record_security
from portals.healthdata.test_routes import personnel_client

P = "/revisjon"


def test_others_get_login_or_403(live_server):
    r = httpx.get(f"{live_server}{P}/")
    assert r.status_code == 403 and f'href="{P}/logg-inn"' in r.text
    doctor = personnel_client(live_server.url, "lege")
    assert doctor.get(f"{P}/").status_code == 403
    assert doctor.get(f"{P}/hendelse/x-1").status_code == 403
    login = httpx.get(f"{live_server}{P}/logg-inn")
    assert login.status_code == 303 and "/login/helseid" in login.headers["location"]


def test_admin_sees_the_report_and_each_view_is_audited(live_server, portal_repo):
    record_security(portal_repo, interaction="login", actor_kind="patient", actor_id="13116900216", ok=False)
    admin = personnel_client(live_server.url, "administrator")
    before = log.count(portal_repo, log.LogQuery(interactions=["audit-view"]))
    page = admin.get(f"{P}/?since=2000-01-01")
    assert page.status_code == 200 and "Revisjon av tilgang" in page.text
    for caption in ("Nødtilganger gitt", "Tilgang uten behandlingsrelasjon", "Avviste forsøk", "Uvanlige mønstre",
                    "Innlogginger"):
        assert f"<caption>{caption}" in page.text
    assert 'scope="col"' in page.text and "Mislyktes" in page.text
    assert log.count(portal_repo, log.LogQuery(interactions=["audit-view"])) == before + 1
    links = re.findall(r'href="(/revisjon/hendelse/[^"]+)"', page.text)
    # No FNR in URLs: the ids are "<chain>-<seq>" with a random hex chain, which can hold
    # eleven digits in a row by chance, so look for the FNR this test logged, not a pattern.
    assert links and all(re.fullmatch(r"/revisjon/hendelse/[0-9a-f]+-\d+", link) for link in links)
    assert "13116900216" not in "".join(links)
    detail = admin.get(links[0])
    assert detail.status_code == 200 and "<caption>Revisjonshendelse" in detail.text
    assert log.count(portal_repo, log.LogQuery(interactions=["audit-view"])) == before + 2
    english = admin.get(f"{P}/?since=2000-01-01&lang=en")
    assert "Access review" in english.text and "<caption>Logins" in english.text


def test_period_filter_and_bad_input(live_server):
    admin = personnel_client(live_server.url, "administrator")
    empty = admin.get(f"{P}/?since=2000-01-01&until=2000-01-02")
    assert empty.status_code == 200 and "Ingen i perioden." in empty.text and "Mislyktes" not in empty.text
    assert admin.get(f"{P}/?since=igår").status_code == 400
    assert admin.get(f"{P}/hendelse/nope-1").status_code == 404
    assert admin.get(f"{P}/hendelse/zz").status_code == 404
