"""The `/fhir` endpoint: HTTP in, FhirRequest to the router, FhirResponse back out.

Everything FHIR-specific lives in the core (`Router(settings).handle(request, repo)`); this
module only does what HTTP needs: content negotiation (http.html#mime-type), `_format` and
`_pretty` (http.html#parameters), the bearer token, reading the body within the limit, and
the response headers.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any
from urllib.parse import parse_qsl

import psycopg

from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.errors import (BadRequest, FhirError, NotAcceptable, ServiceUnavailable, UnsupportedMediaType)
from ehelse.fhir.headers import etag, http_date
from ehelse.fhir.router import error_response
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.access.tokens import missing_token
from ehelse.audit.trail import trail_for
from ehelse.fhir.resource_types import is_resource_type, is_valid_id
from ehelse.storage.budget import ReadBudgetExceeded, read_budget
from ehelse.storage.staged import Staged
from ehelse.storage.unavailable import RETRY_AFTER
from ehelse.web import logs
from ehelse.web.reads import Batchers, Prefetched, Wanted
from ehelse.web.responses import FHIR_JSON, send_error
from ehelse.web.threads import run_sync
from ehelse.web.writes import WriteLane

# http://hl7.org/fhir/R4/http.html#mime-type: JSON only here. `_format` may also say "json".
JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}
_FORMAT_OK = JSON_TYPES | {"json"}
_ACCEPT_ANY = {"*/*", "application/*"}
BODY_TYPES = JSON_TYPES | {"application/json-patch+json"}  # JSON Patch: http.html#patch
FORM = "application/x-www-form-urlencoded"  # POST [type]/_search: http.html#search
# Reachable without a token (DESIGN.md): the CapabilityStatement and SMART discovery.
OPEN_PATHS = {"metadata", ".well-known/smart-configuration"}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
# Searches the event loop tries itself on SQLite (FhirEndpoint._try_inline): the wall time
# its reads may take before it gives the search to a worker thread (a few times a selective
# search's ~0.3-1 ms), the largest page it tries, and how long a query shape that ran past
# the budget that many times in a row goes to a thread straight away.
INLINE_SEARCH_SECONDS = 0.003
INLINE_MAX_COUNT = 100
INLINE_MAX_QUERY = 4096
_SLOW_MODIFIERS = frozenset({"text", "in", "not-in", "below", "above"})
_FULL_TEXT = frozenset({"_text", "_content"})
_NAME_PARTS = re.compile(r"[:.]")
SLOW_SHAPE_SECONDS = 60.0
SLOW_SHAPE_STRIKES = 3
# Response headers every FHIR answer gets: personal data must not sit in shared caches.
FHIR_HEADERS = ((b"cache-control", b"no-store"),
                (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))
# Request headers that make a read conditional (http.html#cread): the general path answers.
_CONDITIONAL_READ = frozenset({b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since"})
# What the audit trail's commit raises when the database refuses it (down, locked past the
# busy timeout, a full disk): the drivers' errors and the OS's.
_DATABASE_ERRORS = (sqlite3.Error, psycopg.Error, OSError)


class FhirEndpoint:
    """ASGI app for everything under /fhir."""

    def __init__(self, state: Any, *, inline_reads: bool = True):
        self.state = state
        # Reads by id run on the event loop: a single indexed lookup is cheaper than the hop
        # to a thread (bench/web_stack.py: 2.2x the reads/s). Everything else runs in a
        # worker thread, so a slow search or a write waiting on the database lock never
        # stalls other requests.
        # The reads by id of one loop iteration are fetched with one statement (on SQLite on
        # the loop, on PostgreSQL, a round trip, in a worker thread) and answered together
        # on the loop (web/reads.py).
        self.inline_reads = inline_reads
        self.policy = AccessPolicy()  # the access rules' process-wide caches (access/policy.py)
        self._batchers = Batchers(self._answer_reads)  # per event loop: its reads by id, in batches (web/reads.py)
        self._trail: tuple[Any, Any] = (None, None)  # (repository, its audit trail)
        self._base_urls: dict[tuple[str, str, str], str] = {}  # (scheme, host, root) -> base URL
        self._json_accepts: set[str | None] = set()  # Accept values _negotiate let through
        # Query shapes (_inline_shape) that ran past the loop's read budget lately -> (times in
        # a row, until when they go to a worker thread without trying the loop first).
        self._slow_shapes: dict[tuple[str, ...], tuple[int, float]] = {}
        # SQLite's writes by id (web/writes.py), several to a transaction
        self._writes = WriteLane(self._stage_write, lambda: trail_for(self.state.repo),
                                 lambda request, exc: self.state.router.failure(request, exc))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["method"] == "GET" and not scope["query_string"] and self.inline_reads:
            if await self._read_by_id(scope, send):
                return
        head = scope["method"] == "HEAD"
        method = "GET" if head else scope["method"]  # HEAD is GET without the body
        pretty = False
        try:
            query = _query(scope["query_string"])
            pretty = _pop(query, "_pretty") == "true"
            headers = _headers(scope["headers"])
            _negotiate(headers.get("accept"), _pop(query, "_format"))
            path = scope["path"][len("/fhir"):].strip("/")
            base_url = self._base_url(scope, headers)
            actor = None
            if path not in OPEN_PATHS:
                actor = self._authenticate(headers.get("authorization"), base_url)
            body = b""
            if method in ("POST", "PUT", "PATCH"):
                body = await _read_body(receive)
                body, query = _check_body_type(headers.get("content-type"), body, path, query)
            request = FhirRequest(method=method, path=path, query=query, headers=headers, body=body,
                                  base_url=base_url, actor=actor, request_id=scope["state"]["request_id"])
            response = await self._handle(request)
        except FhirError as error:
            await send_error(send, error, pretty=pretty, head=head, headers=FHIR_HEADERS)
            return
        scope["state"]["interaction"] = response.interaction
        await _send_response(send, response, pretty, head)

    async def _read_by_id(self, scope: dict, send: Any) -> bool:
        """A plain read by id (http.html#read: `GET [type]/[id]`, no parameters, no
        conditional headers) of a resource the actor may see: answered here, fetched,
        checked and audited together with the other reads of its loop iteration
        (web/reads.py, _answer_reads), without the FhirRequest, the router and the
        response object the general path builds for every interaction, which were a third of a read's CPU in the process
        (docs/benchmarks.md, ninth session). Everything it does not answer itself goes the
        general way, which is the reference: False, and nothing sent, for a path that is
        not a read by id, a missing or bad token, an Accept that is not JSON, a resource
        that is missing, deleted or not the actor's to see (its refusal is audited there,
        once: the records made here are dropped), an AuditEvent (read from the log), and a
        database error. The same access rules (SecuredRepository.read), the same audit
        record, durable before the answer (AuditTrail.when_durable), the same headers and
        bytes (tests/web/test_read_path.py compares the two)."""
        parts = scope["path"].split("/")
        if (len(parts) != 4 or parts[1] != "fhir" or parts[2] == "AuditEvent" or not is_resource_type(parts[2])
                or not is_valid_id(parts[3])):
            return False
        authorization = accept = None
        host = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    return False
                authorization = value.decode("latin-1")
            elif name == b"accept":
                if accept is not None:
                    return False
                accept = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name in _CONDITIONAL_READ:
                return False
        repo = self.state.repo
        if authorization is None or getattr(repo, "backend", "") not in ("sqlite", "postgres"):
            return False
        try:
            if accept not in self._json_accepts:  # the same few Accept values come again and again
                _negotiate(accept, None)
                if len(self._json_accepts) < 64:
                    self._json_accepts.add(accept)
            actor = self._authenticate(authorization, self._base_url(scope, {"host": host}))
        except (FhirError, *_DATABASE_ERRORS):
            return False
        try:
            # fetched with the other reads of this loop iteration, checked and audited with
            # them, and set once their records are durable (web/reads.py)
            version = await self._batchers.for_repo(repo).read(actor, parts[2], parts[3])
        except _DATABASE_ERRORS as exc:  # the records could not be written: no data leaves
            await _send_response(send, self._unrecorded(exc), False, False)
            return True
        if version is None:
            return False
        scope["state"]["interaction"] = "read"
        body = version.content
        await send({"type": "http.response.start", "status": 200, "headers": [
            *FHIR_HEADERS, (b"etag", etag(version).encode()),
            (b"last-modified", http_date(version.last_updated).encode()),
            (b"content-type", FHIR_JSON), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return True

    def _answer_reads(self, repo: Any, reads: list[Wanted], found: dict[tuple[str, str], Any],
                      facts_version: int) -> None:
        """A batch of plain reads by id, fetched (web/reads.py): each checked by the access
        rules (SecuredRepository.read, against the fetched row), their audit rows made
        durable together, then each read's future set: its version, to send; None for the
        general path (missing, deleted, refused: the router answers and audits it, once;
        the rows made here for it are dropped); the database's error when the records could
        not be written. A bug in one read is that read's 500 alone."""
        trail = self._audit_trail(repo)
        rows: list[dict[str, Any]] = []
        answered = []
        for read in reads:
            version = found.get((read.type, read.id))
            if version is None or version.deleted:
                read.future.set_result(None)
                continue
            mine: list[dict[str, Any]] = []
            try:
                version = read.context.run(self._checked_read, Prefetched(repo, read.type, read.id, version),
                                           read, trail, facts_version, mine)
            except (FhirError, *_DATABASE_ERRORS):
                read.future.set_result(None)
                continue
            except Exception as exc:
                read.future.set_exception(exc)
                continue
            if version is None or version.deleted:
                read.future.set_result(None)
                continue
            rows.extend(mine)
            answered.append((read, version))

        def then(error: BaseException | None) -> None:
            for read, version in answered:
                if read.future.done():  # cancelled meanwhile: its record stands, nothing is sent
                    continue
                if error is None:
                    read.future.set_result(version)
                else:
                    read.future.set_exception(error)

        trail.when_durable(rows, then)

    def _checked_read(self, source: Prefetched, read: Wanted, trail: Any, facts_version: int,
                      rows: list[dict[str, Any]]) -> Any:
        """One read of a batch, in its request's context: the access rules' answer, its audit
        rows appended to `rows`."""
        secured = SecuredRepository(source, read.actor, self.policy, trail, facts_version=facts_version)
        with secured.audit_batch(into=rows):
            return secured.read(read.type, read.id)

    def _base_url(self, scope: dict, headers: dict[str, str]) -> str:
        configured = self.state.settings.base_url
        if configured:
            return configured.rstrip("/") + "/fhir"
        host = headers.get("host", "")
        key = (scope.get("scheme", "http"), host, scope.get("root_path", ""))
        found = self._base_urls.get(key)
        if found is not None:
            return found
        if not _HOST.fullmatch(host):  # it ends up in Location headers and links
            server = scope.get("server") or ("localhost", None)
            host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
        elif len(self._base_urls) < 64:  # only well-formed hosts are kept, and few of them
            self._base_urls[key] = f"{key[0]}://{host}{key[2]}/fhir"
        return f"{key[0]}://{host}{key[2]}/fhir"

    def _authenticate(self, authorization: str | None, base_url: str) -> Any:
        if not authorization:
            raise missing_token()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise missing_token()
        return self.state.tokens.verify(token.strip(), base_url)

    async def _handle(self, request: FhirRequest) -> FhirResponse:
        # With an actor, the request runs against its own SecuredRepository (access rules
        # and audit, access/repository.py). Reads by id run inline too: their audit record
        # is gathered, handed to the audit trail's writer thread (group commit) and awaited,
        # so the loop never blocks on the commit and no data leaves before it is durable.
        # Everything else runs in a worker thread (concurrent audits share commits there).
        # An AuditEvent is read from the log, whose reader may first move the audit journals
        # into it (SQLite, audit/log.py catch_up): a write, so not on the loop.
        if self.inline_reads and _is_read(request) and not request.path.startswith("AuditEvent/"):
            if request.actor is None:
                return self._run(request)
            repo = self.state.repo
            if getattr(repo, "backend", "") != "postgres":
                return await self._run_audited_inline(request, repo)
            parts = request.path.split("/")
            if len(parts) == 2 and is_resource_type(parts[0]) and is_valid_id(parts[1]):
                try:
                    fetched = await self._batchers.for_repo(repo).fetch(parts[0], parts[1])
                except Exception:  # the database: the router's own path answers (and logs) it
                    return await run_sync(self._run, request)
                return await self._run_audited_inline(request, Prefetched(repo, parts[0], parts[1], fetched.version),
                                                      fetched.facts_version)
        if _is_plain_write(request) and getattr(self.state.repo, "backend", "") in ("sqlite", "postgres"):
            # The writes of this process wait in one lane, which writes those waiting in one
            # transaction (web/writes.py): on SQLite a transaction holds the file's one write
            # lock, and on both a transaction costs a fixed part whatever it writes.
            return await self._writes.submit(request)
        if request.actor is not None and _is_query(request):
            on_sqlite = getattr(self.state.repo, "backend", "") == "sqlite"
            shape = _inline_shape(request) if self.inline_reads and on_sqlite else None
            if shape is not None and self._may_try_inline(shape):
                response = await self._try_inline(request, shape)
                if response is not None:
                    return response
            return await self._run_audited_in_thread(request)
        return await run_sync(self._run, request)

    async def _run_audited_in_thread(self, request: FhirRequest) -> FhirResponse:
        """A search, history or other GET in a worker thread, its audit records gathered
        (SecuredRepository.audit_batch) and committed from the loop with the reads' group
        commit (AuditTrail.durable) before the answer leaves. Recorded from the worker
        thread, each search was a commit of its own: 1.5-1.6 rows a commit with 16 clients
        over HTTP, and a commit costs ~100-200 us of CPU whatever it holds
        (docs/benchmarks.md, sixth session). The SecuredRepository is made in the thread
        too: the access view may read the database."""
        rows: list[dict[str, Any]] = []
        try:
            response = await run_sync(self._handle_batched, request, self.state.repo, rows)
        finally:  # a refusal is audited too, and before its answer
            unavailable = await self._durable(self.state.repo, rows)
        return unavailable or response

    async def _durable(self, repo: Any, rows: list[dict[str, Any]]) -> FhirResponse | None:
        """Commit the request's audit rows before it answers (AuditTrail.durable): None once
        they are durable; when the trail cannot commit them (the database refuses the write:
        down, locked past the busy timeout, a full disk), the 503 to answer instead of the
        data, which must not leave without its record (access.md, "Durability before data").
        A 503 with `transient` and Retry-After (http.html: the server cannot answer now),
        not a 500: the request was sound and may be sent again."""
        try:
            await self._audit_trail(repo).durable(rows)
        except _DATABASE_ERRORS as exc:  # the database refused: the request is not answered with data
            # (any other exception is a bug: it propagates, a 500, and no data leaves either)
            return self._unrecorded(exc, len(rows))
        return None

    @staticmethod
    def _unrecorded(exc: BaseException, count: int = 1) -> FhirResponse:
        logs.log.error("audit trail could not commit %d record(s): %s", count, type(exc).__name__, exc_info=exc)
        return error_response(ServiceUnavailable(
            "The access could not be recorded in the audit trail, so nothing is returned; try again later",
            headers={"Retry-After": RETRY_AFTER}))

    def _may_try_inline(self, shape: tuple[str, ...]) -> bool:
        """Whether the loop tries a query of this shape (_inline_shape) itself (SQLite): one
        whose page is small, that has not run past its budget again and again lately."""
        if "_count" not in shape and self.state.settings.default_page_size > INLINE_MAX_COUNT:
            return False
        strikes, until = self._slow_shapes.get(shape, (0, 0.0))
        if strikes < SLOW_SHAPE_STRIKES:
            return True
        if time.monotonic() < until:
            return False
        del self._slow_shapes[shape]  # its time is up: the loop tries it again
        return True

    async def _try_inline(self, request: FhirRequest, shape: tuple[str, ...]) -> FhirResponse | None:
        """The search on the event loop under a read budget (storage/budget.py): no hand-over
        to a worker thread and back, which cost the server 20-45 % more CPU per search over
        HTTP (docs/benchmarks.md, seventh session). None when it ran past the budget: what it
        made, audit rows included, is dropped, and the caller runs it in a worker thread (which
        audits it). A shape that runs past it SLOW_SHAPE_STRIKES times in a row goes to a
        thread straight away for SLOW_SHAPE_SECONDS; once is not enough (a process's first
        search of a kind pays for cold caches and statements)."""
        rows: list[dict[str, Any]] = []
        response = None
        with read_budget(INLINE_SEARCH_SECONDS) as budget:
            try:
                response = self._handle_batched(request, self.state.repo, rows)
            except ReadBudgetExceeded:
                pass
        if response is None or budget.exceeded:
            if len(self._slow_shapes) >= 1024:  # a bound, not a cache to tune: the oldest goes
                del self._slow_shapes[next(iter(self._slow_shapes))]
            strikes = self._slow_shapes.get(shape, (0, 0.0))[0] + 1
            self._slow_shapes[shape] = (strikes, time.monotonic() + SLOW_SHAPE_SECONDS)
            return None
        if shape in self._slow_shapes:
            del self._slow_shapes[shape]
        unavailable = await self._durable(self.state.repo, rows)  # before the answer, as for a read
        return unavailable or response

    def _audit_trail(self, repo: Any) -> Any:
        known, trail = self._trail
        if known is not repo:
            trail = trail_for(repo)
            self._trail = (repo, trail)
        return trail

    async def _run_audited_inline(self, request: FhirRequest, repo: Any, facts_version: int | None = None) -> FhirResponse:
        rows: list[dict[str, Any]] = []
        try:
            response = self._handle_batched(request, repo, rows, facts_version)
        finally:  # a refusal is audited too, and before its answer
            # Group commit on the loop (audit/trail.py durable): this read's row shares
            # one transaction with the other reads waiting now; no thread hop of its own.
            unavailable = await self._durable(getattr(repo, "_inner", repo), rows)
        return unavailable or response

    def _handle_batched(self, request: FhirRequest, repo: Any, rows: list[dict[str, Any]],
                        facts_version: int | None = None) -> FhirResponse:
        """The request against the actor's SecuredRepository, its audit rows gathered into
        `rows` for the caller to commit (durable) before answering."""
        inner = getattr(repo, "_inner", repo)  # the real repository behind a Prefetched one
        try:
            secured = SecuredRepository(repo, request.actor, self.policy, self._audit_trail(inner),
                                        facts_version=facts_version)
        except FhirError as error:
            return error_response(error)
        with secured.audit_batch(into=rows):
            return self.state.router.handle(request, secured)

    def _stage_write(self, request: FhirRequest) -> FhirResponse | Staged:
        """For the write lane: the request staged (Router.stage_write), or answered now."""
        return self._against_repo(request, self.state.router.stage_write)

    def _run(self, request: FhirRequest) -> FhirResponse:
        return self._against_repo(request, self.state.router.handle)

    def _against_repo(self, request: FhirRequest, call: Any) -> Any:
        """`call(request, repo)` on the actor's SecuredRepository (the plain one without an
        actor); a refusal of the actor itself is answered at once."""
        repo = self.state.repo
        if request.actor is not None:
            try:
                repo = SecuredRepository(repo, request.actor, self.policy)
            except FhirError as error:
                return error_response(error)
        return call(request, repo)


async def _send_response(send: Any, response: FhirResponse, pretty: bool, head: bool) -> None:
    # One header list, built once and handed to the server as it is (send_bytes would copy
    # it again); names are lower case already for the core's own headers.
    raw = list(FHIR_HEADERS)
    content_type = None
    for name, value in response.headers.items():
        key = name.lower()
        if key == "content-type":
            content_type = value
        elif key != "content-length":
            raw.append((key.encode("latin-1"), value.encode("latin-1")))
    body = response.json_bytes(pretty=pretty)
    if body is not None:
        raw.append((b"content-type", content_type.encode("latin-1") if content_type else FHIR_JSON))
    raw.append((b"content-length", str(len(body) if body is not None else 0).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head or body is None else body})


def _is_read(request: FhirRequest) -> bool:
    """read or vread: GET Type/id or Type/id/_history/vid, no search parameters."""
    if request.method != "GET" or request.query:
        return False
    parts = request.path.split("/")
    if len(parts) == 2 or (len(parts) == 4 and parts[2] == "_history"):
        return parts[0][:1].isupper() and not parts[1].startswith(("_", "$"))
    return False


def _is_query(request: FhirRequest) -> bool:
    """A GET (search, history, an operation by GET) or a POST [type]/_search: what only reads
    (http.html#search), so its audit records may wait for the loop's group commit. An
    operation that writes (a bulk export's kick-off) still audits its writes at once
    (SecuredRepository.audit_batch gathers only reads)."""
    return request.method == "GET" or (request.method == "POST" and request.path.rsplit("/", 1)[-1] == "_search")


def _is_plain_write(request: FhirRequest) -> bool:
    """create (POST [type]), update, patch or delete by id: one resource's write, for the
    write lane (web/writes.py). Not a conditional one (If-None-Exist, [type]?search): its
    search may take long, and it waits in the pool instead of holding up the other writes."""
    parts = request.path.split("/")
    if request.method == "POST":
        return (len(parts) == 1 and is_resource_type(parts[0])
                and "if-none-exist" not in request.headers)
    if request.method in ("PUT", "DELETE", "PATCH"):
        return len(parts) == 2 and is_resource_type(parts[0]) and is_valid_id(parts[1])
    return False


def _inline_shape(request: FhirRequest) -> tuple[str, ...] | None:
    """What a query looks like without its values (its path's types and its parameter
    names), when it is one the event loop may try itself on SQLite: a search of one type or
    of a Patient compartment (search.html, compartments.html) with a small page. Not
    operations, history or system searches, nor what may take long in ways the read budget
    does not see (storage/budget.py checks the clock between statements and every
    STEPS_PER_CHECK steps within one):
    - `_total=accurate` and `_summary=count`: a count of all matches;
    - includes with a modifier (`:iterate`, to a fixed point);
    - full text (`_text`, `_content`, `:text`): an FTS5 prefix match merges its matches
      within one step, without a progress check;
    - value sets and hierarchies (`:in`, `:not-in`, `:below`, `:above`): their first use
      in a process loads a terminology, in Python;
    - pages over INLINE_MAX_COUNT, and queries longer than INLINE_MAX_QUERY characters
      (building the SQL of a 30,000-value list takes milliseconds before its first step)."""
    parts = request.path.split("/")
    if len(parts) == 2 and parts[1] == "_search" and request.method == "POST":
        parts = parts[:1]
    elif request.method != "GET":
        return None
    if len(parts) == 1:
        if not is_resource_type(parts[0]):
            return None
        shape = [parts[0]]
    elif len(parts) == 3 and parts[0] == "Patient" and is_valid_id(parts[1]) and is_resource_type(parts[2]):
        shape = ["Patient", "*", parts[2]]
    else:
        return None
    length = 0
    for name, value in request.query:
        length += len(name) + len(value)
        if length > INLINE_MAX_QUERY:
            return None
        segments = _NAME_PARTS.split(name)  # a chain or _has: the modifiers of each link count
        if len(segments) > 1 and (segments[0] in ("_include", "_revinclude") or not _SLOW_MODIFIERS.isdisjoint(segments[1:])):
            return None
        if not _FULL_TEXT.isdisjoint(segments) or name == "_count" and not (value.isdigit() and int(value) <= INLINE_MAX_COUNT):
            return None
        if name == "_total" and value == "accurate" or name == "_summary" and value == "count":
            return None
        shape.append(name)
    return tuple(shape)


def _query(raw: bytes) -> list[tuple[str, str]]:
    if not raw:
        return []
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("Query string is not valid UTF-8", code="structure") from None


def _pop(query: list[tuple[str, str]], name: str) -> str | None:
    """Remove a parameter the web layer handles (the router never sees it); the last wins."""
    found = None
    for item in [item for item in query if item[0] == name]:
        found = item[1]
        query.remove(item)
    return found


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _negotiate(accept: str | None, format_param: str | None) -> None:
    """406 unless the client can take JSON. `_format` overrides Accept (http.html#mime-type)."""
    if format_param is not None:
        if _media_type(format_param) not in _FORMAT_OK:
            raise NotAcceptable(f"_format={format_param} is not served; this server speaks application/fhir+json")
        return
    if not accept:
        return
    for item in accept.split(","):
        media, _, params = item.partition(";")
        media = media.strip().lower()
        if "q=0" in params.replace(" ", "") and not re.search(r"q=0\.\d*[1-9]", params):
            continue  # q=0 means "not this one"
        if media in JSON_TYPES or media in _ACCEPT_ANY or media == "":
            return
    raise NotAcceptable(f"Accept: {accept} cannot be met; this server speaks application/fhir+json")


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("Client went away before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _check_body_type(content_type: str | None, body: bytes, path: str,
                     query: list[tuple[str, str]]) -> tuple[bytes, list[tuple[str, str]]]:
    """415 for a body that is not JSON; a form-encoded `_search` body joins the query."""
    media = _media_type(content_type) if content_type else ""
    if media == FORM and (path == "_search" or path.endswith("/_search")):
        return b"", query + _query(body)
    if not body and not media:
        return body, query
    if media not in BODY_TYPES:
        raise UnsupportedMediaType(f"Content-Type {content_type or '(none)'} is not accepted; "
                                   "send application/fhir+json")
    return body, query
