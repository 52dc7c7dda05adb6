"""What every backend does to a resource it stores: give it id, versionId and lastUpdated.

http://hl7.org/fhir/R4/resource.html#Meta: the server sets meta.versionId and
meta.lastUpdated; other meta elements (profile, security, tag, source) are the client's.
The stored JSON keeps the client's element order, with id and meta placed first after
resourceType as the spec's examples do.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from ehelse.errors import BadRequest
from ehelse.fhir import jsoncodec


def now_instant() -> str:
    """Now as a FHIR instant in UTC with microseconds (sortable as text), the same text as
    `datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")`. Every write and every
    audited read stamps one, so the date and time of the current second are formatted once
    and kept (a third of strftime's cost)."""
    global _SECOND
    second, micros = divmod(time.time_ns() // 1000, 1_000_000)
    known = _SECOND
    if known[0] != second:
        known = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{known[1]}.{micros:06d}Z"


_SECOND: tuple[int, str] = (-1, "")  # (a whole second since the epoch, its text); swapped whole


def new_id() -> str:
    """A new resource id: a version 7 UUID (RFC 9562 section 5.7), 48 bits of Unix time in
    milliseconds, then 74 random bits. Ids made one after another sort one after another, so
    a write appends to the right-hand edge of every B-tree keyed by (type, id) -- resource,
    resource_version and each index table's per-resource index -- instead of landing on a
    random page of each: fewer pages dirtied, and written to the WAL, per commit. The price:
    74 random bits instead of a UUID4's 122 (still 2^74 candidates per millisecond), and the
    id tells when the resource was created, as its first version's meta.lastUpdated does."""
    random = int.from_bytes(os.urandom(10), "big")
    value = ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (random >> 62 & 0xFFF) << 64
             | 0x2 << 62 | random & 0x3FFF_FFFF_FFFF_FFFF)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def stamp(resource: dict[str, Any], id: str, version_id: int, last_updated: str) -> bytes:
    """Set id and meta on `resource` (in place) and return its compact JSON."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = last_updated
    ordered: dict[str, Any] = {"resourceType": resource["resourceType"], "id": id, "meta": meta}
    for key, value in resource.items():
        if key not in ordered:
            ordered[key] = value
    resource.clear()
    resource.update(ordered)
    try:
        return jsoncodec.dumps(resource)
    except orjson.JSONEncodeError as exc:
        # A string with a lone surrogate: the JSON escape \ud800 parses into one, but no
        # UTF-8 text (a stored resource, a response body) can hold it. The client's value:
        # 400, not a 500 from the encoder (http.html#create: 400 for content it cannot store).
        if "surrogates" not in str(exc):
            raise
        raise BadRequest(f"A string in the resource is not valid Unicode (a lone surrogate): {exc}",
                         code="value") from None
