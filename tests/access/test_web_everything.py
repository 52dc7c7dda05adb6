"""`GET /fhir/Patient/$everything` at type level over HTTP (patient-operation-everything.html:
"all patients that the user associated with the request has access to"): each caller gets
the records of the patients they may see and no one else's, paged, every patient touched
audited, the instance level's rules on each record."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from testsupport import process_records

from access_world import C  # noqa: E402

from ehelse.access.policy import PUBLIC_TYPES
from ehelse.access.schedules import is_directory
from ehelse.access.view import owners

pytestmark = pytest.mark.anyio


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _walk(client, headers, params: dict[str, str]) -> tuple[list[dict], list[httpx.Response]]:
    """Every page from the first, following `next`: (the entries, the responses)."""
    entries, responses = [], []
    url, query = "/fhir/Patient/$everything", dict(params)
    while True:
        response = await client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        responses.append(response)
        body = response.json()
        assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
        entries += body.get("entry", [])
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not nxt:
            return entries, responses
        assert len(responses) < 500, "paging does not end"
        parts = urlsplit(nxt[0])
        url, query = parts.path, dict(parse_qsl(parts.query))


def _patients_of(entries: list[dict]) -> set[str]:
    """The patients whose data the entries are (directory and definition resources: no one's)."""
    out: set[str] = set()
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] in PUBLIC_TYPES or is_directory(resource):
            continue
        found = owners(resource)
        assert found, f"{resource['resourceType']}/{resource['id']} is in no patient's record"
        out |= found
    return out


def _records(entries: list[dict]) -> set[str]:
    """The patients whose records were given: the Patient resources among the matches."""
    return {e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"
            and e["resource"]["resourceType"] == "Patient"}


def _only(patients: set[str], entries: list[dict]) -> None:
    """Every resource is in one of these patients' records (it may be in others' too: an
    Observation of one patient performed by another is in both compartments)."""
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] in PUBLIC_TYPES or is_directory(resource):
            continue
        assert owners(resource) & patients, f"{resource['resourceType']}/{resource['id']} leaked"


def _keys(entries: list[dict], mode: str = "match") -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if e["search"]["mode"] == mode]


def _audited(repo, responses: list[httpx.Response]) -> set[str]:
    """The patients of the audit records these requests wrote (by their request ids)."""
    ids = {r.headers["x-request-id"] for r in responses}
    rows = process_records(repo)
    return {row["patient"] for row in rows if row["request_id"] in ids}


async def test_an_admin_gets_every_patients_record_paged_and_each_patient_audited(http):
    client, tokens, repo = http
    admin = _auth(tokens.issue("admin"))
    everyone = (await client.get("/fhir/Patient", params={"_count": "1000", "_elements": "id"}, headers=admin)).json()
    patient_ids = {e["resource"]["id"] for e in everyone["entry"]}
    assert len(patient_ids) > 20
    entries, responses = await _walk(client, admin, {"_count": "250"})
    matches = _keys(entries)
    assert _records(entries) == patient_ids
    assert len(responses) > 1
    for response in responses:  # a page holds each resource once (bdl-7), and _count matches at most
        page = [e["fullUrl"] for e in response.json().get("entry", [])]
        assert len(page) == len(set(page)) and len(_keys(response.json().get("entry", []))) <= 250
    # a resource comes again on another page only with another record it is in
    for key in {k for k in matches if matches.count(k) > 1}:
        resource = next(e["resource"] for e in entries if _keys([e]) == [key])
        assert len(owners(resource)) > 1, key
    # the same records as asking patient by patient (the instance level)
    for patient in ("demo-kari", "demo-knut", "t-giver"):
        one = (await client.get(f"/fhir/Patient/{patient}/$everything", params={"_count": "1000"},
                                headers=admin)).json()
        assert set(_keys(one["entry"])) <= set(matches)
    assert _audited(repo, responses) == _patients_of(entries) >= patient_ids


async def test_a_citizen_gets_only_their_own_record(http):
    client, tokens, repo = http
    kari = _auth(tokens.issue(f"patient:{C['kari'].fnr}"))
    entries, responses = await _walk(client, kari, {"_count": "1000"})
    assert _records(entries) == {"demo-kari"}
    _only({"demo-kari"}, entries)
    assert "Observation/obs-demo-kari" in _keys(entries)
    assert "demo-kari" in _audited(repo, responses) == _patients_of(entries)
    own = (await client.get("/fhir/Patient/demo-kari/$everything", params={"_count": "1000"}, headers=kari)).json()
    assert sorted(_keys(entries)) == sorted(_keys(own["entry"]))


async def test_a_citizen_acting_for_others_gets_theirs_with_the_instance_levels_limits(http):
    client, tokens, repo = http
    # SMART context Emma: only Emma (patient/ scopes are the one patient acted for)
    for_emma = _auth(tokens.issue(f"patient:{C['kari'].fnr}", for_patient=C["emma"].fnr))
    entries, _ = await _walk(client, for_emma, {"_count": "1000"})
    assert _records(entries) == {"demo-emma"}
    _only({"demo-emma"}, entries)
    # user/ scopes: herself and everyone she acts for, her children; of Jonas (13) not what
    # parents of a 12-15 year old may not see
    kari_user = _auth(tokens.issue(f"patient:{C['kari'].fnr}", scope="openid fhirUser user/*.rs"))
    entries, responses = await _walk(client, kari_user, {"_count": "7"})
    assert _records(entries) == {"demo-kari", "demo-emma", "demo-jonas"}
    _only({"demo-kari", "demo-emma", "demo-jonas"}, entries)
    assert _audited(repo, responses) == _patients_of(entries)
    keys = _keys(entries)
    assert "Observation/obs-demo-jonas" in keys
    assert not {"DocumentReference/doc-demo-jonas", "Observation/obs-withheld-demo-jonas"} & set(keys)


async def test_personnel_get_their_care_relationships_only_and_never_break_the_glass(http):
    client, tokens, repo = http

    async def records(who, **kw) -> set[str]:
        headers = _auth(tokens.issue(f"practitioner:{C[who].hpr}", organization=C[who].orgnr, **kw))
        entries, responses = await _walk(client, headers, {"_count": "500"})
        patients = _records(entries)
        _only(patients, entries)
        assert _audited(repo, responses) == _patients_of(entries)
        ids = {x.headers["x-request-id"] for x in responses}
        rows = [r for r in process_records(repo) if r["request_id"] in ids]
        assert {r["relation"] for r in rows} == {"care"} and {r["outcome"] for r in rows} == {"0"}
        for patient in sorted(patients)[:3]:  # each is a record they may open by name too
            assert (await client.get(f"/fhir/Patient/{patient}/$everything", headers=headers)).status_code == 200
        return patients

    gp = await records("gp")
    assert {"demo-kari", "demo-ola", "demo-astrid"} <= gp and "t-giver" not in gp
    doctor = await records("hospital_doctor")
    assert "demo-astrid" in doctor and not {"demo-knut", "demo-per"} & doctor  # no care; Per blocked him
    # a purpose of emergency opens a record named in a request, never everyone's
    assert await records("hospital_doctor", purpose="BTG", reason="Bevisstløs i akuttmottak") == doctor


async def test_bad_parameters_are_400_over_http(http):
    client, tokens, _ = http
    admin = _auth(tokens.issue("admin"))
    for params in ({"_type": "Nope"}, {"start": "last-year"}, {"_page": "x"}, {"_count": "many"}, {"color": "red"}):
        response = await client.get("/fhir/Patient/$everything", params=params, headers=admin)
        assert response.status_code == 400, params
        assert response.json()["resourceType"] == "OperationOutcome"
    assert (await client.get("/fhir/Patient/$everything")).status_code == 401  # a token, as everywhere
