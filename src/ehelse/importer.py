"""The import engine behind `ehelse import`: files and folders of FHIR JSON into a repository,
through the router, so every resource is validated and indexed as an API write would be.

What each input becomes:
    Bundle of type transaction or batch -> POST to the base, as one transaction/batch
                                           (http://hl7.org/fhir/R4/http.html#transaction):
                                           a transaction lands whole or not at all
    any other Bundle (collection, searchset, document, ...) -> each entry.resource on its own
    a single resource (.json)           -> one create-or-update
    NDJSON (.ndjson, .jsonl; also .gz)  -> one resource a line (http://hl7.org/fhir/R4/nd-json.html),
                                           each a create-or-update
create-or-update: PUT Type/id when the resource has an id (update-as-create keeps the id),
else POST Type.

The summary counts created and updated resources by type and lists each rejection with
where it was (file, line or entry) and why (the OperationOutcome's diagnostics).

Two cores at work: with more than one file, a helper process (forked, so it starts with this
process's loaded definitions) prepares the next transaction Bundle -- parse, reference
rewriting, validation (fhir/bundle.prepare_transaction), about half of an import's CPU --
while this process writes the current one (bundle.commit_transaction: the lookups only the
database can answer, the writes and their index rows, in one transaction). Files are still
written one after the other, in order, so a Bundle sees everything the files before it
stored (Synthea's patient Bundles refer to the hospital's by conditional references).
"""

from __future__ import annotations

import ctypes
import gzip
import multiprocessing
import os
import signal
import sys
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from ehelse.access.actor import SYSTEM
from ehelse.errors import FhirError
from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirRequest, FhirResponse

SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
IMPORT_BASE = "urn:ehelse:import"  # base_url of import requests: no HTTP origin to point at


@dataclass(slots=True)
class Rejection:
    where: str  # "path", "path:line" or "path#entry"
    reason: str


@dataclass(slots=True)
class ImportSummary:
    created: Counter = field(default_factory=Counter)  # resource type -> count
    updated: Counter = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    files: int = 0

    @property
    def total_created(self) -> int:
        return sum(self.created.values())

    @property
    def total_updated(self) -> int:
        return sum(self.updated.values())


def find_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The importable files under `paths` (files as given; folders walked, sorted by name)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


class Importer:
    """Imports into `repo` through `router` (default: the FHIR router). `progress(n)` is
    called with the number of bytes of input just handled, for a progress bar."""

    def __init__(self, repo: Any, settings: Any, router: Any = None,
                 progress: Callable[[int], None] | None = None, prepare_processes: int | None = None):
        from ehelse.fhir.router import Router

        if router is None:
            router = Router(settings)
        self.repo = repo
        self.router = router
        self.settings = settings
        self.progress = progress or (lambda n: None)
        self.summary = ImportSummary()
        if prepare_processes is None:  # one helper when there is a second core to run it
            prepare_processes = 1 if (os.cpu_count() or 1) > 1 else 0
        # Only the FHIR router can take a prepared Bundle; fork keeps the helper's start cheap;
        # Linux lets the helper die with the importer (_helper_init).
        if type(router) is not Router or not sys.platform.startswith("linux"):
            prepare_processes = 0
        self.prepare_processes = prepare_processes

    def run(self, paths: Iterable[str | os.PathLike]) -> ImportSummary:
        files = find_files(paths)
        if self.prepare_processes < 1 or len(files) < 2:
            for path in files:
                self.import_file(path)
            return self.summary
        # The settings reach the helper by fork (initargs are not pickled with fork).
        pool = ProcessPoolExecutor(self.prepare_processes, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_helper_init, initargs=(self.settings, os.getpid()))
        try:
            self._run_pipelined(files, pool)
        finally:
            pool.shutdown(cancel_futures=True)
        return self.summary

    def _run_pipelined(self, files: list[Path], pool: ProcessPoolExecutor) -> None:
        """Write file n while the helper prepares files n+1.. (at most one ahead per helper)."""
        waiting = iter(files)
        ahead: deque[tuple[Path, Future | None]] = deque()
        broken = False

        def fill() -> None:
            while len(ahead) <= self.prepare_processes:
                path = next(waiting, None)
                if path is None:
                    return
                bundle_like = not broken and path.name.endswith((".json", ".json.gz"))
                ahead.append((path, pool.submit(_prepare_file, str(path)) if bundle_like else None))

        fill()
        while ahead:
            path, future = ahead.popleft()
            fill()
            try:
                prepared = future.result() if future is not None else None
            except BrokenProcessPool:  # the helper died (killed, out of memory): go on alone
                broken, prepared = True, None
            if prepared is None or prepared[0] == "plain":
                self.import_file(path)
                continue
            kind, outline, result = prepared
            self.summary.files += 1
            if kind == "error":
                status, outcome = result
                self._reject_response(str(path), FhirResponse(status, resource=outcome))
            else:
                response = self._handle(self._request("POST", "", b""), result)
                self._count_transaction(path, response, outline)
            self.progress(path.stat().st_size)

    def import_file(self, path: Path) -> None:
        self.summary.files += 1
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
        if name.endswith((".ndjson", ".jsonl")):
            self._import_ndjson(path)
            return
        data = _read(path)
        if (bundle := _transaction_outline(data)) is not None:
            # the router parses and checks the bytes itself: no exact parse needed here
            self._import_transaction(path, data, bundle)
            self.progress(path.stat().st_size)
            return
        try:
            resource = jsoncodec.loads(data, max_depth=10_000)
        except FhirError as exc:
            self._reject(str(path), exc)
        else:
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                self.summary.rejected.append(Rejection(str(path), "not a FHIR resource (no resourceType)"))
            elif resource["resourceType"] == "Bundle" and resource.get("type") in ("transaction", "batch"):
                self._import_transaction(path, data, resource)
            elif resource["resourceType"] == "Bundle":
                for index, entry in enumerate(resource.get("entry") or []):
                    inner = entry.get("resource") if isinstance(entry, dict) else None
                    if isinstance(inner, dict):
                        self._upsert(f"{path}#{index}", inner)
            else:
                self._upsert(str(path), resource)
        self.progress(path.stat().st_size)

    def _import_ndjson(self, path: Path) -> None:
        for number, line in _lines(path):
            self.progress(len(line))
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                resource = jsoncodec.loads(line, max_depth=10_000)
            except FhirError as exc:
                self._reject(where, exc)
                continue
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                self.summary.rejected.append(Rejection(where, "not a FHIR resource (no resourceType)"))
                continue
            self._upsert(where, resource)

    def _upsert(self, where: str, resource: dict[str, Any]) -> None:
        type_ = resource["resourceType"]
        rid = resource.get("id")
        if isinstance(rid, str) and rid:
            request = self._request("PUT", f"{type_}/{rid}", jsoncodec.dumps(resource))
        else:
            request = self._request("POST", type_, jsoncodec.dumps(resource))
        response = self._handle(request)
        if response.status >= 400:
            self._reject_response(where, response)
            return
        (self.summary.created if response.status == 201 else self.summary.updated)[type_] += 1

    def _import_transaction(self, path: Path, data: bytes, bundle: dict[str, Any]) -> None:
        self._count_transaction(path, self._handle(self._request("POST", "", data)), bundle)

    def _count_transaction(self, path: Path, response: FhirResponse, bundle: dict[str, Any]) -> None:
        if response.status >= 400:  # a transaction failed as a whole: nothing of it was stored
            self._reject_response(str(path), response)
            return
        entries = (response.parsed() or {}).get("entry") or []
        for index, (entry, sent) in enumerate(zip(entries, bundle.get("entry") or [])):
            status = str((entry.get("response") or {}).get("status", ""))
            type_ = _entry_type(entry, sent)
            if status.startswith("201"):
                self.summary.created[type_] += 1
            elif status.startswith("2"):
                self.summary.updated[type_] += 1
            else:  # a failed batch entry: its own OperationOutcome says why
                outcome = (entry.get("response") or {}).get("outcome") or {}
                reasons = [i.get("diagnostics", "") for i in outcome.get("issue") or []]
                self.summary.rejected.append(Rejection(f"{path}#{index}", f"{status}: {'; '.join(reasons)}".strip()))

    def _handle(self, request: FhirRequest, prepared: Any = None) -> FhirResponse:
        # The router answers errors as OperationOutcome responses; a FhirError raised by a
        # simpler router is turned into the same.
        try:
            if prepared is not None:
                return self.router.handle(request, self.repo, prepared=prepared)
            return self.router.handle(request, self.repo)
        except FhirError as exc:
            return FhirResponse(exc.status, resource=exc.outcome(), interaction="error")

    @staticmethod
    def _request(method: str, path: str, body: bytes) -> FhirRequest:
        return FhirRequest(method=method, path=path, body=body, base_url=IMPORT_BASE, actor=SYSTEM,
                           headers={"content-type": "application/fhir+json", "prefer": "return=minimal"})

    def _reject(self, where: str, exc: FhirError) -> None:
        self._reject_response(where, FhirResponse(exc.status, resource=exc.outcome()))

    def _reject_response(self, where: str, response: FhirResponse) -> None:
        reasons = []
        for issue in (response.parsed() or {}).get("issue") or []:
            text = issue.get("diagnostics") or issue.get("code", "")
            expression = ", ".join(issue.get("expression") or [])
            if issue.get("severity") in ("error", "fatal"):
                reasons.append(f"{text} (at {expression})" if expression else text)
        self.summary.rejected.append(Rejection(where, f"{response.status}: {'; '.join(reasons)}"))


def _entry_type(entry: dict[str, Any], sent: dict[str, Any]) -> str:
    location = str((entry.get("response") or {}).get("location") or "")
    if location:
        parts = location.split("/")
        for i, part in enumerate(parts):
            if part[:1].isupper() and i + 1 < len(parts):
                return part
    resource = sent.get("resource") if isinstance(sent, dict) else None
    if isinstance(resource, dict) and resource.get("resourceType"):
        return str(resource["resourceType"])
    url = str((sent.get("request") or {}).get("url", "")) if isinstance(sent, dict) else ""
    return url.split("/")[0].split("?")[0] or "unknown"


_helper_settings: Any = None


def _helper_init(settings: Any, importer: int) -> None:
    """The helper dies with the importer: forked, it holds copies of the importer's sockets,
    so if it outlived a SIGKILLed importer, PostgreSQL would not see the connection close and
    the transaction in flight would stay open, with its locks, until the helper ended.
    PR_SET_PDEATHSIG (prctl(2), Linux) has the kernel SIGKILL it when the importer dies;
    an importer already gone before that took effect is caught by the parent pid check. A
    failure here breaks the pool, and the importer goes on without a helper."""
    global _helper_settings
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != importer:
        os._exit(0)
    _helper_settings = settings


def _prepare_file(path: str) -> tuple[str, Any, Any]:
    """In the helper process: a transaction Bundle file made ready for its database phase,
    as the router would (fhir/router.py _system, bundle.py), without touching the database.
    ("prepared", outline, PreparedTransaction) | ("error", outline, (status, outcome)) |
    ("plain", None, None): not a transaction Bundle, or something the router itself should
    answer (the importer then handles the file in-process, as without a helper)."""
    from ehelse.fhir.body import parse_resource
    from ehelse.fhir.bundle import prepare_transaction
    from ehelse.fhir.headers import check_format

    settings = _helper_settings
    data = _read(Path(path))
    outline = _transaction_outline(data)
    if outline is None or outline.get("type") != "transaction":
        return ("plain", None, None)
    slim = {"entry": [_slim_entry(e) for e in outline.get("entry") or []]}
    request = Importer._request("POST", "", data)
    try:
        check_format(request)
        bundle = parse_resource(request, settings, "Bundle")
        entries = bundle.get("entry") or []
        if bundle.get("type") != "transaction" or not isinstance(entries, list):
            return ("plain", None, None)
        return ("prepared", slim, prepare_transaction(settings, IMPORT_BASE, entries))
    except FhirError as exc:
        return ("error", slim, (exc.status, exc.outcome()))
    except Exception:  # a bug: let the router in the importer's process report it (500)
        return ("plain", None, None)


def _slim_entry(entry: Any) -> dict[str, Any]:
    """What counting the response needs of a sent entry (_entry_type): its resource's type
    and its request url; the rest need not travel back from the helper."""
    if type(entry) is not dict:
        return {}
    resource, request = entry.get("resource"), entry.get("request")
    slim: dict[str, Any] = {}
    if type(resource) is dict:
        slim["resource"] = {"resourceType": resource.get("resourceType")}
    if type(request) is dict:
        slim["request"] = {"url": request.get("url")}
    return slim


def _transaction_outline(data: bytes) -> dict[str, Any] | None:
    """A transaction or batch Bundle parsed quickly by orjson (floats inexact), or None for
    anything else or anything orjson refuses; then the exact parser decides and reports.
    The importer only reads the entries' types and request urls from it (to count the
    response's entries by type), while the router parses the bytes exactly, so the exact
    parse of the importer (~60 us per Synthea resource) is not needed for a transaction."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if (type(parsed) is dict and parsed.get("resourceType") == "Bundle"
            and parsed.get("type") in ("transaction", "batch")):
        return parsed
    return None


def _read(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            yield number, line


def summary_rows(summary: ImportSummary) -> list[tuple[str, int, int]]:
    """(type, created, updated) rows, sorted by type, for a table."""
    types = sorted(set(summary.created) | set(summary.updated))
    return [(t, summary.created[t], summary.updated[t]) for t in types]


__all__ = ["Importer", "ImportSummary", "Rejection", "find_files", "summary_rows"]
