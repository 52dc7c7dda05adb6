"""Bundles of stored versions: paging links and entries that embed stored bytes unparsed.

http://hl7.org/fhir/R4/http.html#paging: links self/first/previous/next/last. Our paging
state is the plain `_offset` parameter beside `_count`, so any page URL can be bookmarked
and read by a person; results are ordered, so an offset is stable enough for a snapshot-free
server (new writes may shift later pages, as the spec allows).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from ehelse.fhir.request import FhirRequest
from ehelse.storage.protocol import ResourceVersion


def embed(version: ResourceVersion) -> orjson.Fragment:
    """The stored JSON of a version, inserted verbatim into a Bundle (no parse, no re-dump)."""
    return orjson.Fragment(version.content)


def full_url(base_url: str, version: ResourceVersion) -> str:
    return f"{base_url}/{version.type}/{version.id}"


def _url(request: FhirRequest, path: str, count: int, offset: int) -> str:
    params = [(k, v) for k, v in request.query if k not in ("_count", "_offset")]
    params += [("_count", str(count)), ("_offset", str(offset))]
    target = f"{request.base_url}/{path}" if path else request.base_url
    return f"{target}?{urlencode(params)}"


def page_links(request: FhirRequest, path: str, *, count: int, offset: int, returned: int,
               total: int | None) -> list[dict[str, str]]:
    links = [{"relation": "self", "url": _url(request, path, count, offset)},
             {"relation": "first", "url": _url(request, path, count, 0)}]
    if offset > 0 and count > 0:
        links.append({"relation": "previous", "url": _url(request, path, count, max(0, offset - count))})
    has_next = (offset + count < total) if total is not None else (count > 0 and returned >= count)
    if has_next and count > 0:
        links.append({"relation": "next", "url": _url(request, path, count, offset + count)})
    if total is not None and count > 0:
        last = max(0, (total - 1) // count * count)
        links.append({"relation": "last", "url": _url(request, path, count, last)})
    return links


def bundle(type: str, total: int | None, links: list[dict[str, str]], entries: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {"resourceType": "Bundle", "type": type}
    if total is not None:
        result["total"] = total
    result["link"] = links
    if entries:
        result["entry"] = entries
    return result
