"""What an actor may see and do: DOMAIN.md's access matrix as data.

The matrix has two halves. `RIGHTS` says, per relation between the actor and a patient,
what the actor may do with that patient's data; `relations` (representation.py for
citizens, care.py for personnel) decides the relations of one request. `PUBLIC_TYPES`
are the directory and definition resources every signed-in actor may read (they hold no
patient's data); every other type outside the Patient compartment is admin/system only:
default deny.

    relation            who                                     read  write  consents
    self                the citizen, own record                 yes   own entries  yes
    parent              parent of a child < 12, shared address  yes   yes    yes
    parent-limited      parent of a child 12-15                 limited (no journal documents,
                                                                nothing withheld-from-parents)
    fullmakt            holder, within area and period          yes   yes    no (stay with the giver)
    nearest-relative    for a person lacking capacity           yes   yes    no
    care                personnel with a care relationship      yes   yes    no; restricted data only
                                                                with a declared purpose
    emergency           personnel, ETREAT/BTG with a reason     read only, time-limited, audited

Personnel see every Patient's demographics (to find the patient) whatever the relation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from ehelse.access import freshness
from ehelse.nobasis.seed.vocabulary import (
    LABEL_CONFIDENTIAL_ADDRESS, LABEL_RESTRICTED, LABEL_STRICTLY_CONFIDENTIAL_ADDRESS, LABEL_WITHHELD_FROM_PARENTS,
    SECURITY_LABEL,
)

WITHHELD_FROM_PARENTS = LABEL_WITHHELD_FROM_PARENTS[0]
RESTRICTED = LABEL_RESTRICTED[0]
CONFIDENTIAL_ADDRESS = LABEL_CONFIDENTIAL_ADDRESS[0]
STRICTLY_CONFIDENTIAL_ADDRESS = LABEL_STRICTLY_CONFIDENTIAL_ADDRESS[0]
LABEL_SYSTEM = SECURITY_LABEL

# Journal documents and the summary record: what parents of a 12-15 year old do not see.
JOURNAL_TYPES = frozenset({"DocumentReference", "DocumentManifest", "Composition", "Binary", "List"})

# Directory and definition resources: no patient's data in them.
PUBLIC_TYPES = frozenset({
    "Organization", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Endpoint",
    "Medication", "MedicationKnowledge", "Substance", "Questionnaire", "Slot", "PlanDefinition",
    "ActivityDefinition", "Library", "Measure", "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem",
    "StructureDefinition", "StructureMap", "SearchParameter", "OperationDefinition", "CompartmentDefinition",
    "CapabilityStatement", "ImplementationGuide", "TerminologyCapabilities", "ObservationDefinition",
    "SpecimenDefinition", "DeviceDefinition", "ChargeItemDefinition", "GraphDefinition", "MessageDefinition",
    "EventDefinition", "ResearchDefinition", "ResearchElementDefinition", "EffectEvidenceSynthesis",
    "Evidence", "EvidenceVariable", "RiskEvidenceSynthesis", "TestScript", "ExampleScenario",
    "MedicinalProduct", "InsurancePlan",
})

# What a citizen may write in a record they may write in (their own entries). Everything
# else in the record is written by health personnel.
CITIZEN_WRITES = {
    "Observation": {"create"},  # self-measured values
    "QuestionnaireResponse": {"create", "update", "delete"},
    "Communication": {"create", "update"},  # update: only `received`, by the recipient (writes.py)
    "Appointment": {"create", "update"},
    "AppointmentResponse": {"create", "update"},
    "Consent": {"create", "update", "delete"},
    "RelatedPerson": {"create"},  # only a fullmakt holder, under the rules of writes.py
}
READ_INTERACTIONS = frozenset({"read", "vread", "search", "history", "operation"})
WRITE_INTERACTIONS = frozenset({"create", "update", "patch", "delete"})
EMERGENCY_PURPOSES = frozenset({"ETREAT", "BTG"})
_TOKEN_VIEWS = 1024  # admin/system views kept per process (AccessPolicy.view)


@dataclass(frozen=True, slots=True)
class Rights:
    """What one relation lets the actor do with one patient's data."""

    read: bool = True
    write: bool = False
    consents: bool = False  # create/change the patient's privacy Consents
    hidden_types: frozenset[str] = frozenset()
    hidden_labels: frozenset[str] = frozenset()


RIGHTS: dict[str, Rights] = {
    "self": Rights(write=True, consents=True),
    "parent": Rights(write=True, consents=True),
    "parent-limited": Rights(hidden_types=JOURNAL_TYPES, hidden_labels=frozenset({WITHHELD_FROM_PARENTS})),
    "fullmakt": Rights(write=True),
    "nearest-relative": Rights(write=True),
    "care": Rights(write=True),
    "emergency": Rights(),
}
CITIZEN_RELATIONS = ("self", "parent", "parent-limited", "fullmakt", "nearest-relative")


def personnel_rights(relation: str, purpose: str | None) -> Rights:
    """Personnel: data the patient restricted (sperre) opens only with a declared purpose
    (DOMAIN.md: "only by declaring consent or emergency"), which the audit records."""
    rights = RIGHTS[relation]
    if purpose:
        return rights
    return Rights(rights.read, rights.write, rights.consents, rights.hidden_types,
                  rights.hidden_labels | {RESTRICTED})


def combine(a: Rights, b: Rights) -> Rights:
    """Two relations to one patient (a parent who also holds a fullmakt): the wider wins."""
    return Rights(a.read or b.read, a.write or b.write, a.consents or b.consents,
                  a.hidden_types & b.hidden_types, a.hidden_labels & b.hidden_labels)


class AccessPolicy:
    """The process-wide half of the access rules: the clock and the caches the per-request
    views share (facts about representation and care, emergency grants)."""

    def __init__(self, today: Any = None):
        from ehelse.access.care import CareFacts, EmergencyGrants

        self.facts = CareFacts()
        self.grants = EmergencyGrants()
        self._today = today  # a date, a callable returning one, or None for the real date
        # Admins and system clients: the view is made of the token alone (kind and scopes;
        # no facts, no date, nothing a request changes in it), so one per actor is reused.
        # Expiry and revocation are checked per request before (access/tokens.py verify).
        self._token_views: dict[int, tuple[Any, Any]] = {}  # id(actor) -> (actor, view)
        self._views_lock = threading.Lock()

    def today(self) -> date:
        if self._today is None:
            return date.today()
        return self._today() if callable(self._today) else self._today

    def view(self, repo: Any, actor: Any, *, facts_version: int | None = None) -> Any:
        """The actor's AccessView for one request. `facts_version`: the facts marker when the
        caller has read it already in this request (web/reads.py fetches it with the row)."""
        if actor.kind in ("admin", "system"):
            # By identity: the token service hands out one Actor per verified token, so a
            # look-up needs no hashing and comparing of the frozen dataclass's fields.
            found = self._token_views.get(id(actor))
            if found is not None and found[0] is actor:
                return found[1]  # before the import below: this is every such request but the first
        from ehelse.access.view import AccessView  # view.py imports this module

        if actor.kind in ("admin", "system"):
            view = AccessView.build(repo, actor, today=self.today(), facts=self.facts, grants=self.grants)
            with self._views_lock:
                while len(self._token_views) >= _TOKEN_VIEWS:  # the oldest goes
                    self._token_views.pop(next(iter(self._token_views)))
                self._token_views[id(actor)] = (actor, view)  # holds the actor: its id stays unique
            return view
        if actor.kind in ("patient", "practitioner"):  # the kinds whose view uses cached facts
            self.facts.sync(freshness.current(repo) if facts_version is None else facts_version)
        return AccessView.build(repo, actor, today=self.today(), facts=self.facts, grants=self.grants)
