"""The rules through HTTP: `/fhir` runs every request with a token against its own
SecuredRepository (web/fhir.py), and the tokens `ehelse token` makes carry the actor."""

from __future__ import annotations

import pytest

from access_world import C  # noqa: E402


pytestmark = pytest.mark.anyio


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_citizen_parent_and_personnel_over_http(http):
    client, tokens, _ = http
    kari_for_emma = _auth(tokens.issue(f"patient:{C['kari'].fnr}", for_patient=C["emma"].fnr))
    assert (await client.get("/fhir/Observation/obs-demo-emma", headers=kari_for_emma)).status_code == 200
    assert (await client.get("/fhir/Observation/obs-demo-per", headers=kari_for_emma)).status_code == 404
    doctor = _auth(tokens.issue(f"practitioner:{C['hospital_doctor'].hpr}", organization=C["hospital_doctor"].orgnr))
    denied = await client.get("/fhir/Observation/obs-demo-knut", headers=doctor)
    assert denied.status_code == 403
    assert denied.json()["issue"][0]["details"]["coding"][0]["code"] == "purpose-required"
    emergency = _auth(tokens.issue(f"practitioner:{C['hospital_doctor'].hpr}", organization=C["hospital_doctor"].orgnr,
                                   purpose="ETREAT", reason="Akutt innlagt"))
    assert (await client.get("/fhir/Observation/obs-demo-knut", headers=emergency)).status_code == 200
    assert (await client.get("/fhir/metadata")).status_code == 200  # no token needed


async def test_admin_reads_audit_but_cannot_write_it(http):
    client, tokens, _ = http
    admin = _auth(tokens.issue("admin"))
    found = (await client.get("/fhir/AuditEvent", params={"_count": "1"}, headers=admin)).json()
    assert found["entry"]
    event = found["entry"][0]["resource"]
    assert (await client.put(f"/fhir/AuditEvent/{event['id']}", json=event, headers={
        **admin, "Content-Type": "application/fhir+json"})).status_code == 403
