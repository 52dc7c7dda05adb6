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

from typing import Any, Callable

from ehelse.errors import BadRequest, FhirError, Issue, PreconditionFailed, operation_outcome
from ehelse.fhir import conditional, interactions
from ehelse.fhir.bundle_entry import PROCESSING_ORDER, BundleEntry, parse_entry
from ehelse.fhir.headers import parse_http_date, prefer_return
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle as make_bundle
from ehelse.fhir.references import rewrite
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.search_request import parse_query_string
from ehelse.storage.stamp import new_id

Dispatch = Callable[[Context], FhirResponse]
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Payload Too Large",
            415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error",
            501: "Not Implemented"}


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


def _execute(ctx: Context, entry: BundleEntry, dispatch: Dispatch, plan: dict[int, Any]) -> FhirResponse:
    """One entry's interaction. `plan` holds what a transaction decided beforehand per entry."""
    sub = _entry_context(ctx, entry)
    decided = plan.get(entry.index)
    if entry.method == "POST":
        if decided is not None and decided[0] == "existing":
            return conditional.existing_response(sub, decided[1])
        if decided is not None:
            return interactions.create(sub, entry.type, entry.resource, id=decided[1])
        if "if-none-exist" in entry.headers:
            return conditional.conditional_create(sub, entry.type, entry.resource,
                                                  entry.headers["if-none-exist"].lstrip("?"))
        return interactions.create(sub, entry.type, entry.resource)
    if entry.method == "PUT":
        if decided is not None:  # a conditional update resolved to this id
            entry.resource["id"] = decided[1]
            return interactions.update(sub, entry.type, decided[1], entry.resource)
        if entry.id is not None:
            return interactions.update(sub, entry.type, entry.id, entry.resource)
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
    return _respond(ctx, "batch-response", items)


def transaction(ctx: Context, raw_entries: list[Any], dispatch: Dispatch) -> FhirResponse:
    entries = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(parse_entry(index, raw, ctx.base_url))
        except FhirError as error:
            raise _located(error, f"Bundle.entry[{index}]")
    order = sorted(entries, key=lambda e: PROCESSING_ORDER[e.method])
    responses: dict[int, FhirResponse] = {}
    current: BundleEntry | None = None
    try:
        with ctx.repo.transaction():
            for current in (e for e in order if e.method == "DELETE"):
                responses[current.index] = _execute(ctx, current, dispatch, {})
            current = None
            plan = _resolve(ctx, entries)
            _check_overlap(entries, plan)
            for current in (e for e in order if e.method != "DELETE"):
                responses[current.index] = _execute(ctx, current, dispatch, plan)
    except FhirError as error:
        raise _located(error, current.where) if current is not None else error
    return _respond(ctx, "transaction-response", [_response_entry(ctx, e, responses[e.index]) for e in entries])


def _resolve(ctx: Context, entries: list[BundleEntry]) -> dict[int, Any]:
    """Decide every new or matched identity, then rewrite references to them (http.html#trules)."""
    plan: dict[int, Any] = {}
    mapping: dict[str, str] = {}  # fullUrl or conditional reference -> Type/id
    for entry in entries:
        sub = None
        try:
            if entry.method == "POST":
                sub = _entry_context(ctx, entry)
                criteria = entry.headers.get("if-none-exist")
                found = conditional.one_or_none(sub, entry.type, criteria.lstrip("?"), "ifNoneExist") if criteria else None
                plan[entry.index] = ("existing", found) if found else ("create", new_id())
                target = f"{entry.type}/{found.id if found else plan[entry.index][1]}"
                if criteria:
                    mapping[_criteria_key(entry.type, criteria.lstrip("?"))] = target
            elif entry.method == "PUT" and entry.id is None:
                sub = _entry_context(ctx, entry)
                found = conditional.one_or_none(sub, entry.type, entry.criteria, "Conditional update")
                body_id = entry.resource.get("id")
                if found is not None and body_id is not None and body_id != found.id:
                    raise BadRequest(f"Body id {str(body_id)[:80]!r} differs from the matching {entry.type}/{found.id}",
                                     code="invalid")
                plan[entry.index] = ("update", found.id if found else interactions.check_id(str(body_id)) if body_id else new_id())
                target = f"{entry.type}/{plan[entry.index][1]}"
                mapping[_criteria_key(entry.type, _query_text(entry))] = target
            elif entry.method in ("PUT", "PATCH", "DELETE") and entry.id is not None:
                target = f"{entry.type}/{entry.id}"
            else:
                continue
        except FhirError as error:
            raise _located(error, entry.where)
        if entry.full_url:
            mapping[entry.full_url] = target
    resolved: dict[str, str] = {}

    def resolve_conditional(reference: str) -> str:
        """`Type?criteria` -> `Type/id`: an entry of this Bundle with the same criteria, else
        exactly one match in the store (none or several fail the transaction)."""
        if reference not in resolved:
            type, _, criteria = reference.partition("?")
            key = _criteria_key(type, criteria)
            if key in mapping:
                resolved[reference] = mapping[key]
            else:
                found = conditional.matches(ctx, type, criteria)
                if len(found) != 1:
                    raise PreconditionFailed(
                        f"Conditional reference {reference[:120]!r} matches {'no' if not found else 'more than one'} "
                        "resource", code="not-found" if not found else "multiple-matches")
                resolved[reference] = f"{type}/{found[0].id}"
        return resolved[reference]

    for entry in entries:
        try:
            rewrite(entry.resource if entry.resource is not None else entry.patch, mapping, resolve_conditional)
        except FhirError as error:
            raise _located(error, entry.where)
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
