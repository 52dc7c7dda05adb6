"""Denied data never leaks: not through totals, paging, includes, chains, _has, history,
$everything, batch responses or error text (the issue's list, one test or more each)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from access_world import C, actor, observation, secured  # noqa: E402
from router_client import RouterClient  # noqa: E402

from ehelse.access.policy import PUBLIC_TYPES  # noqa: E402
from ehelse.access.schedules import is_directory  # noqa: E402
from ehelse.access.view import owners  # noqa: E402


def body(response) -> dict:
    return response.resource or orjson.loads(response.body)


def resources(response) -> list[dict]:
    return [e["resource"] for e in body(response).get("entry", []) if "resource" in e]


@pytest.fixture
def clients(world):
    repo, _ = world
    return {
        "kari": RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["kari"].fnr))),
        "kari_for_emma": RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["emma"].fnr))),
        "doctor": RouterClient(secured(repo, actor("practitioner", C["hospital_doctor"].hpr,
                                                   organization=C["hospital_doctor"].orgnr))),
        "admin": RouterClient(secured(repo, actor("admin", "admin"))),
    }


def _only(patients: set[str], found: list[dict]) -> None:
    for resource in found:
        if resource["resourceType"] in PUBLIC_TYPES or is_directory(resource):
            continue  # directory and definition resources (a practitioner's Schedule): no patient's data
        assert owners(resource) & patients, f"{resource['resourceType']}/{resource['id']} leaked"


def test_totals_and_summary_count_only_what_may_be_seen(clients):
    own = body(clients["admin"].get("Observation", query=[("subject", "Patient/demo-kari"), ("_summary", "count")]))
    everything = body(clients["admin"].get("Observation", query=[("_summary", "count")]))
    mine = body(clients["kari"].get("Observation", query=[("_summary", "count")]))
    assert mine["total"] == own["total"] < everything["total"]
    found = clients["kari"].get("Observation", query=[("_count", "1000")])
    assert body(found)["total"] == len(resources(found)) == own["total"]
    _only({"demo-kari"}, resources(found))


def test_paging_walks_only_own_rows(clients):
    client = clients["kari"]
    response = client.get("Observation", query=[("_count", "2")])
    total, seen = body(response)["total"], []
    while True:
        page = body(response)
        assert page["total"] == total
        seen += resources(response)
        following = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        if not following:
            break
        parts = urlsplit(following[0])
        response = client.get(parts.path.split("/fhir/", 1)[1], query=parse_qsl(parts.query))
    assert len(seen) == total and len({r["id"] for r in seen}) == total
    _only({"demo-kari"}, seen)


def test_includes_never_bring_in_another_patient(world, clients):
    repo, _ = world
    repo.update(observation("demo-kari", id="obs-kari-performer-per", performer=[{"reference": "Patient/demo-per"}]))
    response = clients["kari"].get("Observation", query=[("_id", "obs-kari-performer-per"),
                                                         ("_include", "Observation:performer")])
    assert [r["id"] for r in resources(response)] == ["obs-kari-performer-per"]
    # personnel without a care relationship find the patient, but none of the clinical data
    response = clients["doctor"].get("Patient", query=[("_id", "demo-knut"), ("_revinclude", "Observation:subject"),
                                                        ("_revinclude", "Condition:subject")])
    assert [r["resourceType"] for r in resources(response)] == ["Patient"]


def test_everything_of_a_child_holds_no_one_else(clients):
    found = resources(clients["kari_for_emma"].get("Patient/demo-emma/$everything", query=[("_count", "1000")]))
    assert found
    assert [r["id"] for r in found if r["resourceType"] == "Patient"] == ["demo-emma"]
    _only({"demo-emma"}, found)


def test_chains_and_has_do_not_look_into_other_records(clients):
    assert resources(clients["kari"].get("Observation", query=[("subject:Patient.family", "Johansen")])) == []
    assert resources(clients["doctor"].get("Observation", query=[("subject:Patient.family", "Eriksen")])) == []
    # _has: which patients have a blood pressure? Only those with a care relationship count.
    found = {r["id"] for r in resources(clients["doctor"].get(
        "Patient", query=[("_has:Observation:subject:code:text", "Blodtrykk"), ("_count", "1000")]))}
    assert "demo-knut" not in found and "demo-per" not in found
    assert "demo-astrid" in found  # a care relationship through the referral to his department
    # _has nested two deep: the middle link is guarded too
    nested = resources(clients["kari"].get("Patient", query=[("_has:Observation:subject:_has:Provenance:target:_id", "x")]))
    assert nested == []


def test_history_shows_only_own_versions(clients):
    for path in ("Observation/_history", "_history"):
        response = clients["kari"].get(path, query=[("_count", "500")])
        found = resources(response)
        assert found
        _only({"demo-kari"}, found)
        assert len(body(response)["entry"]) == min(body(response)["total"], 500)
    found = resources(clients["doctor"].get("Observation/_history", query=[("_count", "500")]))
    assert not any(r.get("subject", {}).get("reference") == "Patient/demo-knut" for r in found)


def test_batch_and_error_text_do_not_tell_foreign_from_missing(clients):
    response = clients["kari"].post("", {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Observation/obs-demo-per"}},
        {"request": {"method": "GET", "url": "Observation/obs-no-such-thing"}},
        {"request": {"method": "GET", "url": "Observation/obs-demo-kari"}}]})
    entries = body(response)["entry"]
    assert [e["response"]["status"].split()[0] for e in entries] == ["404", "404", "200"]
    foreign, missing = (orjson.dumps(e["response"].get("outcome")).decode() for e in entries[:2])
    assert foreign.replace("obs-demo-per", "X") == missing.replace("obs-no-such-thing", "X").replace("[1]", "[0]")
    direct = [body(clients["kari"].get(f"Observation/{id}")) for id in ("obs-demo-per", "obs-no-such-thing")]
    assert orjson.dumps(direct[0]).decode().replace("obs-demo-per", "X") == \
        orjson.dumps(direct[1]).decode().replace("obs-no-such-thing", "X")
    text = orjson.dumps(body(clients["doctor"].get("Observation/obs-demo-knut"))).decode()
    assert "Knut" not in text and "Blodtrykk" not in text


def test_deleted_foreign_resource_is_not_found_rather_than_gone(world, clients):
    repo, _ = world
    repo.create(observation("demo-per"), id="obs-per-deleted")
    repo.delete("Observation", "obs-per-deleted")
    assert clients["kari"].get("Observation/obs-per-deleted").status == 404  # not 410: that would tell
    assert clients["admin"].get("Observation/obs-per-deleted").status == 410


def test_a_foreign_list_selects_nothing(world, clients):
    repo, _ = world
    repo.update({"resourceType": "List", "id": "list-per", "status": "current", "mode": "working",
                 "subject": {"reference": "Patient/demo-per"},
                 "entry": [{"item": {"reference": "Observation/obs-demo-kari"}}]})
    assert clients["kari"].get("Observation", query=[("_list", "list-per")]).status == 200
    assert resources(clients["kari"].get("Observation", query=[("_list", "list-per")])) == []
    assert [r["id"] for r in resources(clients["admin"].get("Observation", query=[("_list", "list-per")]))] == \
        ["obs-demo-kari"]
