"""ASGI middleware around every route: request id, security headers (web/hardening.py),
access log, metrics, and the request body size limit.

Written as plain ASGI (no Starlette BaseHTTPMiddleware): it sits on every request's path, and
plain ASGI costs a few microseconds where the generic wrappers cost tens.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from ehelse.errors import FhirError, PayloadTooLarge
from ehelse.storage.unavailable import unavailable
from ehelse.web import logs
from ehelse.web.hardening import security_headers
from ehelse.web.metrics import Metrics
from ehelse.web.responses import error_headers, error_page, internal_error_body, send_bytes, send_error, wants_html

# A client's X-Request-Id is kept when it is short and plain (it goes into logs and headers);
# anything else is replaced by a fresh id.
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
HTML = b"text/html; charset=utf-8"


class RequestContext:
    """Request id, security headers, one access-log line and the metrics for each request.
    An exception that escapes the app becomes a 500 OperationOutcome, never a dropped
    connection."""

    def __init__(self, app: Any, metrics: Metrics, https_base: bool = False):
        self.app = app
        self.metrics = metrics
        self.https_base = https_base  # base_url is https: HSTS on every response

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SANE_ID.fullmatch(candidate):
                    rid = candidate
                break
        rid = rid or os.urandom(16).hex()  # as unique as a uuid4, a tenth of the cost
        token = logs.request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False
        https = self.https_base or scope.get("scheme") == "https"

        async def send_wrapper(message: dict) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers") or ())
                security_headers(headers, https)
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        except FhirError as error:  # e.g. a body over the limit, raised before any route ran
            if not response_started:
                await send_error(send_wrapper, error)
            else:
                status = error.status
        except Exception as exc:
            busy = unavailable(exc)  # the database cannot take it now (storage/unavailable.py): a 503
            if busy is not None:
                logs.log.warning("database unavailable in %s %s: %s", scope["method"], scope["path"], exc)
                if not response_started:
                    if wants_html(scope):  # a person in a browser, on a portal page: a page, not JSON
                        await send_bytes(send_wrapper, 503, error_page(503, rid), HTML, headers=error_headers(busy))
                    else:
                        await send_error(send_wrapper, busy)
                status = 503
            else:
                logs.log.exception("unhandled error in %s %s", scope["method"], scope["path"])
                if not response_started:
                    if wants_html(scope):
                        await send_bytes(send_wrapper, 500, error_page(500, rid), HTML)
                    else:
                        await send_bytes(send_wrapper, 500, internal_error_body(rid))
                status = 500
        finally:
            self.metrics.in_flight -= 1
            seconds = time.perf_counter() - started
            interaction = scope["state"].get("interaction") or _route_name(scope["path"])
            self.metrics.observe(interaction, scope["method"], status, seconds)
            logs.access(scope["method"], scope["path"], status, seconds * 1000, interaction, rid)
            logs.request_id.reset(token)


def _route_name(path: str) -> str:
    # A bounded label for metrics: never the raw path (ids would explode the series).
    if path in ("/healthz", "/readyz", "/metrics"):
        return path[1:]
    if path == "/fhir" or path.startswith("/fhir/"):
        return "fhir"
    return "other"


class BodyLimit:
    """413 for a body over `max_body_bytes`: at once when Content-Length says so, else as soon
    as the streamed body passes the limit (so a lying or chunked client cannot exhaust memory).
    """

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    raise PayloadTooLarge(f"Request body of {declared} bytes is over the limit of "
                                          f"{self.max_bytes} bytes")
                break
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(f"Request body is over the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)
