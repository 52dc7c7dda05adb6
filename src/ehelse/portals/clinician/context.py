"""Who is using the clinician workspace, and the one way to the data.

A logged-in personnel session (the HelseID-style login, oauth/login.py) becomes, per request,
the same kind of Actor a HelseID token gives (`kind="practitioner"`, HPR number, organisation,
purpose, reason) and a SecuredRepository over it (DESIGN.md principle 3). The workspace has no
access rules of its own: care relationships, blocks, restrictions and emergency access are
decided by access/ and audited there, exactly as for the API.

Purpose of use is declared per patient, not once at login (DOMAIN.md, "Health personnel"):
    - nothing declared: the care relationship alone (restricted parts stay closed);
    - TREAT or COC for one patient: opens the parts the patient restricted (sperret);
    - ETREAT or BTG with a reason: emergency access without a care relationship, which
      access/care.py grants for EMERGENCY_MINUTES and tells the patient about.
Declarations live in the session, keyed by Patient id, each with its own token id, so the
emergency grant (keyed by token id and patient) is the one the audit shows.
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ehelse.access.actor import Actor
from ehelse.access.care import EMERGENCY_MINUTES
from ehelse.access.policy import EMERGENCY_PURPOSES, AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.errors import BadRequest, FhirError, Forbidden, NotFound
from ehelse.fhir import jsoncodec, searchset
from ehelse.fhir.interactions import Context, check_id
from ehelse.fhir.request import FhirRequest
from ehelse.fhir.resource_types import is_resource_type
from ehelse.storage.stamp import now_instant

SCOPES = ("openid", "fhirUser", "user/*.*")
CLIENT_ID = "ehelse-helsepersonell"
DECLARED_KEY = "declared"  # session: {patient id: {purpose, reason, token, at}}
DECLARABLE = ("TREAT", "COC", "ETREAT", "BTG")
_SHAPING = ("_summary", "_elements", "_contained", "_containedType")  # fhir/searchset.py shapes these


@dataclass
class Clinician:
    """One request's clinician: built by `load`, used by every page."""

    hpr: str
    name: str
    practitioner_id: str
    orgnr: str
    role: str
    session: Any
    raw: Any  # the unsecured repository: only for facts access/ itself would look up
    router: Any
    policy: AccessPolicy
    base_url: str
    request_id: str = ""
    _repos: dict[str, tuple[Actor, SecuredRepository]] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _batch: ExitStack | None = None  # open while the request's audit records are gathered

    # -- actors ---------------------------------------------------------------------------------
    def declaration(self, patient_id: str | None) -> dict[str, Any] | None:
        """The purpose declared for this patient, while it lasts (emergency: EMERGENCY_MINUTES)."""
        if not patient_id:
            return None
        found = (self.session.data.get(DECLARED_KEY) or {}).get(patient_id)
        if not found:
            return None
        if found["purpose"] in EMERGENCY_PURPOSES and time.time() - found["at"] > EMERGENCY_MINUTES * 60:
            return None
        return found

    def actor(self, patient_id: str | None = None) -> Actor:
        declared = self.declaration(patient_id)
        token = declared["token"] if declared else f"helsepersonell:{self.session.data.get('created', '')}:{self.hpr}"
        return Actor(kind="practitioner", subject=self.hpr, scopes=SCOPES, organization=self.orgnr,
                     purpose=declared["purpose"] if declared else None,
                     reason=declared.get("reason") if declared else None, token_id=token,
                     claims={"ehelse_actor": f"practitioner:{self.hpr}", "client_id": CLIENT_ID})

    def secured(self, patient_id: str | None = None) -> tuple[Actor, SecuredRepository]:
        key = patient_id if self.declaration(patient_id) else ""
        if key not in self._repos:
            actor = self.actor(patient_id)
            self._repos[key] = (actor, SecuredRepository(self.raw, actor, self.policy))
            if self._batch is not None:
                self._batch.enter_context(self._repos[key][1].audit_batch())
        return self._repos[key]

    @contextmanager
    def audit_batch(self) -> Iterator[None]:
        """One AuditEvent per patient for the whole page, not one per search (issue 8): every
        SecuredRepository this request makes gathers its reads, and they are recorded, durable,
        when the block ends, before the page is sent (app._run wraps each handler in this)."""
        if self._batch is not None:
            yield
            return
        with ExitStack() as stack:
            self._batch = stack
            for _, repo in self._repos.values():
                stack.enter_context(repo.audit_batch())
            try:
                yield
            finally:
                self._batch = None

    def declare(self, patient_id: str, purpose: str, reason: str) -> dict[str, Any]:
        if purpose not in DECLARABLE:
            raise BadRequest("unknown purpose of use")
        if purpose in EMERGENCY_PURPOSES and not reason.strip():
            raise BadRequest("emergency access needs a reason")
        declared = {"purpose": purpose, "reason": reason.strip()[:500] or None,
                    "token": f"helsepersonell:{uuid.uuid4().hex}", "at": time.time()}
        self.session.data.setdefault(DECLARED_KEY, {})[patient_id] = declared
        self._repos.clear()
        return declared

    def end_declaration(self, patient_id: str) -> None:
        (self.session.data.get(DECLARED_KEY) or {}).pop(patient_id, None)
        self._repos.clear()

    # -- the FHIR API, in process ---------------------------------------------------------------
    def call(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
             resource: dict[str, Any] | None = None, *, on: str | None = None,
             exact: bool = True) -> dict[str, Any] | None:
        """One FHIR interaction through the router. `exact=False`: the answer is only shown,
        never written back, so it is parsed with orjson (C) instead of jsoncodec, which keeps
        every decimal as written (json.html#primitive) at ~10x the cost: a summary's search
        Bundles hold a few hundred resources."""
        actor, repo = self.secured(on)
        body = orjson.dumps(resource) if resource is not None else b""
        headers = {"content-type": "application/fhir+json"} if resource is not None else {}
        response = self.router.handle(FhirRequest(method=method, path=path, query=query or [], headers=headers,
                                                  body=body, base_url=self.base_url, actor=actor,
                                                  request_id=self.request_id), repo)
        if response.status >= 400:
            raise refused(response.status, response.parsed() or {})
        if not exact and response.body is not None:
            try:
                return orjson.loads(response.body)
            except orjson.JSONDecodeError:  # an integer beyond 64 bits: jsoncodec keeps it
                pass
        return response.parsed()

    def search(self, type: str, *, on: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """The matches of a search (`__` in a name is `:`, `_` is `-`; a list repeats it). `on`:
        the patient whose declared purpose (if any) the request carries. For display: what a
        page writes back it reads first (`read`, exact decimals)."""
        query = [(k.replace("__", ":").replace("_", "-") if not k.startswith("_") else k, str(v))
                 for k, vs in params.items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
        versions, kept = self._matches(type, query, on=on)
        return [kept.get((v.type, v.id, v.version_id)) or _shown(v) for v in versions]

    def _matches(self, path: str, query: list[tuple[str, str]], *,
                 on: str | None = None) -> tuple[list[Any], dict[tuple[str, str, int], dict[str, Any]]]:
        """The stored versions a search matches (`Patient`, `Patient/<id>/Observation`,
        `Patient/<id>/*`), through the request's SecuredRepository: the same access rules,
        checks per resource and audit records as the API's search, which calls the same
        `repo.search(type, query)` (fhir/searchset.py) with a query parsed the same way. What
        is skipped is the searchset Bundle, its serialisation and the parse of it again: the
        pages read the matches and build no Bundle (issue 8: 13 searches a summary). With
        them, the content the access rules parsed to decide (SecuredRepository.keeping_content)."""
        if any(k in _SHAPING for k, _ in query):
            raise BadRequest("the pages read whole resources: no _summary, _elements or _contained")
        actor, repo = self.secured(on)
        parts = path.strip("/").split("/")
        if len(parts) == 1 and is_resource_type(parts[0]):
            type, compartment = parts[0], None
        elif len(parts) == 3 and is_resource_type(parts[0]) and (parts[2] == "*" or is_resource_type(parts[2])):
            # search.html#compartments, as router.dispatch reads the path
            type, compartment = (None if parts[2] == "*" else parts[2]), (parts[0], check_id(parts[1]))
        else:
            raise BadRequest(f"not a search path: {path[:80]!r}")
        request = FhirRequest(method="GET", path=path, query=query, base_url=self.base_url, actor=actor,
                              request_id=self.request_id)
        try:
            parsed = searchset.parse(Context(self.router.settings, repo, request), type)
            parsed.query.compartment = compartment
            parsed.query.snapshot = now_instant()
            with repo.keeping_content() as kept:
                return repo.search(type, parsed.query).entries, kept
        except FhirError as error:  # as the router answers it, and `call` turns the answer back
            raise refused(error.status, error.outcome()) from None

    def shown(self, type: str, id: str, *, on: str | None = None) -> dict[str, Any]:
        """`read` for display only (orjson, as `search`), through the request's
        SecuredRepository as the router's read (fhir/interactions.py `current`): 404 for what
        is not there or not visible, 410 for a deletion, the access rules' 403 as it is."""
        actor, repo = self.secured(on)
        try:
            version = repo.read(type, check_id(id))
        except FhirError as error:
            raise refused(error.status, error.outcome()) from None
        if version is None or version.deleted:
            raise NotFound(f"{type}/{id} not found")
        return _shown(version)

    def read(self, type: str, id: str, *, on: str | None = None) -> dict[str, Any]:
        found = self.call("GET", f"{type}/{id}", on=on)
        if not found:
            raise NotFound(f"{type}/{id} not found")
        return found

    def create(self, resource: dict[str, Any], *, on: str | None = None) -> dict[str, Any]:
        return self.call("POST", resource["resourceType"], resource=resource, on=on) or {}

    def update(self, resource: dict[str, Any], *, on: str | None = None) -> dict[str, Any]:
        return self.call("PUT", f"{resource['resourceType']}/{resource['id']}", resource=resource, on=on) or {}

    # -- who I am in the records ----------------------------------------------------------------
    @property
    def who(self) -> Any:
        return self.secured()[1].view.who

    @property
    def role_refs(self) -> list[str]:
        return [f"PractitionerRole/{r}" for r in sorted(self.who.role_ids)] if self.who else []

    @property
    def org_refs(self) -> list[str]:
        return [f"Organization/{o}" for o in sorted(self.who.organization_ids)] if self.who else []

    def care_patients(self) -> set[str]:
        """The patients of the care relationship (GP list, ward, home-care round)."""
        return set(self.secured()[1].view.patients)

    def name_of(self, reference: dict[str, Any] | None) -> str:
        """A Reference's display, else the name of the directory resource it points at."""
        if not reference:
            return ""
        if reference.get("display"):
            return reference["display"]
        ref = reference.get("reference", "")
        if ref not in self._names:
            type, _, id = ref.partition("/")
            name = ""
            if type in ("Organization", "Practitioner", "PractitionerRole", "HealthcareService", "Location") and id:
                version = self.raw.read(type, id)  # directory data: no patient's data, no audit
                if version is not None and version.content is not None:
                    found = orjson.loads(version.content)
                    name = found.get("name") if isinstance(found.get("name"), str) else _person_name(found)
                    if type == "PractitionerRole":
                        name = (found.get("practitioner") or {}).get("display") or name
            self._names[ref] = name or ref
        return self._names[ref]


def _shown(version: Any) -> dict[str, Any]:
    """A stored version's content for display: parsed by orjson (C), as `call(exact=False)`;
    an integer beyond 64 bits goes to jsoncodec, which keeps it."""
    try:
        return orjson.loads(version.content)
    except orjson.JSONDecodeError:
        return jsoncodec.loads(version.content, max_depth=10_000)


def _person_name(resource: dict[str, Any]) -> str:
    for name in resource.get("name") or []:
        text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
        if text:
            return text
    return ""


def load(session: Any, raw: Any, router: Any, policy: AccessPolicy, base_url: str, request_id: str = "") -> Clinician:
    data = session.data
    return Clinician(data["hpr"], data.get("name", ""), data.get("practitioner_id", ""), data.get("orgnr", ""),
                     data.get("role", ""), session, raw, router, policy, base_url, request_id)


def refused(status: int, outcome: dict[str, Any]) -> FhirError:
    """The API's refusal as the matching error, keeping the access outcome code
    (purpose-required, blocked, ...) so a page can explain it."""
    issue = next(iter(outcome.get("issue") or []), {})
    text = issue.get("diagnostics", "") or f"HTTP {status}"
    kind = {403: Forbidden, 404: NotFound, 410: NotFound}.get(status, BadRequest if status < 500 else FhirError)
    error = kind(text)
    if kind is BadRequest or kind is FhirError:
        error.status = status
    codes = [c.get("code") for c in ((issue.get("details") or {}).get("coding") or [])]
    error.access_reason = next((c for c in codes if c), None)  # type: ignore[attr-defined]
    return error
