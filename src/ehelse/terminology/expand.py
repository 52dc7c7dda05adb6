"""ValueSet/$expand: the codes of a value set, filtered for type-ahead and paged.

http://hl7.org/fhir/R4/valueset-operation-expand.html: the result is the ValueSet with an
`expansion` (identifier, timestamp, total, offset, the parameters used, contains). `filter`
is matched as text.py describes; `count`/`offset` page the matches (valueset.html#expansion:
`total` counts all matches, `offset` says where this page starts). Without `count`, an
expansion larger than MAX_UNPAGED is refused with `too-costly` rather than sent whole.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ehelse.errors import BadRequest, NotFound
from ehelse.terminology.registry import terminology_for

MAX_UNPAGED = 10_000
HEADER_KEYS = ("url", "identifier", "version", "name", "title", "status")


def expand(url_or_valueset: str | dict[str, Any], filter: str | None = None, count: int | None = None,
           offset: int | None = None, display_language: str | None = None, *, repo: Any = None) -> dict[str, Any]:
    """The value set (a canonical `url[|version]` or a ValueSet resource) with its expansion."""
    terminology = terminology_for(repo)
    if isinstance(url_or_valueset, dict):
        resource = url_or_valueset
        expansion = terminology.expansion(resource)
    else:
        resource = terminology.valueset_resource(url_or_valueset)
        if resource is None:
            raise NotFound(f"Value set {url_or_valueset} is not known to this server")
        expansion = terminology.expansion(url_or_valueset)
    if not expansion.entries and expansion.missing:
        raise NotFound(f"Cannot expand {expansion.url}: code system {', '.join(expansion.missing)} "
                       f"is not available to this server")
    matches = expansion.search(filter)
    start = offset or 0
    if count is None and len(matches) - start > MAX_UNPAGED:
        raise BadRequest(f"The expansion has {len(matches)} codes: page it with count and offset, or filter it",
                         code="too-costly")
    page = matches[start:start + count] if count is not None else matches[start:]

    languages = display_language and {e.system: terminology.codesystem(e.system) for e in page}
    contains = []
    for entry in page:
        item: dict[str, Any] = {"system": entry.system}
        if entry.version:
            item["version"] = entry.version
        if entry.abstract:
            item["abstract"] = True
        if entry.inactive:
            item["inactive"] = True
        item["code"] = entry.code
        display = entry.display
        if languages and languages.get(entry.system) is not None:
            concept = languages[entry.system].get(entry.code)
            display = concept.display_for(display_language) if concept else display
        if display:
            item["display"] = display
        contains.append(item)

    used = [{"name": "offset", "valueInteger": start}]
    if count is not None:
        used.append({"name": "count", "valueInteger": count})
    if filter:
        used.append({"name": "filter", "valueString": filter})
    if display_language:
        used.append({"name": "displayLanguage", "valueCode": display_language})
    for system in expansion.missing:
        used.append({"name": "warning", "valueString": f"code system {system} is not available: not expanded"})
    out = {"resourceType": "ValueSet", **{k: resource[k] for k in HEADER_KEYS if k in resource}}
    out.setdefault("status", "active")
    out["expansion"] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "total": len(matches),
        "offset": start,
        "parameter": used,
        "contains": contains,
    }
    return out
