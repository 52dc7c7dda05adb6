"""Sending answers over raw ASGI, and errors as OperationOutcome
(http://hl7.org/fhir/R4/http.html#summary: errors carry an OperationOutcome)."""

from __future__ import annotations

from html import escape
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


# What a person in a browser gets when the middleware, not a page, has to answer (the portals'
# own handlers render their errors in the portal's layout): Norwegian (bokmål) first, English
# second, each marked with its language (WCAG 2.1 3.1.1 and 3.1.2), no script; the portals'
# stylesheets, which /static serves from files whether or not the database answers.
_PAGE_TEXTS = {
    503: ("Tjenesten er midlertidig utilgjengelig",
          "Vi får ikke kontakt med databasen akkurat nå. Ingenting er endret. Prøv igjen om litt.",
          "The service is temporarily unavailable",
          "The database cannot be reached right now. Nothing was changed. Please try again shortly."),
    500: ("Noe gikk galt", "Det oppstod en feil hos oss. Prøv igjen, eller kontakt oss og oppgi feilkoden.",
          "Something went wrong", "An error occurred on our side. Try again, or contact us and give the error code."),
}


def wants_html(scope: dict[str, Any]) -> bool:
    """A browser asking for a page (Accept names text/html), anywhere but the FHIR API, whose
    clients get an OperationOutcome whatever they accept (http.html#mime-type)."""
    path = scope.get("path", "")
    if path == "/fhir" or path.startswith("/fhir/"):
        return False
    return any(name == b"accept" and b"text/html" in value for name, value in scope.get("headers") or ())


def error_page(status: int, request_id: str) -> bytes:
    """The HTML page for a 503 (the database cannot take the request now) or a 500."""
    title_nb, text_nb, title_en, text_en = _PAGE_TEXTS[503 if status == 503 else 500]
    code = escape(request_id)
    return (f'''<!doctype html>
<html lang="nb">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title_nb} – ehelse</title>
<link rel="stylesheet" href="/static/ds/theme/digdir.css">
<link rel="stylesheet" href="/static/ds/css/index.css">
<link rel="stylesheet" href="/static/ui/ehelse.css"></head>
<body data-color-scheme="light" data-color="accent">
<main id="main">
<h1 class="ds-heading" data-size="lg">{title_nb}</h1>
<p class="ds-paragraph">{text_nb}</p>
<p class="ds-paragraph">Feilkode: <code>{code}</code></p>
<section lang="en" aria-labelledby="en-title">
<h2 class="ds-heading" data-size="sm" id="en-title">{title_en}</h2>
<p class="ds-paragraph">{text_en}</p>
<p class="ds-paragraph">Error code: <code>{code}</code></p>
</section>
<p class="ds-paragraph"><a class="ds-link" href="/">Til forsiden</a> · <a class="ds-link" href="/" lang="en">Home</a></p>
</main>
</body>
</html>
''').encode()
