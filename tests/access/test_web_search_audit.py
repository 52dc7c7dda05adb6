"""Searches and other GETs with a token over HTTP (web/fhir.py: their audit rows gathered in
the worker thread, committed from the loop): a refusal and an emergency search are in the
audit log when the answer starts, not after it."""

from __future__ import annotations

import base64

import httpx
import pytest
from testsupport import process_records

from access_world import C  # noqa: E402

from ehelse.audit.record import render
from ehelse.settings import Settings
from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _records(repo) -> list[dict]:
    return [render(r) for r in process_records(repo)]


def _about(event: dict) -> tuple[str, str, list[str]]:
    """(patient reference, outcome, queries) of an AuditEvent."""
    patient = next(e["what"]["reference"] for e in event["entity"] if e["what"].get("reference", "").startswith("Patient/"))
    queries = [base64.b64decode(e["query"]).decode() for e in event["entity"] if "query" in e]
    return patient, event["outcome"], queries


async def test_a_refused_and_an_emergency_search_are_audited_before_the_answer_starts(world):
    repo, _ = world
    app = create_app(Settings.from_env({}, log_level="warning", validate=False), repo)
    at_answer: list[list[dict]] = []

    async def watched(scope, receive, send):
        async def watching(message):
            if message["type"] == "http.response.start" and scope["path"].startswith("/fhir/Observation"):
                at_answer.append(_records(repo))  # what is committed when the answer starts
            await send(message)
        await app(scope, receive, watching)

    doctor = {"organization": C["hospital_doctor"].orgnr}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=watched), base_url="http://testserver") as client:
        tokens = app.state.tokens
        plain = tokens.issue(f"practitioner:{C['hospital_doctor'].hpr}", **doctor)
        refused = await client.get("/fhir/Observation", params={"patient": "demo-knut"},
                                   headers={"Authorization": f"Bearer {plain}"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "purpose-required"
        before = len(at_answer[0])
        urgent = tokens.issue(f"practitioner:{C['hospital_doctor'].hpr}", purpose="ETREAT", reason="Akutt innlagt", **doctor)
        found = await client.get("/fhir/Observation", params={"patient": "demo-knut"},
                                 headers={"Authorization": f"Bearer {urgent}"})
        assert found.status_code == 200 and found.json()["entry"], found.text
    assert at_answer[0], "nothing was audited when the refusal's answer started"
    refusal = _about(at_answer[0][-1])
    assert refusal[0] == "Patient/demo-knut" and refusal[1] != "0" and refusal[2] == ["Observation?patient=demo-knut"]
    new = at_answer[1][before:]  # the grant's own record, then the search's
    assert any(e["subtype"][0]["code"] == "operation" for e in new), new
    search = _about(new[-1])
    assert search[0] == "Patient/demo-knut" and search[1] == "0", new[-1]
