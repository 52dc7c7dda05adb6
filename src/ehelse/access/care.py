"""Care relationships of health personnel (tjenstlig behov), and emergency access.

DOMAIN.md: a practitioner has a care relationship with a patient when the patient is on the
GP's list (`Patient.generalPractitioner` -> the GP's PractitionerRole), or has an active
Encounter, EpisodeOfCare, Appointment or ServiceRequest (referral) at the practitioner's
organisation. Without one, clinical data need a declared emergency purpose (ETREAT/BTG, HL7
v3 PurposeOfUse) and a reason: the access is then granted for EMERGENCY_MINUTES, recorded as
a grant (a `Basic` resource), and the patient is told (a `Communication` the citizen portal
shows). A named block (consent.py) holds even then.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from ehelse.access.lookup import find, find_versions, ref_id
from ehelse.fhir import jsoncodec
from ehelse.nobasis.seed.vocabulary import CONSENT_CATEGORY, CONSENT_EMERGENCY_NOTICE, EHELSE_CS, ENH, HPR
from ehelse.storage import budget
from ehelse.storage.sqlite.gate import ungated

EMERGENCY_MINUTES = 120  # how long one emergency grant lasts
GRANT_SYSTEM = EHELSE_CS + "access-grant"
GRANT_CODE = "emergency-access"
GRANT_IDENTIFIER = "urn:ehelse:emergency-access"  # value: <token id>:<patient id>
FACTS_TTL = 5.0  # seconds the care set of one practitioner is reused across requests
log = logging.getLogger("ehelse.access")

# Statuses that make each resource an ongoing care relationship.
ACTIVE = {
    "EpisodeOfCare": ("active", "waitlist", "onhold"),
    "Encounter": ("planned", "arrived", "triaged", "in-progress", "onleave"),
    "Appointment": ("proposed", "pending", "booked", "arrived", "checked-in", "waitlist"),
    "ServiceRequest": ("active", "on-hold"),
}


# Writes of these can start or end a care relationship (Patient: generalPractitioner).
CARE_TYPES = frozenset({*ACTIVE, "Patient"})


@dataclass(frozen=True, slots=True)
class Personnel:
    """A practitioner as the records know them: ids to match references against."""

    practitioner_id: str | None
    role_ids: frozenset[str]
    organization_ids: frozenset[str]

    def references(self) -> list[str]:
        refs = [f"PractitionerRole/{r}" for r in sorted(self.role_ids)]
        return refs + ([f"Practitioner/{self.practitioner_id}"] if self.practitioner_id else [])


def personnel(repo: Any, hpr: str, orgnr: str | None) -> Personnel:
    """The Practitioner with this HPR number, their roles (at the token's organisation when
    one is named) and that organisation."""
    found = find(repo, "Practitioner", identifier=f"{HPR}|{hpr}")
    practitioner_id = found[0]["id"] if found else None
    orgs = {o["id"] for o in find(repo, "Organization", identifier=f"{ENH}|{orgnr}")} if orgnr else set()
    roles = set()
    if practitioner_id:
        for role in find(repo, "PractitionerRole", practitioner=f"Practitioner/{practitioner_id}"):
            if role.get("active") is False:
                continue
            org = ref_id(role.get("organization"), "Organization")
            if not orgnr or org in orgs:
                roles.add(role["id"])
                if not orgnr and org:
                    orgs.add(org)
    return Personnel(practitioner_id, frozenset(roles), frozenset(orgs))


def care_patients(repo: Any, who: Personnel) -> set[str]:
    """Every patient the practitioner has a care relationship with now."""
    refs = who.references()
    orgs = [f"Organization/{o}" for o in sorted(who.organization_ids)]
    out: set[str] = set()
    # Speed at N=10,000 (issue 8): the GP list is read as ids without parsing, and the
    # other look-ups start from the `status` index: the active rows are few (no active
    # Encounter among a GP office's 237k finished ones), so Encounter drives from status
    # alone; the others start from both indexes (SQLite intersects the two `IN` lists),
    # which measured fastest for every demo role (CPU ms, GP/hospital/nurse at N=10,000:
    # Appointment 122/0.5/0.1 -> 45/1.4/0.2, Encounter 232/1.3/10 -> 0.2/0.1/0.1).
    if refs:
        out |= {v.id for v in find_versions(repo, "Patient", general_practitioner=refs)}
        out |= _patients(find_versions(repo, "Appointment", drive="status,actor", actor=refs,
                                       status=ACTIVE["Appointment"]), "participant")
    if orgs:
        out |= _patients(find_versions(repo, "EpisodeOfCare", drive="status,organization", organization=orgs,
                                       status=ACTIVE["EpisodeOfCare"]), "patient")
        out |= _patients(find_versions(repo, "Encounter", drive="status", service_provider=orgs,
                                       status=ACTIVE["Encounter"]), "subject")
    if refs or orgs:
        out |= _patients(find_versions(repo, "ServiceRequest", drive="status,performer", performer=refs + orgs,
                                       status=ACTIVE["ServiceRequest"]), "subject")
    return out


def _patients(versions: list[Any], element: str) -> set[str]:
    out = set()
    for version in versions:
        # orjson: only a reference is read here, so the exact codec (decimals kept as
        # written) is not needed; it stays the fallback should orjson refuse stored content.
        try:
            resource = orjson.loads(version.content)
        except orjson.JSONDecodeError:
            resource = jsoncodec.loads(version.content, max_depth=10_000)
        value = resource.get(element)
        for item in value if isinstance(value, list) else [value]:
            target = item.get("actor") if isinstance(item, dict) and "actor" in item else item
            patient = ref_id(target, "Patient")
            if patient:
                out.add(patient)
    return out


@dataclass
class _Cached:
    at: float
    value: Any


class CareFacts:
    """Per-process cache of personnel and care sets, so a clinician's searches do not
    recompute their patient list (tens of ms for a GP's list) on every request.

    Freshness: a write through the API of a type the facts are made of (freshness.FACT_TYPES:
    a block, a fullmakt, a referral) drops every cached fact at once (`changed`), and bumps
    the database's facts_version marker; every request first calls `sync()` with the marker,
    which drops the cache when another process moved it. So a change applies on the very
    next request everywhere. A value made while the cache was dropped is handed to its
    caller but not kept (it may predate the write).

    When a value is older than FACTS_TTL (facts that change by other means: data imported
    without the API), the requests keep it for at most another FACTS_TTL while it is made
    again in a background thread of this cache: no request waits for a GP's care set (45 ms
    of CPU at N=10,000, 150-230 ms of a page's time with 8 users; issue 8's p99). Without a
    value, or with one older than that, a request makes it, one per key at a time: the
    others wait for it instead of making the same set at once (8 threads at a start)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, _Cached] = {}
        self._lock = threading.Lock()
        self._making: dict[tuple, threading.Lock] = {}  # one maker per key
        self._refreshing: set[tuple] = set()
        self._generation = 0  # moved by every drop of the cache
        self._version: int | None = None  # the facts_version marker the cache was built under
        self._refresher: ThreadPoolExecutor | None = None
        self._refresher_pid = 0

    def get(self, key: tuple, make: Any) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit.at < FACTS_TTL:
            return hit.value
        if hit is not None and now - hit.at < 2 * FACTS_TTL:
            self._refresh(key, make)
            return hit.value
        maker = self._maker(key)
        budget.acquire(maker)  # on the event loop within a read budget: not for long (storage/budget.py)
        try:
            hit = self._cache.get(key)  # made by another request while this one waited
            if hit is not None and time.monotonic() - hit.at < FACTS_TTL:
                return hit.value
            return self._make(key, make)
        finally:
            maker.release()

    def _maker(self, key: tuple) -> threading.Lock:
        with self._lock:
            if len(self._making) > 10_000:
                self._making.clear()
            return self._making.setdefault(key, threading.Lock())

    def _make(self, key: tuple, make: Any) -> Any:
        started, generation = time.monotonic(), self._generation
        # Under this key's maker lock, which the event loop may wait for (an inline read by
        # id): this thread's SQLite reads must not queue at the reader gate meanwhile.
        with ungated():
            value = make()
        with self._lock:
            if generation == self._generation:  # no write dropped the cache meanwhile
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = _Cached(started, value)
        return value

    def _refresh(self, key: tuple, make: Any) -> None:
        """Make the value again in the background (once at a time per key)."""
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
            if self._refresher is None or self._refresher_pid != os.getpid():  # a forked worker: its own
                self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="access-facts")
                self._refresher_pid = os.getpid()
            refresher = self._refresher

        def work() -> None:
            try:
                with self._maker(key):
                    self._make(key, make)
            except Exception:  # the requests keep the old value meanwhile, then make it themselves
                log.debug("access facts %r: background refresh failed", key[:1], exc_info=True)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        refresher.submit(work)

    def _drop(self) -> None:
        """Under self._lock."""
        self._cache.clear()
        self._generation += 1

    def changed(self, type: str) -> None:
        """A resource of `type` was written: forget what it may have changed. Whole-cache:
        which patients' and practitioners' facts a Consent or a referral touches is itself
        costly to work out, and such writes are rare beside reads."""
        from ehelse.access.freshness import FACT_TYPES

        if type in FACT_TYPES:
            with self._lock:
                self._drop()

    def sync(self, version: int) -> None:
        """The database's facts_version as this request found it: a marker moved by any
        process means the cache was built on facts that may have changed."""
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._drop()
                    self._version = version


@dataclass
class EmergencyGrants:
    """Emergency grants (per token and patient), remembered in-process and recorded in
    the database so every server process honours the same grant and its end."""

    _until: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def active(self, repo: Any, actor: Any, who: Personnel, patient_id: str,
               now: datetime | None = None) -> bool:
        """True while the grant for this token and patient runs; makes the grant (with the
        patient's notification) on first use. False once it has run out."""
        now = now or datetime.now(timezone.utc)
        key = (actor.token_id or actor.subject, patient_id)
        until = self._until.get(key)
        if until is None:
            # Makes a grant (a write) or reads it back: not on the event loop within a read
            # budget, where the write's locks could hold every request (storage/budget.py).
            budget.refuse_wait()
            with self._lock, ungated():  # the loop may wait for this lock: no queue at the reader gate
                until = self._until.get(key) or self._recorded(repo, key) or self._grant(repo, actor, who, key, now)
                self._until[key] = until
        return now < until

    @staticmethod
    def _recorded(repo: Any, key: tuple[str, str]) -> datetime | None:
        for basic in find(repo, "Basic", identifier=f"{GRANT_IDENTIFIER}|{key[0]}:{key[1]}"):
            for ext in basic.get("extension") or []:
                if ext.get("url") == GRANT_SYSTEM + "#period":
                    end = (ext.get("valuePeriod") or {}).get("end")
                    if end:
                        return datetime.fromisoformat(end.replace("Z", "+00:00"))
        return None

    @staticmethod
    def _grant(repo: Any, actor: Any, who: Personnel, key: tuple[str, str], now: datetime) -> datetime:
        until = now + timedelta(minutes=EMERGENCY_MINUTES)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        author = ({"reference": f"Practitioner/{who.practitioner_id}"} if who.practitioner_id
                  else {"identifier": {"system": HPR, "value": actor.subject}})
        text = (f"Helsepersonell (HPR {actor.subject}) åpnet journalen din med nødrett ({actor.purpose}) "
                f"{stamp(now)}. Begrunnelse: {actor.reason}")
        from ehelse.audit.trail import trail_for

        # One transaction for the grant, the notice and the grant's audit row: all or none.
        with trail_for(repo).transaction():
            repo.create({
                "resourceType": "Basic",
                "identifier": [{"system": GRANT_IDENTIFIER, "value": f"{key[0]}:{key[1]}"}],
                "code": {"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE, "display": "Nødrett / akutt tilgang"}]},
                "subject": {"reference": f"Patient/{key[1]}"}, "created": now.date().isoformat(), "author": author,
                "extension": [{"url": GRANT_SYSTEM + "#period", "valuePeriod": {"start": stamp(now), "end": stamp(until)}},
                              {"url": GRANT_SYSTEM + "#reason", "valueString": actor.reason or ""},
                              {"url": GRANT_SYSTEM + "#purpose", "valueCode": actor.purpose or ""}],
            })
            # The patient is told (DOMAIN.md: shown to the patient, can notify them), unless
            # they chose no notice (the grant stays in their access log either way).
            if wants_notice(repo, key[1]):
                repo.create({
                    "resourceType": "Communication", "status": "completed",
                    "category": [{"coding": [{"system": GRANT_SYSTEM, "code": GRANT_CODE}]}],
                    "subject": {"reference": f"Patient/{key[1]}"}, "recipient": [{"reference": f"Patient/{key[1]}"}],
                    "sent": stamp(now), "sender": author, "payload": [{"contentString": text}],
                })
            # The grant's own audit row beside the access rows (the privacy officer reviews
            # grants: who, patient, purpose, reason, expiry), on the same chain, committed
            # with the grant, so it is durable before any data leaves.
            _audit_grant(repo, actor, key[1], stamp(until))
        return until


def _audit_grant(repo: Any, actor: Any, patient_id: str, until: str) -> None:
    """An AuditEvent (http://hl7.org/fhir/R4/auditevent.html) for the grant itself:
    subtype `operation` with the detail `emergency-access-grant until <expiry>`."""
    from ehelse.audit.events import audit_event
    from ehelse.audit.trail import trail_for  # audit imports access: imported late

    event = audit_event(actor, interaction="operation", patient_id=patient_id, what=[f"Patient/{patient_id}"],
                        relation="emergency", detail=f"{GRANT_CODE}-grant until {until}")
    trail_for(repo).record([event])


def wants_notice(repo: Any, patient_id: str) -> bool:
    """The patient's choice (a Consent of category emergency-notification; the newest active
    one counts): notified unless it says deny."""
    found = [c for c in find(repo, "Consent", patient=f"Patient/{patient_id}",
                             category=f"{CONSENT_CATEGORY}|{CONSENT_EMERGENCY_NOTICE[0]}") if c.get("status") == "active"]
    if not found:
        return True
    newest = max(found, key=lambda c: (c.get("dateTime") or "", (c.get("meta") or {}).get("lastUpdated") or ""))
    return (newest.get("provision") or {}).get("type") != "deny"
