"""The export engine: one Bulk Data export run, streamed to NDJSON files in bounded memory.

Spec: https://hl7.org/fhir/uv/bulkdata/STU2/export.html. What each level exports:
  system   every type the actor's scopes allow (or `_type`);
  patient  the resources in the Patient compartment (http://hl7.org/fhir/R4/compartmentdefinition-patient.html)
           of every patient, or of the `patient` parameter's patients;
  group    the same, for the Group's `member.entity` patients (and `patient` narrows them).

Resources come from the actor's SecuredRepository (access/repository.py): a system client
gets what its SMART scopes allow, every patient whose data leaves is audited there. Pages of
500 come from `iter_current` (keyset paging) or, for `_typeFilter`, from keyset-paged
searches; each resource is written as soon as it is read, so memory stays at one page
however large the export. Resources changed after the job's transactionTime are left out
(export.html#response---complete-status: "SHOULD NOT include any resources modified after
this instant"); the next `_since` export picks them up.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from ehelse.access.view import owners
from ehelse.bulk.request import ExportRequest
from ehelse.errors import FhirError, NotFound
from ehelse.fhir.search_request import parse_query_string, parse_request
from ehelse.search.registry import compartments
from ehelse.storage.protocol import ResourceVersion

PAGE = 500
AUDIT_BATCH = 1000
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}


class BatchedTrail:
    """The audit trail of an export: events are collected and written a batch at a time
    (one transaction per AUDIT_BATCH events instead of one per patient and type). No file
    is served before its manifest exists, and `ExportRun.run` flushes before it returns, so
    every patient's access is durable before any of their data can leave."""

    def __init__(self, trail: Any):
        self.trail = trail
        self.pending: list[dict[str, Any]] = []

    def record(self, events: list[dict[str, Any]]) -> list[str]:
        self.pending.extend(events)
        if len(self.pending) >= AUDIT_BATCH:
            self.flush()
        return []

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.trail.record(batch)

    def transaction(self) -> Any:
        return self.trail.transaction()


def secured(repo: Any, actor: Any) -> Any:
    """The actor's SecuredRepository for an export, auditing in batches."""
    from ehelse.access.repository import SecuredRepository
    from ehelse.audit.trail import trail_for

    return SecuredRepository(repo, actor, audit=BatchedTrail(trail_for(repo)))


class Cancelled(Exception):
    """The job was cancelled (or taken over by another worker) while it ran."""


@dataclass(slots=True)
class ExportResult:
    output: list[tuple[str, str, int]] = field(default_factory=list)  # (type, file name, count)
    error: list[tuple[str, int]] = field(default_factory=list)  # (file name, count)
    deleted: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(count for _, _, count in self.output)


def compartment_types() -> list[str]:
    return sorted({"Patient", *compartments()["Patient"]})


class ExportRun:
    """Run `request` as `repo`'s actor into `folder`. `progress(text, resources)` is called
    every page; it returns False when the job must stop (raises Cancelled)."""

    def __init__(self, repo: Any, request: ExportRequest, transaction_time: str, folder: str | os.PathLike,
                 settings: Any, progress: Callable[[str, int], bool] | None = None):
        self.repo = repo
        self.request = request
        self.transaction_time = transaction_time
        self.folder = Path(folder)
        self.settings = settings
        self.progress = progress or (lambda text, n: True)
        # this attempt's own partial files: a worker whose lease ran out (jobs.py) may still be
        # writing when another has taken the job over; with shared names the slower one's clean-up
        # deleted the other's half-written file and failed the job
        self.attempt = uuid.uuid4().hex[:12]
        self.written = 0
        self.problems: list[dict[str, Any]] = []

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> ExportResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        result = ExportResult()
        patients = self._patients()
        for type in self._types():
            try:
                count = self._write(f"{type}.ndjson", self._resources(type, patients))
            except FhirError as error:  # a type the scopes forbid, a bad _typeFilter: reported, not fatal
                self._problem(f"{type}: {error}", error.issues[0].code if error.issues else "exception")
                continue
            if count:
                result.output.append((type, f"{type}.ndjson", count))
        if self.request.since:
            count = self._write("deleted.ndjson", self._deletions(patients))
            if count:
                result.deleted.append(("deleted.ndjson", count))
        if self.problems:
            result.error.append(("OperationOutcome.ndjson", self._write("OperationOutcome.ndjson", iter(self.problems))))
        flush = getattr(getattr(self.repo, "audit", None), "flush", None)
        if flush is not None:
            flush()  # durable before the job is complete and its files can be fetched
        self.progress("done", self.written)
        return result

    def _problem(self, text: str, code: str) -> None:
        self.problems.append({"resourceType": "OperationOutcome",
                              "issue": [{"severity": "error", "code": code, "diagnostics": text}]})

    def _write(self, name: str, items: Iterator[Any]) -> int:
        """Write items (stored bytes or dicts) a line each; renamed into place when whole, and
        nothing left behind for an empty type."""
        target, partial = self.folder / name, self.folder / f".{name}.{self.attempt}.partial"
        count = 0
        try:
            with open(partial, "wb") as f:
                for item in items:
                    f.write(item if isinstance(item, bytes) else orjson.dumps(item))
                    f.write(b"\n")
                    count += 1
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if count:
            os.replace(partial, target)
        else:
            partial.unlink(missing_ok=True)
        return count

    # -- what to export -------------------------------------------------------------------------
    def _types(self) -> list[str]:
        if self.request.types:
            types = list(self.request.types)
        else:
            types = self.repo.types_present()
        if self.request.level != "system":
            allowed = set(compartment_types())
            types = [t for t in types if t in allowed]
        return types

    def _patients(self) -> set[str] | None:
        """The patients whose compartments are exported; None: every patient's."""
        request = self.request
        if request.level == "group":
            version = self.repo.read("Group", request.group or "")
            if version is None or version.deleted:
                raise NotFound(f"Group/{request.group} is not known")
            group = orjson.loads(version.content)
            members = {ref.partition("/")[2] for m in group.get("member") or []
                       if isinstance(ref := (m.get("entity") or {}).get("reference"), str) and ref.startswith("Patient/")}
            return members & set(request.patients) if request.patients else members
        if request.patients:
            return set(request.patients)
        return None

    def _resources(self, type: str, patients: set[str] | None) -> Iterator[bytes]:
        since, until, level = self.request.since, self.transaction_time, self.request.level
        elements = self._elements_for(type)
        for version in self._versions(type):
            if version.last_updated > until or (since is not None and version.last_updated <= since):
                continue
            if level != "system" or elements:
                resource = orjson.loads(version.content)
                if level != "system":
                    found = owners(resource)
                    if not found or (patients is not None and not found & patients):
                        continue
                yield orjson.dumps(_subset(resource, elements)) if elements else version.content
            else:
                yield version.content
            self.written += 1
            if self.written % PAGE == 0 and not self.progress(f"{type}: {self.written} resources", self.written):
                raise Cancelled()

    def _versions(self, type: str) -> Iterator[ResourceVersion]:
        filters = self.request.type_filters.get(type)
        if not filters:
            yield from self.repo.iter_current(type)
            return
        seen: set[str] | None = set() if len(filters) > 1 else None  # OR of filters: each once
        for text in filters:
            for version in self._search(type, text):
                if seen is not None:
                    if version.id in seen:
                        continue
                    seen.add(version.id)
                yield version

    def _search(self, type: str, text: str) -> Iterator[ResourceVersion]:
        """A `_typeFilter` query, page by page (keyset on lastUpdated, type, id)."""
        supported = self.repo.supported_search_params(type)
        parsed = parse_request(parse_query_string(text), self.settings, type, supported=supported, strict=True)
        query = parsed.query
        query.count, query.offset, query.total, query.sort, query.include = PAGE, 0, "none", [], []
        query.snapshot = self.transaction_time
        while True:
            page = self.repo.search(type, query)
            yield from page.entries
            if len(page.entries) < PAGE:
                return
            last = page.entries[-1]
            query.after = (last.last_updated, last.type, last.id)

    def _elements_for(self, type: str) -> set[str]:
        out = set()
        for element in self.request.elements:
            owner, dot, name = element.rpartition(".")
            if not dot or owner == type:
                out.add(name)
        return out

    def _deletions(self, patients: set[str] | None) -> Iterator[dict[str, Any]]:
        """Resources deleted since `_since`: a transaction Bundle with a DELETE entry each
        (export.html#response---complete-status, `deleted`)."""
        since, until = self.request.since, self.transaction_time
        inner = getattr(self.repo, "inner", self.repo)
        for type in self._types():
            offset = 0
            while True:
                try:
                    page = self.repo.history(type, since=since, count=PAGE, offset=offset)
                except FhirError:
                    break
                for version in page.entries:
                    if not version.deleted or version.last_updated <= since or version.last_updated > until:
                        continue
                    current = inner.read(type, version.id)
                    if current is None or current.version_id != version.version_id:
                        continue  # recreated since: its new version is in the output
                    if self.request.level != "system" and not self._was_in(inner, version, patients):
                        continue
                    yield {"resourceType": "Bundle", "type": "transaction",
                           "entry": [{"request": {"method": "DELETE", "url": f"{type}/{version.id}"}}]}
                if len(page.entries) < PAGE:
                    break
                offset += PAGE

    @staticmethod
    def _was_in(inner: Any, version: ResourceVersion, patients: set[str] | None) -> bool:
        previous = inner.vread(version.type, version.id, version.version_id - 1) if version.version_id > 1 else None
        if previous is None or previous.content is None:
            return False
        found = owners(orjson.loads(previous.content))
        return bool(found) and (patients is None or bool(found & patients))


def _subset(resource: dict[str, Any], elements: set[str]) -> dict[str, Any]:
    """`_elements`: the named elements plus the mandatory ones, tagged SUBSETTED
    (http://hl7.org/fhir/R4/search.html#elements)."""
    from ehelse.fhir.resource_types import mandatory_elements

    keep = elements | {"resourceType", "id", "meta"} | set(mandatory_elements(resource["resourceType"]))
    out = {k: v for k, v in resource.items() if k in keep or (k.startswith("_") and k[1:] in keep)}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out
