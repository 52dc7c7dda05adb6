"""The history interaction at instance, type and system level (http://hl7.org/fhir/R4/http.html#history).

A `history` Bundle, newest first: each entry has fullUrl, the resource (absent for a
deletion), request {method, url} and response {status, etag, lastModified}. `_since` and
`_at` are checked (400 on garbage), `_count`/`_offset` page through (paging.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ehelse.errors import BadRequest, NotFound
from ehelse.fhir import jsoncodec
from ehelse.fhir.interactions import Context, check_id
from ehelse.fhir.paging import bundle, embed, full_url, page_links
from ehelse.fhir.request import FhirResponse
from ehelse.fhir.search_request import page_offset, page_size
from ehelse.storage.protocol import ResourceVersion

# datatypes.html#dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or with a time (and then a zone).
_DATETIME = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$")
_OUT = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_instant(name: str, value: str, *, end_of_period: bool = False) -> str:
    """A FHIR date/dateTime/instant as a UTC instant text comparable with lastUpdated.
    A partial date stands for its start (or, with end_of_period, its last microsecond)."""
    match = _DATETIME.match(value.strip())
    if not match:
        raise BadRequest(f"{name} must be a FHIR instant or date, got {value[:60]!r}", code="value", expression=name)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if hour is None:
            start = datetime(int(year), int(month or 1), int(day or 1), tzinfo=timezone.utc)
            if not end_of_period:
                return start.strftime(_OUT)
            if day:
                end = start + timedelta(days=1)
            elif month:
                end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
            else:
                end = start.replace(year=start.year + 1)
            return (end - timedelta(microseconds=1)).strftime(_OUT)
        text = f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}{(fraction or '')[:7]}"
        moment = datetime.fromisoformat(text + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise BadRequest(f"{name} is not a real date: {value[:60]!r}", code="value", expression=name) from None
    return moment.astimezone(timezone.utc).strftime(_OUT)


def _status(version: ResourceVersion) -> str:
    if version.deleted:
        return "204 No Content"
    return "201 Created" if version.version_id == 1 else "200 OK"


def entry(base_url: str, version: ResourceVersion) -> dict:
    item: dict = {"fullUrl": full_url(base_url, version)}
    if not version.deleted:
        item["resource"] = embed(version)
    url = version.type if version.method == "POST" else f"{version.type}/{version.id}"
    item["request"] = {"method": version.method, "url": url}
    item["response"] = {"status": _status(version), "etag": f'W/"{version.version_id}"',
                        "lastModified": version.last_updated}
    return item


def history(ctx: Context, type: str | None = None, id: str | None = None) -> FhirResponse:
    if id is not None:
        check_id(id)
        if type is not None and ctx.repo.read(type, id) is None:
            raise NotFound(f"{type}/{id} is not known")
    query = ctx.request.query
    since = at = None
    for name, value in query:
        if name == "_since":
            since = parse_instant("_since", value)
        elif name == "_at":
            at = parse_instant("_at", value, end_of_period=True)
    count, offset = page_size(query, ctx.settings), page_offset(query)
    page = ctx.repo.history(type, id, since=since, at=at, count=count, offset=offset)
    path = "/".join(p for p in (type, id, "_history") if p)
    links = page_links(ctx.request, path, count=count, offset=offset, returned=len(page.entries), total=page.total)
    body = bundle("history", page.total, links, [entry(ctx.base_url, v) for v in page.entries])
    level = "history-instance" if id else "history-type" if type else "history-system"
    return FhirResponse(200, body=jsoncodec.dumps(body), interaction=level)
