"""The FHIR REST router: `Router(settings).handle(request, repo) -> response`, free of HTTP.

http://hl7.org/fhir/R4/http.html. The URL (relative to the base `/fhir`) picks the
interaction; the modules beside this one do the work: interactions.py (read, vread, create,
update, delete, patch), conditional.py, history.py, searchset.py, bundle.py (batch and
transaction), capability.py, operations/. Every FhirError becomes its OperationOutcome;
anything unexpected becomes a 500 OperationOutcome that says nothing about the inside.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from ehelse.errors import BadRequest, FhirError, Issue, MethodNotAllowed, NotFound, operation_outcome
from ehelse.fhir import conditional, history, interactions, searchset
from ehelse.fhir.body import check_size, parse_json, parse_resource
from ehelse.fhir.capability import capabilities
from ehelse.fhir.headers import JSON_PATCH, check_format
from ehelse.fhir.interactions import Context
from ehelse.fhir.operations import defines_type, invoke, lookup
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.resource_types import is_resource_type, is_valid_id
from ehelse.settings import Settings
from ehelse.storage.protocol import Repository
from ehelse.storage.staged import Staged
from ehelse.storage.stamp import now_instant
from ehelse.storage.unavailable import unavailable

log = logging.getLogger(__name__)

_READS = ("GET", "HEAD")


class Router:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()

    def handle(self, request: FhirRequest, repo: Repository, prepared: Any = None) -> FhirResponse:
        """Answer one request; never raises. `prepared`: the request is a transaction Bundle
        already made ready by bundle.prepare_transaction (the importer does that in another
        process), so only its database phase is left."""
        try:
            check_format(request)
            ctx = Context(self.settings, repo, request)
            if prepared is not None:
                from ehelse.fhir.bundle import commit_transaction

                response = commit_transaction(ctx, prepared, self.dispatch)
            else:
                response = self.dispatch(ctx)
            return _shaped(request, response)
        except FhirError as error:
            return error_response(error)
        except Exception as exc:
            return self.failure(request, exc)

    def stage_write(self, request: FhirRequest, repo: Repository) -> FhirResponse | Staged:
        """A create (POST [type]), or an update, patch or delete of [type]/[id], made ready for
        a write transaction of the caller's, which other writes may share (web/writes.py):
        validated and checked now; its apply() writes, its finish() gives the response. Any
        other request, and one refused before its write, is answered now as handle() would."""
        try:
            check_format(request)
            parts = request.path.strip("/").split("/")
            write = self._plain_write(Context(self.settings, repo, request), request.method.upper(), parts)
            if write is None:
                return self.handle(request, repo)
        except FhirError as error:
            return error_response(error)
        except Exception as exc:
            return self.failure(request, exc)
        return write.then(lambda response: _shaped(request, response))

    def failure(self, request: FhirRequest, exc: BaseException) -> FhirResponse:
        """The answer to an exception that is not a FhirError: 503 when the database cannot
        take the request now, else a 500 that says nothing about the inside (and a log line)."""
        if isinstance(exc, FhirError):
            return error_response(exc)
        busy = unavailable(exc)  # the database cannot take it now (storage/unavailable.py): a 503
        if busy is not None:
            log.warning("database unavailable in %s /%s (request %s): %s", request.method, request.path,
                        request.request_id, exc)
            return error_response(busy)
        # else a bug, not the client's fault: log it, tell nothing
        log.error("Unexpected error in %s /%s (request %s)", request.method, request.path,
                  request.request_id, exc_info=exc)
        reference = f" (request id {request.request_id})" if request.request_id else ""
        return FhirResponse(500, resource=operation_outcome(
            [Issue("fatal", "exception", f"Internal server error{reference}")]), interaction="error")

    def dispatch(self, ctx: Context) -> FhirResponse:
        """Route to the interaction; FhirErrors propagate (bundle.py reports them per entry)."""
        request = ctx.request
        method = request.method.upper()
        parts = request.path.strip("/").split("/") if request.path.strip("/") else []
        if not parts:
            return self._system(ctx, method)
        head = parts[0]
        if len(parts) == 1 and head == "metadata":
            self._allow(method, _READS)
            found = capabilities(ctx.repo, ctx.base_url, now_instant(), request.param("mode"))
            return FhirResponse(200, resource=found, interaction="capabilities")
        if len(parts) == 1 and head == "_history":
            self._allow(method, _READS)
            return history.history(ctx)
        if len(parts) == 1 and head.startswith("$"):
            return self._operation(ctx, method, head[1:], None, None)
        if not is_resource_type(head):
            # Types outside R4 that only have $operations (SQL on FHIR: ViewDefinition/$run).
            if defines_type(head) and len(parts) in (2, 3) and parts[-1].startswith("$"):
                return self._operation(ctx, method, parts[-1][1:], head, parts[1] if len(parts) == 3 else None)
            raise NotFound(f"{head[:80]!r} is not a resource type this server knows", code="not-supported")
        type = head
        write = self._plain_write(ctx, method, parts)
        if write is not None:
            return write.run()
        if len(parts) == 1:
            return self._type(ctx, method, type)
        second = parts[1]
        if len(parts) == 2 and second == "_history":
            self._allow(method, _READS)
            return history.history(ctx, type)
        if len(parts) == 2 and second == "_search":
            self._allow(method, ("POST",))
            return self._post_search(ctx, type)
        if len(parts) == 2 and second.startswith("$"):
            return self._operation(ctx, method, second[1:], type, None)
        id = interactions.check_id(second)
        if len(parts) == 2:
            return self._instance(ctx, method, type, id)
        if len(parts) == 3 and parts[2] == "_history":
            self._allow(method, _READS)
            return history.history(ctx, type, id)
        if len(parts) == 4 and parts[2] == "_history":
            self._allow(method, _READS)
            return interactions.vread(ctx, type, id, parts[3])
        if len(parts) == 3 and parts[2].startswith("$"):
            return self._operation(ctx, method, parts[2][1:], type, id)
        if len(parts) == 3 and (parts[2] == "*" or is_resource_type(parts[2])):
            # search.html#compartments: Patient/123/Observation, Patient/123/*
            self._allow(method, _READS)
            return searchset.search(ctx, None if parts[2] == "*" else parts[2], request.path.strip("/"),
                                    compartment=(type, id))
        raise NotFound(f"No FHIR interaction at {request.path[:120]!r}", code="not-supported")

    # -- levels --------------------------------------------------------------------------------
    def _system(self, ctx: Context, method: str) -> FhirResponse:
        if method in _READS:
            return searchset.search(ctx, None, "")
        if method == "POST":
            from ehelse.fhir.bundle import process_bundle  # batch/transaction (http.html#transaction)

            return process_bundle(ctx, parse_resource(ctx.request, self.settings, "Bundle"), self.dispatch)
        raise MethodNotAllowed(f"{method} is not allowed on the base URL")

    def _type(self, ctx: Context, method: str, type: str) -> FhirResponse:
        request = ctx.request
        criteria = self._criteria(request)
        if method in _READS:
            return searchset.search(ctx, type, type)
        if method == "POST":  # with If-None-Exist (a plain create is _plain_write's)
            resource = parse_resource(request, self.settings, type)
            return conditional.conditional_create(ctx, type, resource, request.header("if-none-exist").lstrip("?"))
        if not criteria:
            raise MethodNotAllowed(f"{method} on {type} needs an id or search criteria")
        if method == "PUT":
            return conditional.conditional_update(ctx, type, parse_resource(request, self.settings, type), criteria)
        if method == "DELETE":
            return conditional.conditional_delete(ctx, type, criteria)
        if method == "PATCH":
            return conditional.conditional_patch(ctx, type, self._patch_body(ctx), criteria)
        raise MethodNotAllowed(f"{method} is not allowed on {type}")

    def _instance(self, ctx: Context, method: str, type: str, id: str) -> FhirResponse:
        if method in _READS:  # PUT, DELETE and PATCH are _plain_write's
            return interactions.read(ctx, type, id)
        raise MethodNotAllowed(f"{method} is not allowed on {type}/{id}")

    def _plain_write(self, ctx: Context, method: str, parts: list[str]) -> Staged | None:
        """The request staged, when it is a create (POST [type] without If-None-Exist) or an
        update, patch or delete of [type]/[id]; None for everything else. dispatch() runs it
        at once, stage_write() hands it to the caller. An invalid id is left to dispatch
        (so are _history, _search and $operations, which are not ids)."""
        request = ctx.request
        type = parts[0]
        if not is_resource_type(type):
            return None
        if len(parts) == 1:
            if method != "POST" or request.header("if-none-exist"):
                return None
            return interactions.stage_create(ctx, type, parse_resource(request, self.settings, type))
        if len(parts) != 2 or not is_valid_id(parts[1]):
            return None
        if method == "PUT":
            return interactions.stage_update(ctx, type, parts[1], parse_resource(request, self.settings, type))
        if method == "DELETE":
            return interactions.stage_delete(ctx, type, parts[1])
        if method == "PATCH":
            return interactions.stage_patch(ctx, type, parts[1], self._patch_body(ctx))
        return None

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _allow(method: str, allowed: tuple[str, ...]) -> None:
        if method not in allowed:
            raise MethodNotAllowed(f"{method} is not allowed here; use {' or '.join(allowed)}")

    @staticmethod
    def _criteria(request: FhirRequest) -> list[tuple[str, str]]:
        from ehelse.fhir.search_request import RESULT_PARAMS

        return [(k, v) for k, v in request.query if k not in RESULT_PARAMS]

    def _patch_body(self, ctx: Context):
        # http.html#patch: JSON Patch only (FHIRPath Patch is not supported: 415).
        if ctx.request.in_bundle and ctx.request.header("content-type") is None:
            return parse_json(ctx.request, self.settings)
        return parse_json(ctx.request, self.settings, frozenset({JSON_PATCH}))

    def _post_search(self, ctx: Context, type: str) -> FhirResponse:
        """http.html#search: POST [type]/_search with form parameters, same as GET."""
        check_size(ctx.request, self.settings)
        content_type = (ctx.request.header("content-type") or "").split(";")[0].strip().lower()
        if ctx.request.body and content_type != "application/x-www-form-urlencoded":
            from ehelse.errors import UnsupportedMediaType

            raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded parameters")
        try:
            form = parse_qsl(ctx.request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise BadRequest("Form body is not UTF-8", code="structure") from None
        ctx.request.query = [*ctx.request.query, *form]
        return searchset.search(ctx, type, type)

    def _operation(self, ctx: Context, method: str, name: str, type: str | None, id: str | None) -> FhirResponse:
        level = "instance" if id else "type" if type else "system"
        operation = lookup(name, level, method, type)
        parameters = None
        if method == "POST" and ctx.request.body.strip():
            parameters = parse_json(ctx.request, self.settings)
        return invoke(operation, ctx, type, id, parameters)


def _shaped(request: FhirRequest, response: FhirResponse) -> FhirResponse:
    """HEAD without the body; `_pretty=true` indented."""
    if request.method == "HEAD":
        response.body, response.resource = None, None
    elif request.param("_pretty") == "true" and (response.body or response.resource):
        response.body, response.resource = response.json_bytes(pretty=True), None
    return response


def error_response(error: FhirError) -> FhirResponse:
    return FhirResponse(error.status, resource=error.outcome(), headers=dict(error.headers), interaction="error")
