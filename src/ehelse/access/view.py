"""AccessView: one request's access, built from the actor and the policy.

It answers three questions for access/repository.py:
  - `rights(patient_id)`: what this actor may do with that patient's data (None: nothing);
  - `decide(resource)`: may this resource be seen (per resource, where it is cheap);
  - `condition(type, alias)`: the same rule as SQL over `resource <alias>`, so a search
    never reads other people's rows (it is compiled into the search, its chains and _has).
A resource belongs to the patients its Patient-compartment parameters refer to (the
official CompartmentDefinition, search/data/compartments.json).
"""

from __future__ import annotations

from collections import ChainMap
from functools import lru_cache
from datetime import date
from typing import Any, Callable

from ehelse.access import policy, schedules
from ehelse.access.care import CareFacts, EmergencyGrants, Personnel, care_patients, personnel
from ehelse.access.consent import blocking_patients, privacy_settings
from ehelse.access.lookup import ref_id, security_codes
from ehelse.access.policy import PUBLIC_TYPES, RIGHTS, Rights, personnel_rights
from ehelse.access.representation import find_patient, representations
from ehelse.access.scopes import Scopes
from ehelse.search.extract import extractors
from ehelse.search.registry import compartments

ADDRESS_LABELS = (policy.CONFIDENTIAL_ADDRESS, policy.STRICTLY_CONFIDENTIAL_ADDRESS)


def compartment_params(type: str) -> list[str]:
    return [p for p in compartments()["Patient"].get(type, []) if p != "{def}"]


@lru_cache(maxsize=None)
def _owner_extractors(type: str) -> tuple[Any, ...]:
    """The extractors of the type's Patient-compartment parameters (a handful of the type's
    dozens: asked for every row a search returns, so found once per type)."""
    wanted = set(compartment_params(type))
    return tuple(e for e in extractors(type) if e.code in wanted) if wanted else ()


def owners(resource: dict[str, Any]) -> set[str]:
    """The patients whose compartment the resource is in."""
    type = resource.get("resourceType")
    if type == "Patient":
        return {resource["id"]} if resource.get("id") else set()
    out: set[str] = set()
    if not isinstance(type, str):
        return out
    for extractor in _owner_extractors(type):
        for node in extractor.accessor(resource):
            id = ref_id(node, "Patient")
            if id:
                out.add(id)
    return out


def _literals(values) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))  # type names and codes from our own data


def _care_rights(facts: CareFacts, purpose: str | None, cared: Any, found_blocked: Any) -> tuple[frozenset[str], dict[str, Rights]]:
    """The practitioner's care set as rights, made once per (care set, blocks) pair rather
    than per request: a GP's list is hundreds of patients, and a dict of that size built on
    every read was most of what a clinician's read paid beyond an admin's (profiled, issue 6).
    Keyed by the identity of the cached sets it is made of, and holding them, so it is
    remade exactly when either is (a write of a fact type, a facts_version move, FACTS_TTL)."""
    key = ("care-rights", id(cared), id(found_blocked), purpose)

    def make() -> tuple[Any, Any, frozenset[str], dict[str, Rights]]:
        blocked = frozenset(found_blocked)
        rights = personnel_rights("care", purpose)
        return cared, found_blocked, blocked, {id: rights for id in cared if id not in blocked}

    made = facts.get(key, make)
    if made[0] is not cared or made[1] is not found_blocked:  # defensive: never another set's rights
        made = make()
    return made[2], made[3]


class AccessView:
    """Built once per request (AccessView.build); cheap to ask."""

    def __init__(self, actor: Any, kind: str, scopes: Scopes, *, patients: dict[str, Rights] | None = None,
                 who: Personnel | None = None, blocked: frozenset[str] = frozenset(),
                 resolve: Callable[[str], Rights | None] | None = None):
        self.actor = actor
        self.kind = kind  # admin | system | patient | practitioner | none (unknown: nothing)
        self.scopes = scopes
        self.patients = patients or {}  # clinical access known up front
        self.who = who
        self.blocked = blocked
        self._resolve = resolve  # personnel: care/emergency for a patient named in a request
        self.denied_reason: dict[str, str] = {}  # patient id -> why (for the 403 and the audit)
        self.emergency: set[str] = set()  # patients opened by emergency access in this request
        self.relations: dict[str, str] = {}  # citizens: patient id -> relation

    @classmethod
    def build(cls, repo: Any, actor: Any, *, today: date, facts: CareFacts, grants: EmergencyGrants) -> "AccessView":
        scopes = Scopes.of(tuple(actor.scopes))
        if actor.kind in ("admin", "system"):
            return cls(actor, actor.kind, scopes)
        if actor.kind == "patient":
            found = facts.get(("representations", actor.subject, today), lambda: representations(repo, actor.subject, today))
            patients = {id: RIGHTS[r.relation] for id, r in found.items()}
            context = facts.get(("context", actor.patient), lambda: _context_patient(repo, actor.patient))
            if context is not None and not any(s.context == "user" for s in scopes.scopes):
                # SMART patient/ scopes: the launch context is the one patient acted for.
                patients = {context: patients[context]} if context in patients else {}
            view = cls(actor, "patient", scopes, patients=patients)
            view.relations = {id: r.relation for id, r in found.items() if id in patients}
            return view
        if actor.kind != "practitioner":
            return cls(actor, "none", scopes)  # an actor kind the rules do not know: default deny
        who = facts.get(("personnel", actor.subject, actor.organization),
                        lambda: personnel(repo, actor.subject, actor.organization))
        cared = facts.get(("care", who), lambda: care_patients(repo, who))
        found_blocked = facts.get(("blocked", who, today), lambda: blocking_patients(repo, who.references(), today))
        blocked, care_rights = _care_rights(facts, actor.purpose, cared, found_blocked)
        # The shared mapping stays untouched: patients resolved in this request (emergency
        # access) go to the request's own layer in front of it.
        view = cls(actor, "practitioner", scopes, patients=ChainMap({}, care_rights), who=who, blocked=blocked)

        def resolve(patient_id: str) -> Rights | None:
            if patient_id in blocked:
                view.denied_reason[patient_id] = "blocked"
                return None
            if actor.purpose in policy.EMERGENCY_PURPOSES and actor.reason:
                if privacy_settings(repo, patient_id, today).reserved:
                    view.denied_reason[patient_id] = "reserved"
                    return None
                if grants.active(repo, actor, who, patient_id):
                    view.emergency.add(patient_id)
                    return personnel_rights("emergency", actor.purpose)
                view.denied_reason[patient_id] = "emergency-expired"
                return None
            view.denied_reason[patient_id] = "purpose-required"
            return None

        view._resolve = resolve
        return view

    @property
    def unrestricted(self) -> bool:
        return self.kind in ("admin", "system")

    def relation(self, patient_id: str) -> str | None:
        if self.kind == "patient":
            return self.relations.get(patient_id)
        if self.kind == "practitioner":
            if patient_id in self.emergency:
                return "emergency"
            return "care" if patient_id in self.patients else None
        return None

    def rights(self, patient_id: str) -> Rights | None:
        if self.unrestricted:
            return RIGHTS["self"]
        found = self.patients.get(patient_id)
        if found is None and self._resolve is not None:
            found = self._resolve(patient_id)
            if found is not None:
                self.patients[patient_id] = found
        return found

    # -- per resource -----------------------------------------------------------------------
    def may_see(self, resource: dict[str, Any], *, targeted: bool = False) -> tuple[bool, set[str]]:
        """(visible, patients touched). `targeted`: the request names this resource (a read),
        so personnel may open emergency access for its patient."""
        type = resource.get("resourceType")
        if self.kind == "system":  # a backend client: its SMART scopes are the whole rule
            return self.scopes.allows(type, "read", contexts=("system",)), owners(resource)
        if self.kind != "admin" and not self.scopes.allows(type, "read", contexts=self._contexts()):
            return False, set()
        if self.unrestricted or type in PUBLIC_TYPES:
            return True, (owners(resource) if type not in PUBLIC_TYPES else set())
        if type == "AuditEvent" and self.kind == "practitioner":
            return False, set()
        patients = owners(resource)
        if type == "Patient" and self.kind == "practitioner":
            return True, patients  # demographics to find the patient
        if not patients:  # outside every record: only a practitioner's Schedule is for everyone
            return schedules.is_directory(resource), patients
        labels = security_codes(resource)
        for patient_id in patients:
            rights = self.rights(patient_id) if (targeted or self.kind == "patient") else self.patients.get(patient_id)
            if rights and rights.read and type not in rights.hidden_types and not (labels & rights.hidden_labels):
                return True, patients
        return False, patients

    def may_write(self, resource: dict[str, Any], interaction: str) -> tuple[bool, set[str]]:
        type = resource.get("resourceType")
        if type == "AuditEvent":
            return False, set()  # read-only for everyone, admins included (DESIGN.md)
        if self.unrestricted:
            return True, owners(resource)
        if type in PUBLIC_TYPES or type == "Binary":
            return False, set()
        patients = owners(resource)
        if not patients:
            return False, patients
        for patient_id in patients:
            rights = self.rights(patient_id)
            if rights is None:
                continue
            if type == "Consent":
                if rights.consents:
                    return True, patients
                continue
            if self.kind == "patient" and ("update" if interaction == "patch" else interaction) \
                    not in policy.CITIZEN_WRITES.get(type, ()):
                continue
            if rights.write and type not in rights.hidden_types:
                return True, patients
        return False, patients

    def _contexts(self) -> tuple[str, ...]:
        """The SMART scope contexts that speak for this kind of actor."""
        return {"patient": ("patient", "user"), "practitioner": ("user", "patient"),
                "system": ("system",)}.get(self.kind, ())

    # -- as SQL ---------------------------------------------------------------------------
    def within(self, patients: set[str], alias: str, *, hide_confidential: bool = False) -> tuple[str, list[Any]] | None:
        """The rule for rows already confined to these patients' compartments (a compartment
        search, or `subject=`/`patient=` by a compartment parameter) when the actor may read
        all of them: only their hidden types and labels remain to filter. A search confined
        to one record then costs what it costs an admin."""
        parts: list[str] = []
        rights = [self.patients[p] for p in patients]
        hidden_types = frozenset.union(*(r.hidden_types for r in rights))
        hidden_labels = frozenset.union(*(r.hidden_labels for r in rights))
        if self.kind == "practitioner":
            parts.append(f"{alias}.type <> 'AuditEvent'")
        if hidden_types:
            parts.append(f"{alias}.type NOT IN ({_literals(hidden_types)})")
        if hidden_labels:
            parts.append(f"NOT EXISTS (SELECT 1 FROM token_index ts_{alias} WHERE ts_{alias}.type = {alias}.type"
                         f" AND ts_{alias}.id = {alias}.id AND ts_{alias}.param = '_security'"
                         f" AND ts_{alias}.code IN ({_literals(hidden_labels)}))")
        if hide_confidential:
            parts.append(self._confidential(alias))
        return (" AND ".join(parts), []) if parts else None

    @staticmethod
    def _confidential(a: str) -> str:
        return (f"NOT ({a}.type = 'Patient' AND EXISTS (SELECT 1 FROM token_index tc_{a}"
                f" WHERE tc_{a}.type = {a}.type AND tc_{a}.id = {a}.id AND tc_{a}.param = '_security'"
                f" AND tc_{a}.code IN ({_literals(ADDRESS_LABELS)})))")

    def condition(self, type: str | None, alias: str, *, hide_confidential: bool = False) -> tuple[str, list[Any]] | None:
        """The access rule as SQL over `resource <alias>`; None when nothing is filtered."""
        if self.unrestricted:
            types = self.scopes.readable_types(("system",)) if self.kind == "system" else None
            if types is None:
                return None
            return (f"{alias}.type IN ({_literals(types)})" if types else "1 = 0"), []
        a, ax = alias, f"ax_{alias}"
        if type is not None and not (type.isalpha() and type[:1].isupper()):
            type = None  # only resource type names are written into the SQL text
        parts, args = [f"{a}.type IN ({_literals(PUBLIC_TYPES)})"], []
        if type in (None, "Schedule"):
            parts.append(schedules.directory_condition(a))
        if self.kind == "practitioner":
            parts.append(f"{a}.type = 'Patient'")
        elif self.patients:
            parts.append(f"({a}.type = 'Patient' AND {a}.id IN ({', '.join('?' * len(self.patients))}))")
            args += sorted(self.patients)
        groups: dict[Rights, list[str]] = {}
        # Personnel searching Patients: `type = 'Patient'` above admits every row already
        # (demographics, to find the patient), so the GP's list adds nothing but cost; not
        # even a walk over it (a thousand entries of a ChainMap: 0.45 ms of a type-ahead).
        if not (self.kind == "practitioner" and type == "Patient"):
            for patient_id, rights in self.patients.items():
                if rights.read:
                    groups.setdefault(rights, []).append(patient_id)
        for rights, ids in sorted(groups.items(), key=lambda kv: sorted(kv[1])):
            # Uncorrelated: the database computes the members of these compartments once
            # and tests each row against that set (a correlated EXISTS per row cost a GP
            # with a long list ten times more: bench/access_bench.py, search-all).
            marks = ", ".join("?" * len(ids))
            if type is not None:
                member = (f"{a}.type = '{type}' AND {a}.id IN (SELECT {ax}.id FROM reference_index {ax}"
                          f" WHERE {ax}.type = '{type}' AND {self._params(type, ax)} AND {ax}.target_type = 'Patient'"
                          f" AND {ax}.target_id IN ({marks}))")
            else:
                member = (f"({a}.type, {a}.id) IN (SELECT {ax}.type, {ax}.id FROM reference_index {ax}"
                          f" WHERE {self._params(None, ax)} AND {ax}.target_type = 'Patient'"
                          f" AND {ax}.target_id IN ({marks}))")
            args += sorted(ids)
            if self.kind == "practitioner":
                member += f" AND {a}.type <> 'AuditEvent'"
            if rights.hidden_types:
                member += f" AND {a}.type NOT IN ({_literals(rights.hidden_types)})"
            if rights.hidden_labels:
                member += (f" AND NOT EXISTS (SELECT 1 FROM token_index ts_{a} WHERE ts_{a}.type = {a}.type"
                           f" AND ts_{a}.id = {a}.id AND ts_{a}.param = '_security'"
                           f" AND ts_{a}.code IN ({_literals(rights.hidden_labels)}))")
            parts.append(f"({member})")
        sql = "(" + " OR ".join(parts) + ")"
        scoped = self.scopes.readable_types(self._contexts())
        if scoped is not None:  # narrower scopes than `*`: only those types, whatever the search
            sql += f" AND {a}.type IN ({_literals(scoped)})" if scoped else " AND 1 = 0"
        if hide_confidential:  # an address search must not find people whose address is hidden
            sql += " AND " + self._confidential(a)
        return sql, args

    @staticmethod
    def _params(type: str | None, ax: str) -> str:
        if type is not None:
            params = compartment_params(type)
            return f"{ax}.param IN ({_literals(params)})" if params else "1 = 0"
        by_type = " OR ".join(f"({ax}.type = '{t}' AND {ax}.param IN ({_literals(p)}))"
                              for t, p in sorted(compartments()["Patient"].items()) if compartment_params(t))
        return f"({by_type})"

    # -- confidential addresses --------------------------------------------------------------
    def hides_address_of(self, patient: dict[str, Any]) -> bool:
        """DOMAIN.md: a confidential address (kode 7) is shown only to the person and to
        personnel who need it (a care relationship); a strictly confidential one (kode 6)
        to no one in the portals or the API but admin and system clients."""
        labels = security_codes(patient) & set(ADDRESS_LABELS)
        if not labels or self.unrestricted:
            return False
        if policy.STRICTLY_CONFIDENTIAL_ADDRESS in labels:
            return True
        relation = self.relation(patient.get("id", ""))
        return relation not in ("self", "care")


def _context_patient(repo: Any, value: Any) -> str | None:
    """The SMART `patient` claim: a Patient id, or (as `ehelse token --for` writes it) an FNR."""
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit() and len(value) == 11:
        found = find_patient(repo, value)
        return found["id"] if found else "-"
    return value
