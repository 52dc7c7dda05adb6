"""DOMAIN.md's access matrix as a table: every actor kind x every interaction x own /
represented / foreign patient, each case with the status (or finding) the rules demand.

The table has two halves, both data: ACTORS says how each actor kind relates to the
patients it is tried on (a level), EXPECT says what each level means for each interaction.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from access_world import C, actor, observation, questionnaire_response, secured  # noqa: E402
from router_client import RouterClient  # noqa: E402

FOUND, EMPTY = "found", "empty"
INTERACTIONS = ("read", "vread", "search", "history", "create", "update", "delete", "$everything", "batch",
                "transaction", "_include", "chain", "_has")
_R = dict(read=200, vread=200, search=FOUND, history=200, **{"$everything": 200}, batch=200,
          _include=FOUND, chain=FOUND, _has=FOUND)
EXPECT: dict[str, dict[str, Any]] = {
    "full": {**_R, "create": 201, "update": 200, "delete": 204, "transaction": 200},
    # read-only levels: parent of a 12-15 year old, emergency access, a system client with .rs scopes
    "limited": {**_R, "create": 403, "update": 403, "delete": 403, "transaction": 403},
    # emergency access opens the patient a request names (read, patient=, compartment,
    # $everything); a search that names no patient (a chain, _has) does not break the glass
    "emergency": {**_R, "create": 403, "update": 403, "delete": 403, "transaction": 403, "chain": EMPTY,
                  "_has": EMPTY},
    "scoped": {**_R, "create": 403, "update": 403, "delete": 403, "transaction": 403},
    # citizens: what is not theirs does not exist
    "hidden": dict(read=404, vread=404, search=EMPTY, history=404, create=403, update=404, delete=404,
                   **{"$everything": 404}, batch=404, transaction=403, _include=EMPTY, chain=EMPTY, _has=EMPTY),
    # personnel: 403 saying a purpose is needed (or that a block holds); untargeted searches find nothing
    "purpose": dict(read=403, vread=403, search=403, history=403, create=403, update=403, delete=403,
                    **{"$everything": 403}, batch=403, transaction=403, _include=403, chain=EMPTY, _has=EMPTY),
}
EXPECT["blocked"] = EXPECT["purpose"]


def _fnr(key: str) -> str:
    return C[key].fnr


def _person_fnr(people: dict, key: str) -> str:
    return people[key]["identifier"][0]["value"]


# (actor kind, make the actor from the hand-made people, {target: (patient id, level)})
ACTORS: list[tuple[str, Callable[[dict], Any], dict[str, tuple[str, str]]]] = [
    ("citizen self", lambda p: actor("patient", _fnr("kari"), patient=_fnr("kari")),
     {"own": ("demo-kari", "full"), "foreign": ("demo-per", "hidden")}),
    ("parent of a child under 12 at the same address", lambda p: actor("patient", _fnr("kari"), patient=_fnr("emma")),
     {"represented": ("demo-emma", "full"), "foreign": ("demo-per", "hidden")}),
    ("parent not at the child's address", lambda p: actor("patient", _person_fnr(p, "away-parent"), patient="t-grandchild"),
     {"represented": ("t-grandchild", "hidden")}),
    ("parent of a child 12-15", lambda p: actor("patient", _fnr("ola"), patient=_fnr("jonas")),
     {"represented": ("demo-jonas", "limited"), "foreign": ("demo-astrid", "hidden")}),
    ("parent on the day the child turns 12", lambda p: actor("patient", _person_fnr(p, "parent"), patient="t-turns12"),
     {"represented": ("t-turns12", "limited")}),
    ("parent on the day the child turns 16", lambda p: actor("patient", _person_fnr(p, "parent"), patient="t-turns16"),
     {"represented": ("t-turns16", "hidden")}),
    ("parent of a 17 year old", lambda p: actor("patient", _person_fnr(p, "parent"), patient="t-aged17"),
     {"represented": ("t-aged17", "hidden")}),
    ("fullmakt holder within area and period", lambda p: actor("patient", _fnr("liv"), patient=_fnr("astrid")),
     {"represented": ("demo-astrid", "full"), "foreign": ("demo-knut", "hidden")}),
    ("fullmakt that expired yesterday", lambda p: actor("patient", _person_fnr(p, "holder"), patient="t-giver"),
     {"represented": ("t-giver", "hidden")}),
    ("nearest relative", lambda p: actor("patient", _fnr("tor"), patient=_fnr("knut")),
     {"represented": ("demo-knut", "full"), "foreign": ("demo-astrid", "hidden")}),
    ("stranger citizen", lambda p: actor("patient", _fnr("per"), patient=_fnr("kari")),
     {"foreign": ("demo-kari", "hidden")}),
    ("practitioner with a care relationship",
     lambda p: actor("practitioner", C["gp"].hpr, organization=C["gp"].orgnr, purpose="TREAT"),
     {"own": ("demo-astrid", "full"), "foreign": ("t-giver", "purpose")}),
    ("practitioner without a care relationship",
     lambda p: actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr),
     {"own": ("demo-astrid", "full"), "foreign": ("demo-knut", "purpose")}),
    ("practitioner with BTG and a reason",
     lambda p: actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr,
                     purpose="BTG", reason="Bevisstløs i akuttmottak"),
     {"foreign": ("demo-knut", "emergency")}),
    ("practitioner with ETREAT and a reason",
     lambda p: actor("practitioner", C["nurse"].hpr, organization=C["nurse"].orgnr, purpose="ETREAT",
                     reason="Falt i hjemmet"),
     {"own": ("demo-astrid", "full"), "foreign": ("demo-knut", "emergency")}),
    ("blocked practitioner with BTG",
     lambda p: actor("practitioner", C["hospital_doctor"].hpr, organization=C["hospital_doctor"].orgnr,
                     purpose="BTG", reason="Akutt"),
     {"foreign": ("demo-per", "blocked")}),
    ("system client with scopes", lambda p: actor("system", "analytics-client"),
     {"own": ("demo-astrid", "scoped"), "foreign": ("demo-per", "scoped")}),
    ("admin", lambda p: actor("admin", "admin"),
     {"own": ("demo-kari", "full"), "foreign": ("demo-sara", "full")}),
]

CASES = [pytest.param(name, make, target, patient, level, interaction,
                      id=f"{name} | {target} | {interaction}")
         for name, make, targets in ACTORS
         for target, (patient, level) in targets.items()
         for interaction in INTERACTIONS]


def _total(response) -> int:
    body = response.resource or __import__("orjson").loads(response.body)
    return len([e for e in body.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"])


def _included(response) -> list[str]:
    body = response.resource or __import__("orjson").loads(response.body)
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body.get("entry", [])
            if e.get("search", {}).get("mode") == "include"]


def _run(client: RouterClient, repo: Any, interaction: str, patient: str, case_id: str) -> Any:
    """The interaction tried on the patient; returns a status or FOUND/EMPTY for searches."""
    obs = f"obs-{patient}"
    if interaction == "read":
        return client.get(f"Observation/{obs}").status
    if interaction == "vread":
        return client.get(f"Observation/{obs}/_history/1").status
    if interaction == "history":
        return client.get(f"Observation/{obs}/_history").status
    if interaction == "create":
        return client.post("Observation", observation(patient)).status
    if interaction == "update":
        return client.put(f"QuestionnaireResponse/qr-{patient}", {**questionnaire_response(patient),
                                                                   "id": f"qr-{patient}"}).status
    if interaction == "delete":
        id = f"qr-del-{abs(hash(case_id)) % 10**12}"
        repo.update({**questionnaire_response(patient), "id": id})
        return client.delete(f"QuestionnaireResponse/{id}").status
    if interaction == "$everything":
        return client.get(f"Patient/{patient}/$everything").status
    if interaction == "batch":
        response = client.post("", {"resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": f"Observation/{obs}"}}]})
        assert response.status == 200
        body = response.resource or __import__("orjson").loads(response.body)
        return int(body["entry"][0]["response"]["status"].split()[0])
    if interaction == "transaction":
        return client.post("", {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "POST", "url": "Observation"}, "resource": observation(patient)}]}).status
    if interaction == "search":
        query = [("subject", f"Patient/{patient}")]
    elif interaction == "_include":
        query = [("subject", f"Patient/{patient}"), ("_include", "Observation:subject")]
    elif interaction == "chain":
        query = [("subject:Patient._id", patient)]
    else:  # _has
        response = client.get("Patient", query=[("_id", patient), ("_has:Observation:subject:_id", obs)])
        return response.status if response.status != 200 else (FOUND if _total(response) else EMPTY)
    response = client.get("Observation", query=query)
    if response.status != 200:
        return response.status
    found = _total(response) > 0
    if interaction == "_include" and found:
        assert f"Patient/{patient}" in _included(response)
    return FOUND if found else EMPTY


@pytest.mark.parametrize("name, make, target, patient, level, interaction", CASES)
def test_access_matrix(world, name, make, target, patient, level, interaction, request):
    repo, people = world
    client = RouterClient(secured(repo, make(people)))
    expected = EXPECT[level][interaction]
    got = _run(client, repo, interaction, patient, request.node.name)
    assert got == expected, f"{name}, {target} patient {patient}, {interaction}: expected {expected}, got {got}"


def test_matrix_size():
    """The figure for the issue note: how many cases the table holds, allowed and denied."""
    allowed = sum(1 for p in CASES if EXPECT[p.values[4]][p.values[5]] in (200, 201, 204, FOUND))
    assert len(CASES) == len(INTERACTIONS) * sum(len(t) for _, _, t in ACTORS)
    assert 0 < allowed < len(CASES)
    print(f"access matrix: {len(CASES)} cases, {allowed} allowed, {len(CASES) - allowed} denied")


def test_every_record_the_matrix_denies_exists(world):
    """A denied case proves nothing if the data is not there: admin sees every target."""
    repo, people = world
    client = RouterClient(secured(repo, actor("admin", "admin")))
    for _, _, targets in ACTORS:
        for patient, _ in targets.values():
            assert client.get(f"Observation/obs-{patient}").status == 200, patient
            assert client.get(f"Patient/{patient}").status == 200, patient
