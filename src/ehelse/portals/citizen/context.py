"""Who is using the citizen portal, and for whom: the session's citizen, the person they act
for (themself, a child, a fullmakt giver, a person lacking capacity), and the one way to the
data: the FHIR router with a SecuredRepository built from the same kind of Actor a SMART token
gives (DESIGN.md principle 3; access/). The portal has no access rules of its own: it asks
access/representation.py whom the citizen may act for and lets the repository decide every
read and write, so a page can never show more than the API would.

The acting-for choice is kept in the session as a Patient id (never an FNR in a URL) and
checked again on every request: the day a fullmakt ends, the choice falls back to oneself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from ehelse.access import freshness
from ehelse.access.actor import Actor
from ehelse.access.policy import RIGHTS, AccessPolicy, Rights
from ehelse.access.repository import SecuredRepository
from ehelse.access.representation import Representation, representations
from ehelse.errors import BadRequest, FhirError, Forbidden, NotFound
from ehelse.fhir.request import FhirRequest
from ehelse.oauth import people

# A first-party app of the platform: read and write in the patient compartment, bounded by
# the access policy (CITIZEN_WRITES) like any SMART app with these scopes.
PORTAL_SCOPES = ("openid", "fhirUser", "launch/patient", "patient/*.*")
ACTING_KEY = "acting_for"
# Types whose `patient` search parameter is not a Patient compartment parameter
# (compartmentdefinition-patient.html), with the one that is and means the same for a
# Patient reference: Observation.subject, MedicationRequest.subject, DocumentReference.subject
# (their `patient` is the subject when it is a Patient); Appointment.participant.actor.
CONFINING = {"Observation": "subject", "MedicationRequest": "subject", "DocumentReference": "subject",
             "Appointment": "actor"}


@dataclass
class Person:
    patient_id: str
    name: str
    relation: str  # self | parent | parent-limited | fullmakt | nearest-relative
    basis: str  # the resource that gives the right (Patient, RelatedPerson or Consent)
    fnr: str | None = None
    until: str | None = None  # a fullmakt's or capacity decision's end date


@dataclass
class Citizen:
    """One request's view: built by `Citizen.load`, used by every page."""

    fnr: str
    patient_id: str
    name: str
    people: list[Person]
    acting: Person
    repo: Any  # the SecuredRepository of this request
    raw: Any  # the unsecured repository: only for facts access/ itself would look up
    router: Any
    base_url: str
    actor: Actor
    request_id: str = ""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def rights(self) -> Rights:
        return RIGHTS[self.acting.relation]

    @property
    def is_self(self) -> bool:
        return self.acting.relation == "self"

    @property
    def subject(self) -> str:
        return f"Patient/{self.acting.patient_id}"

    # -- the FHIR API, in process ---------------------------------------------------------------
    def call(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
             resource: dict[str, Any] | None = None, *, exact: bool = True) -> dict[str, Any] | None:
        """One FHIR interaction through the router. `exact=False`: the answer is only shown,
        never written back, so it is parsed with orjson (C; a search Bundle of 100
        Observations in ~1 ms instead of ~10 ms with jsoncodec's exact decimals)."""
        body = orjson.dumps(resource) if resource is not None else b""
        headers = {"content-type": "application/fhir+json"} if resource is not None else {}
        response = self.router.handle(FhirRequest(method=method, path=path, query=query or [], headers=headers,
                                                  body=body, base_url=self.base_url, actor=self.actor,
                                                  request_id=self.request_id), self.repo)
        if response.status >= 400:
            raise _refused(response.status, response.parsed() or {})
        if not exact and response.body is not None:
            try:
                return orjson.loads(response.body)
            except orjson.JSONDecodeError:  # an integer beyond 64 bits: jsoncodec keeps it
                pass
        return response.parsed()

    def search(self, type: str, *, exact: bool = False, **params: Any) -> list[dict[str, Any]]:
        """The matches of a search (a list value repeats the parameter), includes left out.
        `exact=True` for resources the page will write back (decimals kept as written)."""
        if "patient" in params and type in CONFINING:
            # The same matches as patient=, named by the type's Patient compartment parameter,
            # so the access layer sees the search is confined to one record and filters only
            # hidden types and labels instead of the whole compartment rule (access/repository.py
            # _confined; search.html#compartments).
            params[CONFINING[type]] = params.pop("patient")
        query = [(k.replace("__", ":").replace("_", "-") if not k.startswith("_") else k, str(v))
                 for k, vs in params.items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
        if not any(k == "_total" for k, _ in query):
            query.append(("_total", "none"))  # the pages never show a total: do not count
        bundle = self.call("GET", type, query, exact=exact) or {}
        return [e["resource"] for e in bundle.get("entry") or []
                if e.get("search", {}).get("mode", "match") == "match" and "resource" in e]

    def read(self, type: str, id: str) -> dict[str, Any]:
        """The resource, or NotFound (a citizen gets 404 for what is not theirs)."""
        found = self.call("GET", f"{type}/{id}")
        if not found:
            raise NotFound(f"{type}/{id} not found")
        return found

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", resource["resourceType"], resource=resource) or {}

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", f"{resource['resourceType']}/{resource['id']}", resource=resource) or {}

    def reference_display(self, reference: dict[str, Any] | None) -> str:
        """A Reference's display, else the name of what it points at (directory resources)."""
        if not reference:
            return ""
        if reference.get("display"):
            return reference["display"]
        ref = reference.get("reference", "")
        if ref in self._cache:
            return self._cache[ref]
        name = ""
        type, _, id = ref.partition("/")
        if type in ("Organization", "Practitioner", "PractitionerRole", "CareTeam", "HealthcareService") and id:
            try:
                found = self.read(type, id)
                name = found.get("name") if isinstance(found.get("name"), str) else people.display_name(found)
                if type == "PractitionerRole":
                    name = (found.get("practitioner") or {}).get("display") or name
            except FhirError:
                name = ""
        self._cache[ref] = name or ref
        return self._cache[ref]


def who_may_be_represented(raw: Any, fnr: str, today: date,
                           found: dict[str, Representation] | None = None) -> list[Person]:
    """The citizen first, then everyone they may act for, with the basis of each right
    (`found`: access/representation.py's answer, if the caller has it already)."""
    if found is None:
        found = representations(raw, fnr, today)
    out: list[Person] = []
    for patient_id, rep in found.items():
        version = raw.read("Patient", patient_id)
        if version is None or version.deleted:
            continue
        patient = orjson.loads(version.content)
        until = None
        if rep.basis.startswith("Consent/"):
            consent = raw.read("Consent", rep.basis.split("/", 1)[1])
            if consent is not None and not consent.deleted:
                until = ((orjson.loads(consent.content).get("provision") or {}).get("period") or {}).get("end")
        out.append(Person(patient_id, people.display_name(patient), rep.relation, rep.basis,
                          people.fnr_of(patient), until))
    out.sort(key=lambda p: (p.relation != "self", p.name))
    return out


def load(session: Any, raw: Any, router: Any, policy: AccessPolicy, base_url: str, request_id: str = "") -> Citizen:
    """The Citizen of a logged-in session (kind "citizen")."""
    fnr = session.data["pid"]
    today = policy.today()
    # Whom the citizen may act for comes from the access policy's fact cache, under the key
    # the access view uses for the same answer (access/view.py AccessView.build), so a page
    # works it out once per FACTS_TTL instead of three searches and a read per person each
    # time. The cache is per person (keyed by FNR and date, never shared between users) and
    # as fresh as the rules themselves: it is dropped at once when a Consent, RelatedPerson
    # or Patient is written, in any process (sync with the facts_version marker first).
    policy.facts.sync(freshness.current(raw))
    found = policy.facts.get(("representations", fnr, today), lambda: representations(raw, fnr, today))
    everyone = policy.facts.get(("portal-people", fnr, today), lambda: who_may_be_represented(raw, fnr, today, found))
    me = next((p for p in everyone if p.relation == "self"), None)
    if me is None:
        raise NotFound("the logged-in person is not in the register")
    chosen = session.data.get(ACTING_KEY)
    acting = next((p for p in everyone if p.patient_id == chosen), me)  # expired: back to oneself
    actor = Actor(kind="patient", subject=fnr, scopes=PORTAL_SCOPES, patient=acting.fnr or fnr,
                  claims={"ehelse_actor": f"patient:{fnr}", "client_id": "ehelse-innbygger"})
    secured = SecuredRepository(raw, actor, policy)
    return Citizen(fnr, me.patient_id, me.name, everyone, acting, secured, raw, router, base_url, actor, request_id)


def _refused(status: int, outcome: dict[str, Any]) -> FhirError:
    """The API's refusal as the matching error, with its first diagnostics (the pages show
    a 4xx page; a 5xx stays a server error)."""
    text = next((i.get("diagnostics", "") for i in outcome.get("issue") or []), "") or f"HTTP {status}"
    kind = {403: Forbidden, 404: NotFound, 410: NotFound}.get(status, BadRequest if status < 500 else FhirError)
    error = kind(text)
    if kind is BadRequest:
        error.status = status
    return error
