"""Indicators the platform computes live from its own data (strategy goal 5).

Each indicator is a function over the stored resources (streamed with `iter_current`, one
resource at a time) that gives a share or a rate, plus, where it is broken down (by
municipality), a table that goes through small-cell suppression (analytics/suppress.py)
before anyone sees it. Each has its definition one click away: the ViewDefinition from the
analytics library it reads (where there is one) and the formula in words.

Counts are of the platform's own population (the patients it holds), so "share of citizens"
means share of the Patients stored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import orjson

from ehelse.analytics import library
from ehelse.analytics.runner import run_view
from ehelse.analytics.suppress import crosstab, suppress
from ehelse.analytics.viewdefinition import parse_view


@dataclass(slots=True)
class Result:
    value: float | None  # the share in % or the rate; None when there is nothing to count
    numerator: int
    denominator: int
    table: dict[str, Any] | None = None  # a suppressed crosstab's published() form
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Definition:
    key: str
    formula: str  # in Norwegian: what is counted over what
    view: str | None  # the library ViewDefinition it reads, if any
    compute: Callable[[Any, int], Result]
    more_views: tuple[str, ...] = ()  # further library views it reads (one view is one resource type)

    @property
    def views(self) -> tuple[str, ...]:
        return ((self.view,) if self.view else ()) + self.more_views


def _resources(repo: Any, type: str) -> Iterator[dict[str, Any]]:
    if type == "AuditEvent":  # the audit trail is a log, rendered as AuditEvents (audit/record.py)
        from ehelse.audit import log
        from ehelse.audit.record import render

        yield from (render(row) for row in log.select(repo, log.LogQuery(newest_first=False)))
        return
    for version in repo.iter_current(type):
        yield orjson.loads(version.content)


def _patients(repo: Any) -> set[str]:
    return {v.id for v in repo.iter_current("Patient")}


def _share(hits: set[str], patients: set[str]) -> Result:
    hits &= patients
    return Result(100.0 * len(hits) / len(patients) if patients else None, len(hits), len(patients))


def _ref(value: Any) -> str | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref.split("/", 1)[1] if isinstance(ref, str) and ref.startswith("Patient/") else None


def _since_12_months() -> str:
    return (datetime.now(timezone.utc) - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S")


def portal_use(repo: Any, threshold: int) -> Result:
    """Citizens whose own login shows in the audit trail in the last 12 months."""
    since, users = _since_12_months(), set()
    for event in _resources(repo, "AuditEvent"):
        if event.get("recorded", "") < since:
            continue
        for agent in event.get("agent") or []:
            if agent.get("requestor") and any(r.get("text") == "patient" for r in agent.get("role") or []):
                for entity in event.get("entity") or []:
                    if (who := _ref(entity.get("what"))) is not None:
                        users.add(who)
    return _share(users, _patients(repo))


def acting_for(repo: Any, threshold: int) -> Result:
    """Citizens who hold a fullmakt or parental responsibility for someone (RelatedPerson
    linked to their own Patient)."""
    holders = set()
    for related in _resources(repo, "RelatedPerson"):
        for extension in [*(related.get("extension") or []), *((related.get("patient") or {}).get("extension") or [])]:
            if "relatedperson-person-reference" in extension.get("url", ""):
                if (who := _ref(extension.get("valueReference"))) is not None:
                    holders.add(who)
    return _share(holders, _patients(repo))


def gp_messages(repo: Any, threshold: int) -> Result:
    """Messages from citizens that got a digital answer (a Communication inResponseTo it)."""
    asked, answered = set(), set()
    for message in _resources(repo, "Communication"):
        for ref in message.get("inResponseTo") or []:
            answered.add(str(ref.get("reference", "")).split("/")[-1])
        if _ref(message.get("sender")) and not message.get("inResponseTo"):
            asked.add(message["id"])
    result = Result(100.0 * len(asked & answered) / len(asked) if asked else None, len(asked & answered), len(asked))
    return result


def _view_rows(repo: Any, name: str) -> Iterator[dict[str, Any]]:
    """The rows of a library view over the stored data, computed by the analytics engines
    (DuckDB, falling back to the in-process runner for what it cannot compile): the number
    on the page is the view's result, not a second hand-written count."""
    from ehelse.analytics.engines import run as run_engine
    from ehelse.analytics.sources import RepositorySource

    return run_engine(parse_view(library.load(name)), RepositorySource(repo), engine="duckdb").rows


def _suppressed_share(hits: set[str], patients: set[str], threshold: int) -> Result:
    """A share whose count, or the count of the rest, is a small cell (1..threshold-1) is not
    published: either would single out a handful of people (analytics/suppress.py's rule)."""
    result = _share(hits, patients)
    rest = result.denominator - result.numerator
    if 0 < result.numerator < threshold or 0 < rest < threshold:
        return Result(None, 0, result.denominator, notes=[f"small cell suppressed (< {threshold})"])
    return result


def medication_list(repo: Any, threshold: int) -> Result:
    """Patients with a current medication list: rows of the library view medication_lists
    with status current and code medications."""
    having = {row["patient_id"] for row in _view_rows(repo, "medication_lists")
              if row.get("status") == "current" and row.get("list_code") == "medications" and row.get("patient_id")}
    return _suppressed_share(having, _patients(repo), threshold)


def shared_documents(repo: Any, threshold: int) -> Result:
    """Documents whose custodian is another organisation than the author's."""
    total = shared = 0
    for document in _resources(repo, "DocumentReference"):
        total += 1
        custodian = (document.get("custodian") or {}).get("reference")
        authors = {a.get("reference") for a in document.get("author") or []}
        if custodian and authors and custodian not in authors:
            shared += 1
    return Result(100.0 * shared / total if total else None, shared, total)


def self_reported(repo: Any, threshold: int) -> Result:
    """Citizens with a home measurement (library view self_measurements: an Observation the
    patient performed) or a questionnaire answer (questionnaire_answers: one they authored)."""
    who = {row["patient_id"] for row in _view_rows(repo, "self_measurements")
           if row.get("patient_id") and row.get("performer_patient_id") == row["patient_id"]}
    who |= {row["patient_id"] for row in _view_rows(repo, "questionnaire_answers")
            if row.get("patient_id") and row.get("author_patient_id") == row["patient_id"]}
    return _suppressed_share(who, _patients(repo), threshold)


def emergency_access(repo: Any, threshold: int) -> Result:
    """AuditEvents of emergency access (purpose ETREAT or BTG) per 10,000 audited accesses."""
    total = emergency = 0
    for event in _resources(repo, "AuditEvent"):
        total += 1
        purposes = {c.get("code") for a in event.get("agent") or [] for p in a.get("purposeOfUse") or []
                    for c in p.get("coding") or []}
        if purposes & {"ETREAT", "BTG"}:
            emergency += 1
    return Result(10_000.0 * emergency / total if total else None, emergency, total)


def vaccination_coverage(repo: Any, threshold: int) -> Result:
    """Patients with at least one completed Immunization, by municipality (kommune), from the
    library views patient_demographics and vaccinations; small cells suppressed."""
    demographics = parse_view(library.load("patient_demographics"))
    vaccinations = parse_view(library.load("vaccinations"))
    vaccinated = {row["patient_id"] for row in run_view(vaccinations, _resources(repo, "Immunization"))
                  if row.get("status") == "completed"}
    records = [{"kommune": row.get("kommune") or "ukjent", "vaksinert": "ja" if row["patient_id"] in vaccinated else "nei"}
               for row in run_view(demographics, _resources(repo, "Patient"))]
    table = suppress(crosstab(records, "kommune", "vaksinert"), threshold)
    hits = sum(1 for r in records if r["vaksinert"] == "ja")
    return Result(100.0 * hits / len(records) if records else None, hits, len(records), table.published())


DEFINITIONS: dict[str, Definition] = {d.key: d for d in (
    Definition("portal_use", "innbyggere med egen innlogging i revisjonssporet siste 12 måneder / alle innbyggere", None, portal_use),
    Definition("acting_for", "innbyggere som er registrert som pårørende/fullmektig (RelatedPerson) / alle innbyggere", None, acting_for),
    Definition("gp_messages", "meldinger fra innbyggere som har fått digitalt svar (Communication.inResponseTo) / meldinger fra innbyggere", None, gp_messages),
    Definition("medication_list", "pasienter med gjeldende legemiddelliste (List code=medications, status=current) / alle pasienter", "medication_lists", medication_list),
    Definition("shared_documents", "dokumenter der forvalter er en annen enn forfatter / alle dokumenter", None, shared_documents),
    Definition("self_reported", "innbyggere med egne målinger (Observation utført av pasienten selv) eller egne skjemasvar / alle innbyggere", "self_measurements", self_reported,
               ("questionnaire_answers",)),
    Definition("emergency_access", "revisjonshendelser med formål ETREAT/BTG × 10 000 / alle revisjonshendelser", None, emergency_access),
    Definition("vaccination_coverage", "pasienter med minst én fullført vaksinasjon / alle pasienter, per kommune", "vaccinations", vaccination_coverage),
)}


def compute(repo: Any, key: str, threshold: int) -> Result | None:
    definition = DEFINITIONS.get(key)
    return definition.compute(repo, threshold) if definition else None
