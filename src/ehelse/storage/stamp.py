"""What every backend does to a resource it stores: give it id, versionId and lastUpdated.

http://hl7.org/fhir/R4/resource.html#Meta: the server sets meta.versionId and
meta.lastUpdated; other meta elements (profile, security, tag, source) are the client's.
The stored JSON keeps the client's element order, with id and meta placed first after
resourceType as the spec's examples do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

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
    return str(uuid.uuid4())


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
    return jsoncodec.dumps(resource)
