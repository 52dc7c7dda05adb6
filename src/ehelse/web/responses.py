"""Sending answers over raw ASGI, and errors as OperationOutcome
(http://hl7.org/fhir/R4/http.html#summary: errors carry an OperationOutcome)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable

from ehelse.errors import FhirError, Issue, operation_outcome
from ehelse.fhir import jsoncodec

Send = Callable[[dict[str, Any]], Awaitable[None]]

FHIR_JSON = b"application/fhir+json; charset=utf-8"


async def send_bytes(send: Send, status: int, body: bytes | None, content_type: bytes | None = FHIR_JSON,
                     headers: Iterable[tuple[bytes, bytes]] = (), head: bool = False) -> None:
    raw: list[tuple[bytes, bytes]] = list(headers)
    if body is not None and content_type is not None:
        raw.append((b"content-type", content_type))
    raw.append((b"content-length", str(len(body) if body is not None else 0).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head or body is None else body})


def error_headers(error: FhirError) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]


async def send_error(send: Send, error: FhirError, *, pretty: bool = False, head: bool = False,
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = jsoncodec.dumps(error.outcome(), pretty=pretty)
    await send_bytes(send, error.status, body, headers=[*headers, *error_headers(error)], head=head)


def internal_error_body(request_id: str) -> bytes:
    # Never the exception text: it may quote data. The request id finds the log line.
    return jsoncodec.dumps(operation_outcome([Issue(
        "fatal", "exception", f"Internal server error (request id {request_id})")]))
