"""Bundles of stored versions: paging links and entries that embed stored bytes unparsed.

http://hl7.org/fhir/R4/http.html#paging: links self/first/previous/next/last.

History pages use the plain `_offset` parameter beside `_count`. Search pages
(search.html#paging) use an opaque `_page` token that survives concurrent writes: it holds
the search's snapshot instant (only resources last updated at or before it are seen, on
every page), the offset, and under the default order the key of the previous page's last
row (keyset, so deletions do not shift the next page either). See search/execute.py.
A search URL with `_offset` still works (without the snapshot).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote_plus, urlencode

import orjson

from ehelse.errors import BadRequest
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


# -- search page tokens ----------------------------------------------------------------------
def encode_page(snapshot: str, offset: int, after: tuple[str, str, str] | None) -> str:
    """An opaque, URL-safe token for one page of a search."""
    payload = [snapshot, offset, *(after or ())]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_page(token: str) -> tuple[str, int, tuple[str, str, str] | None]:
    """(snapshot, offset, keyset or None); 400 for a token this server did not make."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        snapshot, offset, *after = payload
        if not isinstance(snapshot, str) or not isinstance(offset, int) or offset < 0 or len(after) not in (0, 3) \
                or not all(isinstance(a, str) for a in after):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest("_page is not a page token of this server", code="value", expression="_page") from None
    return snapshot, offset, (tuple(after) if after else None)  # type: ignore[return-value]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _query(params: list[tuple[str, str]]) -> str:
    """urlencode(params), with the quoting skipped for text quote_plus leaves unchanged
    (codes and ids mostly are: it is the larger part of making a search's links)."""
    return "&".join(f"{k if _UNRESERVED.fullmatch(k) else quote_plus(k)}="
                    f"{v if _UNRESERVED.fullmatch(v) else quote_plus(v)}" for k, v in params)


def page_link(request: FhirRequest, path: str, applied: list[tuple[str, str]], count: int,
              page: str | None = None) -> str:
    """The URL of one page of a search: the parameters applied, `_count` and the page token."""
    kept = [(k, v) for k, v in applied if k not in ("_count", "_offset", "_page")]
    target = f"{request.base_url}/{path}" if path else request.base_url
    head = f"{target}?{_query(kept)}&_count={count}" if kept else f"{target}?_count={count}"
    return f"{head}&_page={page}" if page else head


def search_links(request: FhirRequest, path: str, applied: list[tuple[str, str]], *, count: int, offset: int,
                 snapshot: str, last: ResourceVersion | None, keyset: bool, returned: int,
                 total: int | None) -> list[dict[str, str]]:
    """self/first/previous/next/last for a search page; the URLs carry only the parameters
    that were applied (search.html#errors: lenient handling)."""
    # The applied parameters are encoded once for the up to five links; `_count` is digits
    # and a page token URL-safe base64, which urlencode would leave as they are.
    head = page_link(request, path, applied, count)

    def url(page: str | None) -> str:
        return f"{head}&_page={page}" if page else head

    links = [{"relation": "self", "url": url(encode_page(snapshot, offset, None) if offset else None)},
             {"relation": "first", "url": url(None)}]
    if offset > 0 and count > 0:
        links.append({"relation": "previous", "url": url(encode_page(snapshot, max(0, offset - count), None))})
    has_next = (offset + returned < total) if total is not None else (count > 0 and returned >= count)
    if has_next and count > 0 and last is not None:
        after = (last.last_updated, last.type, last.id) if keyset else None
        links.append({"relation": "next", "url": url(encode_page(snapshot, offset + count, after))})
    if total is not None and count > 0:
        links.append({"relation": "last", "url": url(encode_page(snapshot, max(0, (total - 1) // count * count), None))})
    return links
