"""HTTP header semantics of the FHIR REST API, kept apart from the interactions.

http://hl7.org/fhir/R4/http.html#versioning (ETag, If-Match), #cread (If-None-Match,
If-Modified-Since), #ops (Prefer: return=...), #mime (media types and `_format`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from ehelse.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from ehelse.fhir.request import FhirRequest
from ehelse.storage.protocol import ResourceVersion

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
# What a resource body may come as; http.html#mime allows plain application/json too.
RESOURCE_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json"})
_FORMAT_ALIASES = {"json": FHIR_JSON, "application/json": FHIR_JSON, FHIR_JSON: FHIR_JSON,
                   "application/json+fhir": FHIR_JSON, "text/json": FHIR_JSON}
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


def etag(version: ResourceVersion) -> str:
    """http.html#versioning: a weak ETag holding the versionId."""
    return f'W/"{version.version_id}"'


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UTC_INSTANT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z")


def http_date(instant: str) -> str:
    """A FHIR instant as an HTTP-date for Last-Modified (RFC 9110 section 5.6.7, IMF-fixdate).
    The server's own stamps are UTC with `Z` (storage/stamp.py): written straight from the
    text, and remembered, since every read of a version asks again; any other offset goes
    through datetime."""
    found = _HTTP_DATES.get(instant)
    if found is not None:
        return found
    match = _UTC_INSTANT.fullmatch(instant)
    if match:
        year, month, day, clock = match.groups()
        weekday = date(int(year), int(month), int(day)).weekday()
        text = f"{_DAYS[weekday]}, {day} {_MONTHS[int(month) - 1]} {year} {clock} GMT"
        if len(_HTTP_DATES) >= _HTTP_DATES_LIMIT:
            _HTTP_DATES.clear()  # bounded; a miss costs only the formatting above
        _HTTP_DATES[instant] = text
        return text
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


_HTTP_DATES: dict[str, str] = {}  # instant -> its HTTP-date (the Z form only)
_HTTP_DATES_LIMIT = 20_000


def version_headers(base_url: str, version: ResourceVersion, *, location: bool = False) -> dict[str, str]:
    headers = {"etag": etag(version), "last-modified": http_date(version.last_updated)}
    if location:
        headers["location"] = f"{base_url}/{version.type}/{version.id}/_history/{version.version_id}"
    return headers


def parse_etag(value: str | None, header: str = "If-Match") -> int | None:
    """`W/"3"` or `"3"` -> 3; None when absent. Garbage is a 400, not a silent ignore."""
    if value is None or value.strip() == "":
        return None
    match = _ETAG.match(value)
    if not match:
        raise BadRequest(f'{header} must be a version ETag like W/"3", got {value!r}', code="value")
    return int(match.group(1))


def parse_http_date(value: str | None, header: str = "If-Modified-Since") -> str | None:
    """An HTTP-date as a FHIR instant in UTC (comparable as text with lastUpdated)."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{header} is not an HTTP date: {value!r}", code="value") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def prefer_return(request: FhirRequest) -> str:
    """http.html#ops: Prefer return=minimal | representation | OperationOutcome.
    Without the header we return the representation (the spec leaves it to the server)."""
    prefer = request.header("prefer") or ""
    for part in prefer.split(";"):
        for token in part.split(","):
            name, _, value = token.strip().partition("=")
            if name.strip().lower() == "return":
                value = value.strip().strip('"')
                if value in ("minimal", "representation", "OperationOutcome"):
                    return value
    return "representation"


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def check_format(request: FhirRequest) -> None:
    """http.html#mime: `_format` wins over Accept. We speak JSON only: XML, Turtle or any
    other explicit format gets 406."""
    fmt = request.param("_format")
    if fmt is not None:
        if _media_type(fmt) not in _FORMAT_ALIASES:
            raise NotAcceptable(f"_format={fmt} is not supported; this server speaks application/fhir+json",
                                expression="_format")
        return
    accept = request.header("accept")
    if not accept:
        return
    for item in accept.split(","):
        media = _media_type(item)
        if media in _FORMAT_ALIASES or media in ("*/*", "application/*", "") or media == JSON_PATCH:
            return
    raise NotAcceptable(f"Accept: {accept} is not served; this server speaks application/fhir+json")


def check_body_type(request: FhirRequest, allowed: frozenset[str] = RESOURCE_MEDIA_TYPES) -> None:
    """A body must say it is JSON (415 otherwise). A missing Content-Type is taken as FHIR
    JSON: internal callers (CLI, bundle entries) do not set one."""
    content_type = request.header("content-type")
    if content_type is None:
        return
    media = _media_type(content_type)
    if media not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(empty)'} is not supported here; use {' or '.join(sorted(allowed))}")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", content_type, re.IGNORECASE)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"charset {charset.group(1)} is not supported; FHIR JSON is UTF-8")
