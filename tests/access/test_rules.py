"""The rules behind the matrix, one at a time: edge dates, limits for parents of 12-15 year
olds, consents, confidential addresses, emergency access, AuditEvent read-only."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from access_world import C, TODAY, YESTERDAY, actor, observation, secured  # noqa: E402
from router_client import RouterClient  # noqa: E402

from ehelse.access.actor import Actor  # noqa: E402
from ehelse.access.care import EmergencyGrants  # noqa: E402
from ehelse.access.lookup import find  # noqa: E402
from ehelse.access.representation import representations  # noqa: E402
from ehelse.nobasis.seed.vocabulary import CONSENT_CATEGORY  # noqa: E402


def body(response) -> dict:
    return response.resource or orjson.loads(response.body)


def ids(response) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body(response).get("entry", [])}


def fnr(people, key):
    return people[key]["identifier"][0]["value"]


# -- representation on edge dates ------------------------------------------------------------
@pytest.mark.parametrize("child, day, relation", [
    ("turns12", TODAY - timedelta(days=1), "parent"),  # 11 years and 364 days: still everything
    ("turns12", TODAY, "parent-limited"),  # the 12th birthday itself: limited from that day
    ("turns16", TODAY - timedelta(days=1), "parent-limited"),
    ("turns16", TODAY, None),  # of age for health matters
])
def test_parents_rights_change_on_the_birthday(world, child, day, relation):
    repo, people = world
    found = representations(repo, fnr(people, "parent"), day)
    assert (found[f"t-{child}"].relation if f"t-{child}" in found else None) == relation


def test_expired_fullmakt_worked_until_yesterday(world):
    repo, people = world
    assert representations(repo, fnr(people, "holder"), YESTERDAY)["t-giver"].relation == "fullmakt"
    assert "t-giver" not in representations(repo, fnr(people, "holder"), TODAY)
    liv = actor("patient", C["liv"].fnr, patient=C["astrid"].fnr)
    assert RouterClient(secured(repo, liv)).get("Observation/obs-demo-astrid").status == 200


def test_confidential_address_person_neither_represents_nor_is_represented(world):
    repo, _ = world
    assert set(representations(repo, C["sara"].fnr, TODAY)) == {"demo-sara"}
    assert set(representations(repo, C["kari"].fnr, TODAY)) == {"demo-kari", "demo-emma", "demo-jonas"}


# -- parents of 12-15 year olds --------------------------------------------------------------
def test_parent_of_12_to_15_sees_no_journal_documents_nor_withheld(world):
    repo, _ = world
    parent = RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["jonas"].fnr)))
    jonas = RouterClient(secured(repo, actor("patient", C["jonas"].fnr, patient=C["jonas"].fnr)))
    for path in ("DocumentReference/doc-demo-jonas", "Observation/obs-withheld-demo-jonas"):
        assert parent.get(path).status == 404
        assert jonas.get(path).status == 200  # the young person sees their own record
    everything = ids(parent.get("Patient/demo-jonas/$everything", query=[("_count", "1000")]))
    assert "Observation/obs-demo-jonas" in everything
    assert not {"DocumentReference/doc-demo-jonas", "Observation/obs-withheld-demo-jonas"} & everything
    seen = body(parent.get("Observation", query=[("subject", "Patient/demo-jonas"), ("_count", "1000")]))
    assert "Observation/obs-withheld-demo-jonas" not in ids(parent.get("Observation", query=[("_count", "1000")]))
    assert seen["total"] == len(seen.get("entry", []))  # withheld ones are not counted either


# -- consents --------------------------------------------------------------------------------
def _block(patient: str) -> dict:
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": CONSENT_CATEGORY, "code": "block"}]}],
            "patient": {"reference": f"Patient/{patient}"}, "policyRule": {"text": "block"},
            "provision": {"type": "deny", "actor": [{"role": {"text": "IRCP"},
                                                     "reference": {"reference": "Practitioner/demo-sykepleier-marte-olsen"}}]}}


def test_only_the_patient_or_a_parent_of_a_young_child_changes_consents(world):
    repo, _ = world
    kari_for_emma = RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["emma"].fnr)))
    assert kari_for_emma.post("Consent", _block("demo-emma")).status == 201
    liv_for_astrid = RouterClient(secured(repo, actor("patient", C["liv"].fnr, patient=C["astrid"].fnr)))
    assert liv_for_astrid.post("Consent", _block("demo-astrid")).status == 403  # consents stay with the giver
    assert liv_for_astrid.get("Consent/demo-fullmakt-astrid").status == 200  # but she may read them
    assert liv_for_astrid.delete("Consent/demo-fullmakt-astrid").status == 403
    gp = RouterClient(secured(repo, actor("practitioner", C["gp"].hpr, organization=C["gp"].orgnr)))
    assert gp.post("Consent", _block("demo-astrid")).status == 403
    ola_for_jonas = RouterClient(secured(repo, actor("patient", C["ola"].fnr, patient=C["jonas"].fnr)))
    assert ola_for_jonas.post("Consent", _block("demo-jonas")).status == 403


def test_a_new_block_holds_at_once_even_with_a_care_relationship(world):
    repo, _ = world
    nurse = actor("practitioner", C["nurse"].hpr, organization=C["nurse"].orgnr)
    assert RouterClient(secured(repo, nurse)).get("Observation/obs-demo-astrid").status == 200  # home care
    block = repo.create(_block("demo-astrid"))
    try:
        response = RouterClient(secured(repo, nurse)).get("Observation/obs-demo-astrid")
        assert response.status == 403
        assert body(response)["issue"][0]["details"]["coding"][0]["code"] == "blocked"
        emergency = actor("practitioner", C["nurse"].hpr, organization=C["nurse"].orgnr, purpose="BTG", reason="Akutt")
        assert RouterClient(secured(repo, emergency)).get("Observation/obs-demo-astrid").status == 403
    finally:
        repo.delete("Consent", block.id)


# -- confidential addresses --------------------------------------------------------------------
def test_strictly_confidential_address_is_stripped_and_not_searchable(world):
    repo, _ = world
    gp = RouterClient(secured(repo, actor("practitioner", C["gp"].hpr, organization=C["gp"].orgnr, purpose="TREAT")))
    sara = body(gp.get("Patient/demo-sara"))
    assert "address" not in sara and sara["name"]
    assert "Patient/demo-sara" not in ids(gp.get("Patient", query=[("address", "Ullevålsveien")]))
    assert "Patient/demo-sara" not in ids(gp.get("Patient", query=[("address-postalcode", "0171")]))
    admin = RouterClient(secured(repo, actor("admin", "admin")))
    assert "address" in body(admin.get("Patient/demo-sara"))
    assert "Patient/demo-sara" in ids(admin.get("Patient", query=[("address-postalcode", "0171")]))


# -- personnel ---------------------------------------------------------------------------------
def test_403_says_a_purpose_is_needed_in_machine_readable_form(world):
    repo, _ = world
    doctor = RouterClient(secured(repo, actor("practitioner", C["hospital_doctor"].hpr,
                                              organization=C["hospital_doctor"].orgnr)))
    response = doctor.get("Observation/obs-demo-knut")
    assert response.status == 403
    issue = body(response)["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["details"]["coding"][0]["code"] == "purpose-required"
    assert "Knut" not in orjson.dumps(body(response)).decode()
    assert doctor.get("Patient/demo-knut").status == 200  # demographics to find the patient


def test_emergency_access_is_recorded_notified_and_time_limited(world):
    repo, _ = world
    who = actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr,
                purpose="ETREAT", reason="Innlagt bevisstløs", token_id="emergency-test-token")
    client = RouterClient(secured(repo, who))
    assert client.get("Observation/obs-demo-knut").status == 200
    grants = find(repo, "Basic", subject="Patient/demo-knut")
    assert any(g["identifier"][0]["value"] == "emergency-test-token:demo-knut" for g in grants)
    notes = find(repo, "Communication", subject="Patient/demo-knut")
    assert any("Innlagt bevisstløs" in n["payload"][0]["contentString"] for n in notes)
    # the grant runs out: the same token is refused afterwards
    later = datetime.now(timezone.utc) + timedelta(hours=5)
    from ehelse.access.care import personnel
    assert not EmergencyGrants().active(repo, who, personnel(repo, who.subject, who.organization), "demo-knut", later)


def test_emergency_without_a_reason_is_not_emergency(world):
    repo, _ = world
    who = actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr, purpose="BTG")
    assert RouterClient(secured(repo, who)).get("Observation/obs-demo-knut").status == 403


# -- AuditEvent --------------------------------------------------------------------------------
def test_audit_event_is_read_only_for_everyone_admin_included(world):
    repo, _ = world
    admin = RouterClient(secured(repo, actor("admin", "admin")))
    event = {"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-01-01T00:00:00Z",
             "agent": [{"requestor": True}], "source": {"observer": {"display": "x"}}}
    assert admin.post("AuditEvent", event).status == 403
    existing = body(admin.get("AuditEvent", query=[("_count", "1")]))["entry"][0]["resource"]
    assert admin.put(f"AuditEvent/{existing['id']}", existing).status == 403
    assert admin.delete(f"AuditEvent/{existing['id']}").status == 403
    assert admin.get(f"AuditEvent/{existing['id']}").status == 200


def test_scopes_bound_what_a_client_may_do(world):
    repo, _ = world
    narrow = actor("patient", C["kari"].fnr, patient=C["kari"].fnr, scopes="patient/Observation.rs")
    client = RouterClient(secured(repo, narrow))
    assert client.get("Observation/obs-demo-kari").status == 200
    assert client.get("QuestionnaireResponse/qr-demo-kari").status == 403
    assert client.post("Observation", observation("demo-kari")).status == 403


def test_system_client_sees_only_its_scoped_types_everywhere(world):
    repo, _ = world
    client = RouterClient(secured(repo, actor("system", "analytics", scopes="system/Observation.rs")))
    assert client.get("Observation/obs-demo-kari").status == 200
    assert client.get("Patient/demo-kari").status == 403
    history = body(client.get("_history", query=[("_count", "300")]))["entry"]
    assert {e["resource"]["resourceType"] for e in history if "resource" in e} == {"Observation"}
    assert {e["request"]["url"].split("/")[0] for e in history} == {"Observation"}  # deletions too
    included = body(client.get("Observation", query=[("_id", "obs-demo-kari"), ("_include", "Observation:subject")]))
    assert [e["resource"]["resourceType"] for e in included["entry"]] == ["Observation"]


def test_an_unknown_kind_of_actor_gets_nothing(world):
    repo, _ = world
    stranger = RouterClient(secured(repo, Actor("relatedperson", "someone", ("user/*.cruds",))))
    assert stranger.get("Observation/obs-demo-kari").status == 403
    assert stranger.get("Organization", query=[("_count", "1")]).status == 403


def test_narrow_scopes_bound_everything_and_includes_too(world):
    repo, _ = world
    narrow = actor("patient", C["kari"].fnr, patient=C["kari"].fnr, scopes="patient/Observation.rs patient/Patient.rs")
    client = RouterClient(secured(repo, narrow))
    found = body(client.get("Patient/demo-kari/$everything", query=[("_count", "1000")]))
    assert {e["resource"]["resourceType"] for e in found["entry"]} == {"Observation", "Patient"}


def test_a_citizen_patches_what_they_may_update(world):
    repo, _ = world
    client = RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["kari"].fnr)))
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    assert client.patch("QuestionnaireResponse/qr-demo-kari", patch).status == 200
    assert client.patch("Observation/obs-demo-kari", patch).status == 403  # the GP's entry, not hers
