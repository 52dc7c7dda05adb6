"""Batch and transaction Bundles POSTed to the base (http://hl7.org/fhir/R4/http.html#transaction).

Transaction: all entries in ONE repository transaction; any failure rolls everything back
and the answer is that failure's OperationOutcome. Before writing, every POST gets its id,
conditional creates/updates find their targets, `urn:uuid:`/`urn:oid:` fullUrls and
conditional references are resolved, and every reference is rewritten (references.py).
Entries run in the order DELETE, POST, PUT/PATCH, GET (http.html#trules); the response
lists them in request order. Batch: each entry on its own (its own transaction), failures
reported in that entry's response; no references between entries are resolved (spec).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from ehelse.errors import BadRequest, FhirError, Issue, PreconditionFailed, operation_outcome
from ehelse.fhir import conditional, interactions
from ehelse.fhir.body import validation_issues
from ehelse.fhir.bundle_entry import PROCESSING_ORDER, BundleEntry, parse_entry
from ehelse.fhir.headers import parse_http_date, prefer_return
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle as make_bundle
from ehelse.fhir.references import rewrite
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.search_request import parse_query_string
from ehelse.storage.stamp import new_id
from ehelse.storage.unavailable import unavailable

Dispatch = Callable[[Context], FhirResponse]
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Payload Too Large",
            415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}


def process_bundle(ctx: Context, bundle: dict[str, Any], dispatch: Dispatch) -> FhirResponse:
    kind = bundle.get("type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest("Bundle.entry must be an array", code="structure", expression="Bundle.entry")
    if kind == "transaction":
        return transaction(ctx, entries, dispatch)
    if kind == "batch":
        return batch(ctx, entries, dispatch)
    raise BadRequest(f"The base URL processes batch and transaction Bundles, not {str(kind)[:40]!r}; "
                     "to store a Bundle as a resource, POST it to /Bundle", code="value", expression="Bundle.type")


def _entry_context(ctx: Context, entry: BundleEntry) -> Context:
    headers = dict(entry.headers)
    if ctx.request.header("prefer"):
        headers["prefer"] = ctx.request.headers["prefer"]
    request = FhirRequest(entry.method, entry.path, entry.query, headers, b"", ctx.request.base_url,
                          ctx.request.actor, ctx.request.request_id, in_bundle=True)
    return Context(ctx.settings, ctx.repo, request)


def _execute(ctx: Context, entry: BundleEntry, dispatch: Dispatch, plan: dict[int, Any],
             issues: list[Issue] | None = None) -> FhirResponse:
    """One entry's interaction. `plan` holds what a transaction decided beforehand per entry,
    `issues` what validating its resource found (None: validate it now)."""
    sub = _entry_context(ctx, entry)
    decided = plan.get(entry.index)
    if entry.method == "POST":
        if decided is not None and decided[0] == "existing":
            return conditional.existing_response(sub, decided[1])
        if decided is not None:
            return interactions.create(sub, entry.type, entry.resource, id=decided[1], issues=issues)
        if "if-none-exist" in entry.headers:
            return conditional.conditional_create(sub, entry.type, entry.resource,
                                                  entry.headers["if-none-exist"].lstrip("?"))
        return interactions.create(sub, entry.type, entry.resource)
    if entry.method == "PUT":
        if decided is not None:  # a conditional update resolved to this id
            entry.resource["id"] = decided[1]
            return interactions.update(sub, entry.type, decided[1], entry.resource, issues=issues)
        if entry.id is not None:
            return interactions.update(sub, entry.type, entry.id, entry.resource, issues=issues)
        return conditional.conditional_update(sub, entry.type, entry.resource, entry.criteria)
    if entry.method == "PATCH":
        if entry.id is not None:
            return interactions.patch(sub, entry.type, entry.id, entry.patch)
        return conditional.conditional_patch(sub, entry.type, entry.patch, entry.criteria)
    if entry.method == "DELETE":
        if entry.id is not None:
            return interactions.delete(sub, entry.type, entry.id)
        return conditional.conditional_delete(sub, entry.type, entry.criteria)
    return dispatch(sub)


def _response_entry(ctx: Context, entry: BundleEntry | None, response: FhirResponse) -> dict[str, Any]:
    import orjson

    result: dict[str, Any] = {}
    location = response.headers.get("location")
    if location:
        result["fullUrl"] = location.split("/_history/")[0]
    if response.body is not None:
        result["resource"] = orjson.Fragment(response.body)
    elif response.resource is not None:
        result["resource"] = response.resource
    outcome: dict[str, Any] = {"status": f"{response.status} {_REASONS.get(response.status, '')}".strip()}
    if location:
        outcome["location"] = location[len(ctx.base_url) + 1:] if location.startswith(ctx.base_url + "/") else location
    if "etag" in response.headers:
        outcome["etag"] = response.headers["etag"]
    if "last-modified" in response.headers:
        outcome["lastModified"] = parse_http_date(response.headers["last-modified"], "Last-Modified")
    result["response"] = outcome
    return result


def _error_entry(error: FhirError) -> dict[str, Any]:
    status = f"{error.status} {_REASONS.get(error.status, '')}".strip()
    return {"response": {"status": status, "outcome": error.outcome()}}


def _located(error: FhirError, where: str) -> FhirError:
    """The error with its issues pointing into the Bundle entry that failed."""
    for issue in error.issues:
        issue.expression = f"{where}.resource.{issue.expression}" if issue.expression and not \
            issue.expression.startswith("Bundle.") else (issue.expression or where)
        if not issue.diagnostics.startswith(where):
            issue.diagnostics = f"{where}: {issue.diagnostics}"
    return error


def _respond(ctx: Context, kind: str, items: list[dict[str, Any]]) -> FhirResponse:
    from ehelse.fhir import jsoncodec

    body = make_bundle(kind, None, [], items)
    del body["link"]
    return FhirResponse(200, body=jsoncodec.dumps(body), interaction=kind.split("-")[0])


def batch(ctx: Context, raw_entries: list[Any], dispatch: Dispatch) -> FhirResponse:
    items: list[dict[str, Any] | None] = [None] * len(raw_entries)
    parsed: list[BundleEntry] = []
    for index, raw in enumerate(raw_entries):
        try:
            parsed.append(parse_entry(index, raw, ctx.base_url))
        except FhirError as error:
            items[index] = _error_entry(_located(error, f"Bundle.entry[{index}]"))
    for entry in sorted(parsed, key=lambda e: PROCESSING_ORDER[e.method]):
        try:
            with ctx.repo.transaction():
                items[entry.index] = _response_entry(ctx, entry, _execute(ctx, entry, dispatch, {}))
        except FhirError as error:
            items[entry.index] = _error_entry(_located(error, entry.where))
        except Exception as exc:
            # An entry the database could not take now (storage/unavailable.py) is that
            # entry's 503, rolled back alone: the entries before it stand, so the client must
            # learn which did (http.html#transaction: a batch reports each entry's outcome).
            busy = unavailable(exc)
            if busy is None:
                raise
            items[entry.index] = _error_entry(_located(busy, entry.where))
    return _respond(ctx, "batch-response", items)


def transaction(ctx: Context, raw_entries: list[Any], dispatch: Dispatch) -> FhirResponse:
    return commit_transaction(ctx, prepare_transaction(ctx.settings, ctx.base_url, raw_entries), dispatch)


class _Targets(dict):
    """fullUrl or criteria -> `Type/id` target, remembering whether a lookup answered with a
    placeholder (a target only the database can decide), so only the entries that hold one
    are walked again once it is decided."""

    __slots__ = ("placeholders", "hit")

    def __init__(self) -> None:
        super().__init__()
        self.placeholders: set[str] = set()
        self.hit = False

    def __getitem__(self, key: str) -> str:
        target = dict.__getitem__(self, key)
        if target in self.placeholders:
            self.hit = True
        return target

    def get(self, key: str, default: Any = None) -> Any:  # narrative links (references.py)
        return self[key] if key in self else default


@dataclass(slots=True)
class PreparedTransaction:
    """A transaction Bundle checked, rewritten and validated without the database, so that
    the write transaction (commit_transaction) holds the write lock only for the lookups and
    writes, and an importer can prepare the next Bundle in another process meanwhile.

    What only the database can decide -- the targets of conditional creates and updates
    (If-None-Exist, PUT Type?criteria) and of conditional references -- is written as a
    placeholder `Type/<id>` (a fresh random id of the same type, so validation judges the
    reference's type exactly as it will be stored) and replaced in commit_transaction."""

    entries: list[BundleEntry]
    plan: dict[int, Any]  # entry index -> ("create", new id) for plain POSTs
    lookups: list[tuple[int, str]]  # (entry index, placeholder target) of conditional POST/PUT
    references: dict[str, tuple[str, int]]  # conditional reference -> (placeholder, first entry)
    marked: set[int]  # entries that hold a placeholder
    body_ids: dict[int, Any]  # conditional PUT: the body's id as sent
    issues: dict[int, list[Issue]]  # entry index -> validation issues (raised when written)


def prepare_transaction(settings: Any, base_url: str, raw_entries: list[Any]) -> PreparedTransaction:
    """Phase one of a transaction (http.html#trules), no database: parse the entries, give
    every plain POST its id, rewrite references (placeholders where the database decides)
    and validate each resource to be written."""
    entries = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(parse_entry(index, raw, base_url))
        except FhirError as error:
            raise _located(error, f"Bundle.entry[{index}]")
    stem = "p" + uuid.uuid4().hex + "-"
    count = 0

    def placeholder(type: str) -> str:
        nonlocal count
        count += 1
        target = f"{type}/{stem}{count}"
        mapping.placeholders.add(target)
        return target

    mapping = _Targets()
    plan: dict[int, Any] = {}
    lookups: list[tuple[int, str]] = []
    body_ids: dict[int, Any] = {}
    for entry in entries:
        try:
            if entry.method == "POST":
                criteria = entry.headers.get("if-none-exist")
                if criteria:
                    target = placeholder(entry.type)
                    lookups.append((entry.index, target))
                    mapping[_criteria_key(entry.type, criteria.lstrip("?"))] = target
                else:
                    plan[entry.index] = ("create", new_id())
                    target = f"{entry.type}/{plan[entry.index][1]}"
            elif entry.method == "PUT" and entry.id is None:
                target = placeholder(entry.type)
                lookups.append((entry.index, target))
                body_ids[entry.index] = entry.resource.get("id")
                mapping[_criteria_key(entry.type, _query_text(entry))] = target
            elif entry.method in ("PUT", "PATCH", "DELETE") and entry.id is not None:
                target = f"{entry.type}/{entry.id}"
            else:
                continue
        except FhirError as error:
            raise _located(error, entry.where)
        if entry.full_url:
            mapping[entry.full_url] = target
    references: dict[str, tuple[str, int]] = {}
    marked: set[int] = set()
    current: list[int] = [0]

    def conditional_reference(reference: str) -> str:
        """`Type?criteria`: an entry of this Bundle with the same criteria, else a placeholder
        for the one match in the store (looked up in commit_transaction)."""
        type, _, criteria = reference.partition("?")
        key = _criteria_key(type, criteria)
        if key in mapping:
            return mapping[key]
        if reference not in references:
            references[reference] = (placeholder(type), current[0])
        mapping.hit = True
        return references[reference][0]

    issues: dict[int, list[Issue]] = {}
    for entry in entries:
        current[0] = entry.index
        mapping.hit = False
        try:
            rewrite(entry.resource if entry.resource is not None else entry.patch, mapping, conditional_reference)
        except FhirError as error:
            raise _located(error, entry.where)
        if mapping.hit:
            marked.add(entry.index)
        if entry.method == "POST":
            entry.resource.pop("id", None)  # create ignores it (interactions.create)
        if entry.method in ("POST", "PUT"):
            issues[entry.index] = validation_issues(entry.resource, settings)
    return PreparedTransaction(entries, plan, lookups, references, marked, body_ids, issues)


def commit_transaction(ctx: Context, prepared: PreparedTransaction, dispatch: Dispatch) -> FhirResponse:
    """Phase two, in ONE repository transaction: DELETEs, then the lookups that decide the
    placeholders, then POST, PUT/PATCH and GET in that order (http.html#trules); any failure
    rolls everything back."""
    entries = prepared.entries
    order = sorted(entries, key=lambda e: PROCESSING_ORDER[e.method])
    responses: dict[int, FhirResponse] = {}
    current: BundleEntry | None = None
    try:
        with ctx.repo.transaction():
            for current in (e for e in order if e.method == "DELETE"):
                responses[current.index] = _execute(ctx, current, dispatch, {})
            current = None
            plan = _resolve(ctx, prepared)
            _check_overlap(entries, plan)
            for current in (e for e in order if e.method != "DELETE"):
                responses[current.index] = _execute(ctx, current, dispatch, plan,
                                                    prepared.issues.get(current.index))
    except FhirError as error:
        raise _located(error, current.where) if current is not None else error
    return _respond(ctx, "transaction-response", [_response_entry(ctx, e, responses[e.index]) for e in entries])


def _resolve(ctx: Context, prepared: PreparedTransaction) -> dict[int, Any]:
    """Decide the identities only the store can (conditional creates and updates, in entry
    order, then conditional references), and put them where the placeholders are."""
    plan = dict(prepared.plan)
    decided: dict[str, str] = {}  # placeholder -> Type/id
    entries = prepared.entries
    for index, placeholder in prepared.lookups:
        entry = entries[index]
        try:
            sub = _entry_context(ctx, entry)
            if entry.method == "POST":
                criteria = entry.headers["if-none-exist"].lstrip("?")
                found = conditional.one_or_none(sub, entry.type, criteria, "ifNoneExist")
                plan[index] = ("existing", found) if found else ("create", new_id())
                decided[placeholder] = f"{entry.type}/{found.id if found else plan[index][1]}"
            else:
                found = conditional.one_or_none(sub, entry.type, entry.criteria, "Conditional update")
                body_id = prepared.body_ids.get(index)
                if found is not None and body_id is not None and body_id != found.id:
                    raise BadRequest(f"Body id {str(body_id)[:80]!r} differs from the matching {entry.type}/{found.id}",
                                     code="invalid")
                plan[index] = ("update", found.id if found else interactions.check_id(str(body_id)) if body_id else new_id())
                decided[placeholder] = f"{entry.type}/{plan[index][1]}"
        except FhirError as error:
            raise _located(error, entry.where)
    for reference, (placeholder, index) in prepared.references.items():
        type, _, criteria = reference.partition("?")
        try:
            found = conditional.matches(ctx, type, criteria)
            if len(found) != 1:
                raise PreconditionFailed(
                    f"Conditional reference {reference[:120]!r} matches {'no' if not found else 'more than one'} "
                    "resource", code="not-found" if not found else "multiple-matches")
        except FhirError as error:
            raise _located(error, entries[index].where)
        decided[placeholder] = f"{type}/{found[0].id}"
    for index in sorted(prepared.marked):
        entry = entries[index]
        rewrite(entry.resource if entry.resource is not None else entry.patch, decided)
    return plan


def _query_text(entry: BundleEntry) -> str:
    return entry.url.split("?", 1)[1] if "?" in entry.url else ""


def _criteria_key(type: str, criteria: str) -> str:
    """One spelling per search, so `Patient?identifier=a` in a reference finds `ifNoneExist: identifier=a`."""
    return f"{type}?" + "&".join(f"{k}={v}" for k, v in sorted(parse_query_string(criteria)))


def _check_overlap(entries: list[BundleEntry], plan: dict[int, Any]) -> None:
    """http.html#trules: identities written by two entries make the transaction fail."""
    seen: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.method in ("GET", "HEAD"):
            continue
        decided = plan.get(entry.index)
        id = decided[1].id if decided and decided[0] == "existing" else decided[1] if decided else entry.id
        if id is None:
            continue
        key = (entry.type, id)
        if key in seen:
            raise BadRequest(f"Entries {seen[key]} and {entry.index} both change {entry.type}/{id}",
                             code="invalid", expression=entry.where)
        seen[key] = entry.index
