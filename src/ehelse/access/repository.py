"""SecuredRepository: the per-request repository, the security boundary (DESIGN.md, principle 3).

`SecuredRepository(repo, actor, policy, audit)` implements the Repository protocol over the
real one for one request. Every interaction the router has (read, vread, search with
_include/_revinclude/chains/_has, history, $everything, batch and transaction entries)
comes through here, so the rules hold on every path:

  - searches carry the access rule as SQL (`SearchQuery.access`, applied by search/execute.py
    to the matches and every chain and _has link): totals, paging and chains count only what
    the actor may see; includes and every returned row are checked again per resource;
  - a citizen gets None (the router's 404) for what is not theirs, never a hint it exists;
  - personnel get 403 with an OperationOutcome whose issue details say a purpose is needed
    (`purpose-required`), so a client can offer emergency access;
  - confidential addresses are taken out of Patient.address for whoever may not see them;
  - AuditEvent is read-only for everyone;
  - every access to patient data is audited, one AuditEvent per patient touched, durable
    before the data is returned (audit/trail.py). A caller that answers once for several
    reads (a portal page) may gather them (`audit_batch()`): one AuditEvent per patient and
    outcome for the whole request, written in one commit before the answer leaves.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator

import orjson

from ehelse.access import freshness, schedules, writes
from ehelse.access.lookup import ref_id
from ehelse.access.policy import AccessPolicy, PUBLIC_TYPES
from ehelse.access.view import AccessView, compartment_params, owners
from ehelse.audit import api as audit_api
from ehelse.audit.events import audit_event
from ehelse.audit.record import row_for
from ehelse.audit.trail import AuditTrail, trail_for
from ehelse.errors import Forbidden, Issue, NotFound
from ehelse.fhir import jsoncodec
from ehelse.nobasis.seed.vocabulary import EHELSE_CS
from ehelse.storage.budget import check_budget
from ehelse.storage.protocol import Page, ResourceVersion, SearchQuery
from ehelse.storage.staged import Staged

OUTCOME_SYSTEM = EHELSE_CS + "access-outcome"
_READS = ("read", "vread", "search", "history")  # what audit_batch() may gather
HISTORY_SCAN_LIMIT = 10_000  # versions a filtered type/system history looks through
_ADDRESS_PARAMS = ("address", "_content", "_text", "phonetic")
_CONTEXTS = {"patient": ("patient", "user"), "practitioner": ("user", "patient"), "system": ("system",)}
_DENIALS = {
    "purpose-required": "Access to this patient's clinical data needs a care relationship or a declared "
                        "purpose: ask again with purpose ETREAT or BTG and a reason (emergency access is "
                        "time-limited, logged and shown to the patient)",
    "blocked": "The patient has blocked you from their record; this holds in an emergency too",
    "reserved": "The patient has reserved against a summary record: no emergency access from outside "
                "their own care relationships",
    "emergency-expired": "Your emergency access to this patient has run out; declare it again with a new token",
    "restricted": "This part of the record is restricted by the patient: it opens only with a declared purpose",
}


def forbidden(reason: str) -> Forbidden:
    """403 with an issue a client can act on (details.coding: access-outcome#<reason>)."""
    text = _DENIALS.get(reason, "Not allowed")
    details = {"coding": [{"system": OUTCOME_SYSTEM, "code": reason}], "text": text}
    return Forbidden(text, issues=[Issue("error", "forbidden", text, details=details)])


_UNCHECKED = object()  # an update's or delete's checks have not run before its transaction


def _same_version(checked: Any, current: ResourceVersion | None) -> bool:
    """Whether the version the checks ran on is still the current one."""
    if checked is _UNCHECKED:
        return False
    if checked is None or current is None:
        return checked is current
    return checked.version_id == current.version_id


class SecuredRepository:
    def __init__(self, repo: Any, actor: Any, policy: AccessPolicy | None = None, audit: AuditTrail | None = None,
                 *, facts_version: int | None = None):
        self.inner = repo
        self.url = repo.url
        self.actor = actor
        self.policy = policy or AccessPolicy()
        self.audit = audit or trail_for(repo)
        self.view: AccessView = self.policy.view(repo, actor, facts_version=facts_version)
        # While a batch is open: (patient, denied) -> [interactions, references, queries].
        self._batch: dict[tuple[str, bool], tuple[list[str], list[str], list[str]]] | None = None
        self._kept: dict[tuple[str, str, int], dict[str, Any]] | None = None  # keeping_content()

    # -- checks ---------------------------------------------------------------------------------
    def _check_type(self, type: str, interaction: str) -> None:
        """SMART scopes bound what a client may do whoever the user is (admins excepted)."""
        if self.actor.kind == "admin":
            return
        contexts = _CONTEXTS.get(self.actor.kind, ())
        if not self.view.scopes.allows(type, interaction, contexts=contexts):
            raise Forbidden(f"The token's scopes do not allow {interaction} of {type}", code="forbidden")

    def _subject(self, version: ResourceVersion, *, exact: bool = True) -> dict[str, Any] | None:
        """The content that decides access: the version's, or for a deletion the last one
        before it (a citizen must not learn a foreign resource was deleted). `exact=False`
        for a decision alone (references, labels, types; never sent, never compared with
        a new version): parsed by orjson, several times faster than the exact codec."""
        parse = jsoncodec.loads if exact else _loads_for_decision
        if version.content is not None:
            return parse(version.content, max_depth=10_000)
        if version.version_id > 1:
            previous = self.inner.vread(version.type, version.id, version.version_id - 1)
            if previous is not None and previous.content is not None:
                return parse(previous.content, max_depth=10_000)
        return None

    def _decide(self, resource: dict[str, Any] | None, *, targeted: bool) -> tuple[bool, set[str]]:
        if resource is None:
            return self.view.unrestricted, set()
        if resource.get("resourceType") == "Binary" and not self.view.unrestricted:
            # A Binary is governed by its securityContext (the DocumentReference it belongs to).
            context = resource.get("securityContext")
            if not isinstance(context, dict) or not isinstance(context.get("reference"), str):
                return False, set()
            kind = context["reference"].split("/")[-2] if "/" in context["reference"] else ""
            target = self.inner.read(kind, ref_id(context, kind) or "") if kind else None
            return self._decide(self._subject(target, exact=False) if target else None, targeted=targeted)
        return self.view.may_see(resource, targeted=targeted)

    def _refuse(self, type: str, patients: set[str]) -> None:
        """Citizens (and anyone else without a relation): None, the router's 404. Personnel:
        403 saying why, so a client can offer emergency access."""
        if self.view.kind != "practitioner" or type in PUBLIC_TYPES:
            return None
        if type == "AuditEvent":
            raise Forbidden("AuditEvent is not readable by health personnel through the API", code="forbidden")
        reasons = [self.view.denied_reason.get(p) for p in sorted(patients)]
        reason = next((r for r in reasons if r), None)
        if reason is None:
            reason = "restricted" if any(p in self.view.patients for p in patients) else "purpose-required"
        raise forbidden(reason)

    # -- audit --------------------------------------------------------------------------------
    def _audit(self, interaction: str, touched: dict[str, list[str]], *, denied: bool = False,
               query: str | None = None) -> None:
        if self._batch is not None and interaction in _READS:
            for patient, what in touched.items():
                kinds, refs, queries = self._batch.setdefault((patient, denied), ([], [], []))
                kinds.append(interaction)
                refs.extend(what)
                if query:
                    queries.append(query)
            return
        events = [audit_event(self.actor, interaction=interaction, patient_id=patient, what=what, query=query,
                              denied=denied, relation=self._relation(patient))
                  for patient, what in sorted(touched.items())]
        self.audit.record(events)

    def audit_batch(self, into: list[dict[str, Any]] | None = None) -> "_AuditBatch":
        """Gather the reads and searches of one request into one AuditEvent per patient (and
        outcome), recorded in one commit when the block ends, also when it ends in an error
        (a refusal is audited too). The caller must answer only after the block: the records
        are durable before any data leaves. Writes are audited at once, in their transaction.
        With `into`, their audit_log rows (audit/record.row_for: the same rows, without the
        AuditEvent in between) are appended there instead, for a caller on the event loop
        that awaits their commit itself (web/fhir.py: AuditTrail.durable)."""
        return _AuditBatch(self, into)

    def _close_batch(self, into: list[dict[str, Any]] | None) -> None:
        batch, self._batch = self._batch, None
        if not batch:
            return
        make = audit_event if into is None else row_for
        # A lone read (most requests) merges nothing: no set, no dict.fromkeys, no join.
        made = [make(self.actor, interaction=kinds[0] if len(kinds) == 1 or len(set(kinds)) == 1 else "search",
                     patient_id=patient, what=refs if len(refs) <= 1 else list(dict.fromkeys(refs)), denied=denied,
                     query=queries[0] if len(queries) == 1 else " ; ".join(dict.fromkeys(queries)) or None,
                     relation=self._relation(patient))
                for (patient, denied), (kinds, refs, queries) in (sorted(batch.items()) if len(batch) > 1
                                                                   else batch.items())]
        if into is None:
            self.audit.record(made)
        else:
            into.extend(made)

    def _relation(self, patient_id: str) -> str:
        if self.actor.kind in ("admin", "system"):
            return self.actor.kind
        return self.view.relation(patient_id) or "none"

    # -- presenting ---------------------------------------------------------------------------
    def _present(self, version: ResourceVersion) -> ResourceVersion:
        """Take a confidential address out of a Patient for whoever may not see it."""
        if version.type != "Patient" or version.content is None or b"adresse" not in version.content:
            return version
        patient = jsoncodec.loads(version.content, max_depth=10_000)
        if not self.view.hides_address_of(patient) or "address" not in patient:
            return version
        del patient["address"]
        return ResourceVersion(version.type, version.id, version.version_id, version.last_updated,
                               version.method, jsoncodec.dumps(patient))

    # -- reads --------------------------------------------------------------------------------
    def read(self, type: str, id: str) -> ResourceVersion | None:
        self._check_type(type, "read")
        if type == "AuditEvent":
            return self._audit_events(lambda: [audit_api.read(self.inner, id, self._sees_audit_of)], "read")[0]
        return self._one(self.inner.read(type, id), "read")

    def vread(self, type: str, id: str, version_id: int) -> ResourceVersion | None:
        self._check_type(type, "vread")
        if type == "AuditEvent":  # a log row has one version, never changed
            return self.read(type, id) if version_id == 1 else None
        return self._one(self.inner.vread(type, id, version_id), "vread")

    # -- AuditEvent: rendered from the audit log (audit/api.py) -------------------------------
    def _sees_audit_of(self, patient_id: str) -> bool:
        """Admins and system clients (by their scopes, checked before) see every record;
        citizens the records about whom they may read; personnel none through the API."""
        if self.view.unrestricted:
            return True
        if self.view.kind != "patient" or not patient_id:
            return False
        rights = self.view.rights(patient_id)
        return bool(rights and rights.read and "AuditEvent" not in rights.hidden_types)

    def _audit_events(self, make: Any, interaction: str, query: str | None = None) -> Any:
        if self.view.kind == "practitioner":
            raise Forbidden("AuditEvent is not readable by health personnel through the API", code="forbidden")
        result = make()
        versions = result.entries if isinstance(result, Page) else [v for v in result if v is not None]
        touched: dict[str, list[str]] = {}
        for version in versions:  # reading the trail is an access to the patient's data too
            patient = audit_api.patient_of(version)
            if patient:
                touched.setdefault(patient, []).append(f"AuditEvent/{version.id}")
        self._audit(interaction, touched, query=query)
        return result

    def _one(self, version: ResourceVersion | None, interaction: str) -> ResourceVersion | None:
        if version is None:
            return None
        visible, patients = self._decide(self._subject(version, exact=False), targeted=True)
        if patients:
            self._audit(interaction, {p: [f"{version.type}/{version.id}"] for p in patients}, denied=not visible)
        if not visible:
            self._refuse(version.type, patients)
            return None
        return self._present(version)

    def search(self, type: str | None, query: SearchQuery) -> Page:
        if type is not None:
            self._check_type(type, "search")
        for t in query.types:
            self._check_type(t, "search")
        for param in query.params:
            if param.name == "_list" and not self.view.unrestricted:
                for id in param.values:  # the List itself must be visible (search.html#list)
                    if self.read("List", id) is None:
                        return Page([], 0 if query.total != "none" else None)
        if type == "AuditEvent":
            patients = None if self.view.unrestricted else sorted(self.view.patients)
            return self._audit_events(lambda: audit_api.search(self.inner, query, self._sees_audit_of, patients),
                                      "search", query=_describe(type, query))
        targeted = self._targeted(type, query)
        for patient in targeted:  # personnel naming one patient: care, emergency or 403
            if self.view.kind == "practitioner" and type != "Patient" and self.view.rights(patient) is None:
                self._audit("search", {patient: []}, denied=True, query=_describe(type, query))
                self._refuse(type or "Patient", {patient})
        hide = any(p.name.split(".")[-1].split(":")[0].startswith(_ADDRESS_PARAMS) for p in query.params)
        confined = self._confined(type, query)
        if self.view.unrestricted and self.view.condition(type, "r") is None:
            # Nothing is filtered for this actor (an admin), on the matches or on any linked
            # resource of a chain or _has: no rule at all, so a chained search may run on its
            # prepared generic plan (search/execute.py generic_safe) as it does without a
            # token. With a rule that was always empty it was planned per request: an admin's
            # chained search over HTTP cost PostgreSQL 2.4 ms instead of ~0.3 (N=10,000).
            query.access = None
        elif confined and not self.view.unrestricted and all(self.view.rights(p) for p in confined):
            # The matches are in these patients' records already; chain and _has links are not.
            query.access = lambda t, alias: (self.view.within(confined, alias, hide_confidential=hide) if alias == "r"
                                             else self.view.condition(t, alias, hide_confidential=hide))
        else:
            query.access = lambda t, alias: self.view.condition(t, alias, hide_confidential=hide)
        audit_share = type is None and self._audit_share(query)
        if audit_share:  # stored resources first, then AuditEvents: offset paging
            query.after, query.total = None, "accurate"
        page = self.inner.search(type, query)
        touched: dict[str, list[str]] = {p: [] for p in targeted}
        entries = self._filter(page.entries, touched)
        included = self._filter(page.included, touched)
        self._audit("search", touched, query=_describe(type, query))
        if audit_share:
            return self._with_audit_events(Page(entries, page.total, included), query)
        return Page(entries, page.total, included)

    def _audit_share(self, query: SearchQuery) -> bool:
        """Whether a search across all types includes AuditEvents: it is a resource type like
        any other (http.html#search), so yes for whoever may search it (admins, system clients
        with an AuditEvent scope, citizens for their own records); not for personnel."""
        if self.view.kind == "practitioner" or audit_api.system_part(query, 0, 0) is None:
            return False
        contexts = _CONTEXTS.get(self.actor.kind, ())
        return self.actor.kind == "admin" or self.view.scopes.allows("AuditEvent", "search", contexts=contexts)

    def _with_audit_events(self, page: Page, query: SearchQuery) -> Page:
        """The stored page, filled up with AuditEvents past the last stored match; totals add."""
        stored = page.total or 0
        wanted = query.count - len(page.entries)
        part = audit_api.system_part(query, max(wanted, 0), max(query.offset - stored, 0))
        assert part is not None  # _audit_share checked it
        patients = None if self.view.unrestricted else sorted(self.view.patients)
        events = self._audit_events(lambda: audit_api.search(self.inner, part, self._sees_audit_of, patients),
                                    "search", query=_describe("AuditEvent", part))
        entries = page.entries + (events.entries if wanted > 0 else [])
        total = stored + events.total if events.total is not None else None
        return Page(entries, total, page.included)

    @contextmanager
    def keeping_content(self) -> Iterator[dict[tuple[str, str, int], dict[str, Any]]]:
        """For a caller that shows what its searches return (a portal page): the content each
        access decision was made on, for every version returned as stored, keyed by (type,
        id, version_id), so the page does not parse it again. Parsed by orjson (numbers it
        cannot hold exactly become floats): for display, never to write back."""
        previous, self._kept = self._kept, {}
        try:
            yield self._kept
        finally:
            self._kept = previous

    def _filter(self, versions: list[ResourceVersion], touched: dict[str, list[str]]) -> list[ResourceVersion]:
        out = []
        for version in versions:
            check_budget()  # on the event loop within a read budget: up to 1,000 included (storage/budget.py)
            resource = self._subject(version, exact=False)
            visible, patients = self._decide(resource, targeted=False)
            if visible:  # the SQL rule let it through; checked again, cheaply, per resource
                shown = self._present(version)
                out.append(shown)
                if self._kept is not None and shown is version and resource is not None:
                    self._kept[(version.type, version.id, version.version_id)] = resource
                for patient in patients:
                    touched.setdefault(patient, []).append(f"{version.type}/{version.id}")
        return out

    @staticmethod
    def _targeted(type: str | None, query: SearchQuery) -> set[str]:
        """Patients a search names: a Patient compartment, or patient=/subject= by id."""
        out = set()
        if query.compartment is not None and query.compartment[0] == "Patient":
            out.add(query.compartment[1])
        for param in query.params:
            if param.name in ("patient", "subject") and param.modifier in (None, "Patient"):
                for value in param.values:
                    id = value.split("/")[-1] if value.startswith("Patient/") or "/" not in value else None
                    if id:
                        out.add(id)
        return out

    @staticmethod
    def _confined(type: str | None, query: SearchQuery) -> set[str] | None:
        """The patients whose records every match must be in, when the query says so: a
        Patient compartment, or a compartment parameter of the type (Observation `subject`)
        naming Patients by id. None when the query does not confine the matches."""
        if type == "Patient":
            return None
        if type is None:
            # `Patient/<id>/*?_type=...` (search.html#compartments) without Patient among the
            # types: every match is in that record, as with one type. Not for `*` alone or with
            # Patient: other Patients (by `link`) are compartment members but not that record.
            if (query.compartment is not None and query.compartment[0] == "Patient" and query.types
                    and "Patient" not in query.types):
                return {query.compartment[1]}
            return None
        if query.compartment is not None:
            return {query.compartment[1]} if query.compartment[0] == "Patient" else None
        for param in query.params:
            if param.name in compartment_params(type) and param.modifier in (None, "Patient"):
                # a bare id could be a Group's or a Device's: only Patient/<id> or :Patient=<id>
                ids = {v[len("Patient/"):] if v.startswith("Patient/") else v if param.modifier else "" for v in param.values}
                if ids and all(i and "/" not in i for i in ids):
                    return ids
        return None

    def history(self, type: str | None = None, id: str | None = None, *, since: str | None = None,
                at: str | None = None, count: int = 50, offset: int = 0) -> Page:
        if type is not None:
            self._check_type(type, "history")
        if type == "AuditEvent":  # each record has one version: its history is itself
            if id is not None:
                found = self.read(type, id)
                return Page([found] if found is not None else [], 1 if found is not None else 0)
            return self.search(type, SearchQuery(count=count, offset=offset, sort=[("date", True)]))
        if self.actor.kind == "admin":
            page = self.inner.history(type, id, since=since, at=at, count=count, offset=offset)
            touched: dict[str, list[str]] = {}
            self._filter(page.entries, touched)
            self._audit("history", touched)
            return page
        # Filtered history: the versions this actor may see, newest first, paged over them,
        # with a total that counts only those (denied versions are never counted).
        visible, touched, scanned, total = [], {}, 0, 0
        while scanned < HISTORY_SCAN_LIMIT:
            chunk = self.inner.history(type, id, since=since, at=at, count=500, offset=scanned)
            for version in chunk.entries:
                ok, patients = self._decide(self._subject(version, exact=False), targeted=id is not None)
                if not ok:
                    continue
                if offset <= total < offset + count:
                    visible.append(self._present(version))
                    for patient in patients:
                        touched.setdefault(patient, []).append(f"{version.type}/{version.id}")
                total += 1
            scanned += len(chunk.entries)
            if len(chunk.entries) < 500:
                break
        self._audit("history", touched)
        return Page(visible, total if scanned < HISTORY_SCAN_LIMIT else None)

    def supported_search_params(self, type: str) -> dict[str, str]:
        return self.inner.supported_search_params(type)

    def patients_in_reach(self) -> frozenset[str] | None:
        """The patients whose records this actor reads without naming one (Patient/$everything
        at type level, patient-operation-everything.html: "all patients that the user ...
        has access to"): None for admins and system clients (every patient their scopes
        reach); a citizen's own and those they act for; personnel's care relationships,
        blocks left out (emergency access is opened for one named patient, never by a
        request for everyone)."""
        if self.view.unrestricted:
            return None
        return frozenset(id for id, rights in self.view.patients.items() if rights.read)

    # -- writes -------------------------------------------------------------------------------
    def _check_write(self, resource: dict[str, Any], interaction: str) -> set[str]:
        type = resource.get("resourceType", "")
        self._check_type(type, interaction)
        allowed, patients = self.view.may_write(resource, interaction)
        if not allowed and type in schedules.TYPES and self.view.kind == "practitioner":
            allowed = schedules.personnel_may_write(self.inner, self.view.who, resource)
        if not allowed:
            if type == "AuditEvent":
                raise Forbidden("AuditEvent is read-only, for admins too", code="forbidden")
            if patients:
                what = [f"{type}/{resource['id']}"] if isinstance(resource.get("id"), str) else None
                self.audit.record([audit_event(self.actor, interaction=interaction, patient_id=p, what=what,
                                               denied=True, relation=self._relation(p)) for p in sorted(patients)])
            if self.view.kind == "practitioner" and patients and not any(self.view.rights(p) for p in patients):
                self._refuse(type, patients)
            raise Forbidden(f"You may not {interaction} this {type}", code="forbidden")
        return patients

    def _check_existing(self, current: ResourceVersion | None, interaction: str) -> dict[str, Any] | None:
        """May the actor write over `current`, the stored version? Returns its content (None
        when there is none or it is deleted), for the write to use."""
        if current is None or current.deleted:
            return None
        resource = self._subject(current)
        visible, patients = self._decide(resource, targeted=True)
        if not visible:
            self._refuse(current.type, patients)
            raise NotFound(f"{current.type}/{current.id} is not known")
        self._check_write(resource, interaction)
        return resource

    @property
    def _checks_first(self) -> bool:
        """Whether an update's or delete's access checks run before its write transaction.
        Where a write transaction shuts out every other writer of the database (SQLite's one
        write lock, across processes), whatever runs inside it runs one write at a time: the
        checks (reading and parsing the stored version, the access rules) were a tenth of
        the lock's time in the CRUD benchmark (docs/benchmarks.md, tenth session). Inside,
        the write then only confirms that the version checked is still the current one, and
        checks again if not. Elsewhere (PostgreSQL locks rows, and each read is a round
        trip) they stay inside the transaction, on the version it reads."""
        return getattr(self.inner, "exclusive_writes", False)

    def _index_of(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The inner repository's index rows of `resource`, made now, before its write
        transaction (as a keyword for its create/update; none for a repository that makes
        them itself). The rows depend on the content alone, not on the id or meta the write
        stamps (tests/storage/test_index_prepared.py), and no write rule
        (writes.before_write) changes the resource it is given."""
        index_rows = getattr(self.inner, "index_rows", None)
        return {} if index_rows is None else {"index": index_rows(resource)}

    # A write is staged (storage/staged.py): the checks now, before any write transaction;
    # apply() writes inside one, with its audit record; the finish step runs after the
    # commit, when the process may drop its cached access facts (a referral or visit is a care
    # relationship now; dropped before the commit, a request between could cache them again
    # without the write). create/update/delete take the steps one after the other.
    def create(self, resource: dict[str, Any], *, id: str | None = None) -> ResourceVersion:
        return self.stage_create(resource, id=id).run()

    def update(self, resource: dict[str, Any], *, if_match: int | None = None,
               method: str = "PUT") -> tuple[ResourceVersion, bool]:
        return self.stage_update(resource, if_match=if_match, method=method).run()

    def delete(self, type: str, id: str, *, if_match: int | None = None) -> ResourceVersion | None:
        return self.stage_delete(type, id, if_match=if_match).run()

    def stage_create(self, resource: dict[str, Any], *, id: str | None = None) -> Staged:
        patients = self._check_write(resource, "create")
        index = self._index_of(resource)

        def apply() -> ResourceVersion:
            with self.audit.transaction():
                writes.before_write(self.inner, self.actor, resource, None, self.policy.today())
                version = self.inner.create(resource, id=id, **index)
                self._facts_changed(version.type)
                # a new record: its patient is known only now
                touched = patients | {version.id} if version.type == "Patient" else patients
                self._audit("create", {p: [f"{version.type}/{version.id}"] for p in touched})
            return version

        def finish(version: ResourceVersion) -> ResourceVersion:
            self.policy.facts.changed(version.type)
            return version

        return Staged(apply, finish)

    def stage_update(self, resource: dict[str, Any], *, if_match: int | None = None,
                     method: str = "PUT") -> Staged:
        interaction = "patch" if method == "PATCH" else "update"
        type, id = resource["resourceType"], resource["id"]
        checked: Any = _UNCHECKED
        previous: dict[str, Any] | None = None
        patients: set[str] = set()
        if self._checks_first:
            checked = self.inner.read(type, id)
            previous = self._check_existing(checked, interaction)
            patients = self._check_write(resource, interaction)
        index = self._index_of(resource)

        def apply() -> tuple[ResourceVersion, bool]:
            nonlocal previous, patients
            with self.audit.transaction():
                current = self.inner.read(type, id)
                if not _same_version(checked, current):  # not checked yet, or changed since
                    previous = self._check_existing(current, interaction)
                    patients = self._check_write(resource, interaction)
                writes.before_write(self.inner, self.actor, resource, previous, self.policy.today())
                version, created = self.inner.update(resource, if_match=if_match, method=method, **index)
                self._facts_changed(version.type)
                self._audit(interaction, {p: [f"{version.type}/{version.id}"] for p in patients})
            return version, created

        def finish(result: tuple[ResourceVersion, bool]) -> tuple[ResourceVersion, bool]:
            self.policy.facts.changed(type)
            return result

        return Staged(apply, finish)

    def stage_delete(self, type: str, id: str, *, if_match: int | None = None) -> Staged:
        self._check_type(type, "delete")
        if type == "AuditEvent":  # log rows are append-only: nothing deletes them (audit/log.py)
            raise Forbidden("AuditEvent is read-only, for admins too", code="forbidden")
        checked: Any = _UNCHECKED
        if self._checks_first:
            checked = self.inner.read(type, id)
            self._check_existing(checked, "delete")

        def apply() -> ResourceVersion | None:
            with self.audit.transaction():
                current = self.inner.read(type, id)
                if not _same_version(checked, current):
                    self._check_existing(current, "delete")
                version = self.inner.delete(type, id, if_match=if_match)
                self._facts_changed(type)
                resource = self._subject(current) if current is not None else None
                patients = owners(resource) if resource else set()
                self._audit("delete", {p: [f"{type}/{id}"] for p in patients})
            return version

        def finish(version: ResourceVersion | None) -> ResourceVersion | None:
            self.policy.facts.changed(type)
            return version

        return Staged(apply, finish)

    def _facts_changed(self, type: str) -> None:
        """Inside the write's transaction: other processes drop their cached access facts
        on their next request (access/freshness.py); this one does after the commit."""
        if type in freshness.FACT_TYPES:
            freshness.bump(self.inner)

    def transaction(self) -> AbstractContextManager[None]:
        return self.audit.transaction()

    # -- the deployment's own records ---------------------------------------------------------
    def signing_keys(self) -> list[dict[str, Any]]:
        raise Forbidden("Signing keys are not for requests", code="forbidden")

    def add_signing_key(self, jwk: dict[str, Any]) -> None:
        raise Forbidden("Signing keys are not for requests", code="forbidden")

    # -- operations ---------------------------------------------------------------------------
    def ping(self) -> None:
        self.inner.ping()

    def migrations_current(self) -> bool:
        return self.inner.migrations_current()

    def iter_current(self, type: str | None = None) -> Iterator[ResourceVersion]:
        """Every current resource this actor may see (bulk export), each patient audited
        before the first of their resources is handed out."""
        if type is not None:
            self._check_type(type, "search")
        audited: set[str] = set()
        for version in self.inner.iter_current(type):
            visible, patients = self._decide(self._subject(version, exact=False), targeted=False)
            if not visible:
                continue
            new = patients - audited
            if new:
                self._audit("search", {p: [] for p in new}, query="bulk export")
                audited |= new
            yield self._present(version)

    def types_present(self) -> list[str]:
        return self.inner.types_present()

    def close(self) -> None:
        return None  # the real repository belongs to the process, not the request


def _loads_for_decision(content: bytes, *, max_depth: int) -> Any:
    """Stored JSON (validated when written) for an access decision. orjson turns numbers it
    cannot hold exactly into floats, which no decision reads; what it refuses (a number
    beyond a double) goes to the exact codec."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return jsoncodec.loads(content, max_depth=max_depth)


def _describe(type: str | None, query: SearchQuery) -> str:
    """What was asked, for the audit record: the path as the client wrote it (`*` for all
    types of a compartment, search.html#compartments) and the parameters, `_type` included
    (a refused search lists no resource, so this is all the record says of it)."""
    parts = [f"{p.name}{':' + p.modifier if p.modifier else ''}={','.join(p.values)}" for p in query.params]
    if type is None and query.types:
        parts.insert(0, "_type=" + ",".join(query.types))
    base = "/".join(query.compartment) + "/" if query.compartment else ""
    return f"{base}{type or ('*' if query.compartment else '')}?{'&'.join(parts)}"


class _AuditBatch:
    """SecuredRepository.audit_batch's block: a class rather than a generator context
    manager, since every audited request on the event loop opens one (a read by id is the
    server's hottest path, bench/read_bench.py)."""

    __slots__ = ("repo", "into", "opened")

    def __init__(self, repo: SecuredRepository, into: list[dict[str, Any]] | None):
        self.repo = repo
        self.into = into
        self.opened = False

    def __enter__(self) -> None:
        if self.repo._batch is None:  # an inner block joins the outer one
            self.repo._batch = {}
            self.opened = True

    def __exit__(self, *exc: Any) -> None:
        if self.opened:
            self.opened = False
            self.repo._close_batch(self.into)
