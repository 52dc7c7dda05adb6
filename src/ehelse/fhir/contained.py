"""Search inside contained resources: `_contained` and `_containedType`
(http://hl7.org/fhir/R4/search.html#contained).

    GET /fhir/Medication?code=A02BC01&_contained=true                      -> the containers
    GET /fhir/Medication?code=A02BC01&_contained=true&_containedType=contained -> the Medications

`_contained=false` (the default) is the ordinary indexed search and never sees contained
resources: they have no index rows of their own. For `true` and `both` this module evaluates
the search over the contained resources of the wanted type, with the reference evaluator
(search/reference.py, the spec's matching rules over the JSON) -- no index is involved.

Limits (why: indexing contained resources would add index rows for every container to the
write path, which is being tuned in parallel; this is the smaller, honest first step):
  - the containers are found by scanning the current resources the caller may see (the
    access repository's iter_current, which applies the same access rules and audit);
    beyond SCAN_LIMIT resources the search is refused with 400 `too-costly`;
  - the contained matches come on one page (no next link), unsorted, after the ordinary
    matches of `both`, at most `_count` of them; `_include`/`_revinclude` do not apply to them;
  - a chain or `_has` is evaluated among the contained resources of that one search only;
  - `ap` and other things the reference evaluator declines give 400 (`_text`/`_content`
    follow its full-text rule, search/fulltext.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ehelse.errors import BadRequest
from ehelse.fhir import jsoncodec
from ehelse.storage.protocol import ResourceVersion, SearchParam

SCAN_LIMIT = 200_000  # resources looked at for one _contained search


@dataclass(slots=True)
class ContainedMatch:
    container: ResourceVersion
    resource: dict[str, Any]  # the contained resource as stored inside its container

    @property
    def local_id(self) -> str:
        return str(self.resource.get("id") or "")


def _contained_of(versions: Iterable[ResourceVersion], type: str) -> Iterable[tuple[ResourceVersion, dict]]:
    seen = 0
    for version in versions:
        seen += 1
        if seen > SCAN_LIMIT:
            raise BadRequest(f"_contained searches scan the store; more than {SCAN_LIMIT} resources here",
                             code="too-costly", expression="_contained")
        content = version.content
        if b'"contained"' not in (content if isinstance(content, bytes) else content.encode()):
            continue  # most resources contain nothing: skip the parse
        for inner in jsoncodec.loads(content, max_depth=10_000).get("contained") or []:
            if isinstance(inner, dict) and inner.get("resourceType") == type:
                yield version, inner


def search_contained(versions: Iterable[ResourceVersion], type: str | None,
                     params: list[SearchParam]) -> list[ContainedMatch]:
    """The contained resources of `type` (inside any of `versions`) that match `params`."""
    from ehelse.search.reference import ReferenceEvaluator

    if type is None:
        raise BadRequest("_contained=true|both needs a resource type", code="not-supported",
                         expression="_contained")
    found: dict[str, tuple[ResourceVersion, dict]] = {}
    copies = []
    for version, inner in _contained_of(versions, type):
        # a key unique across containers (contained ids are local to their container)
        key = f"{len(found)}.{version.type}.{version.id}"
        found[key] = (version, inner)
        copies.append({**inner, "id": key})
    evaluator = ReferenceEvaluator(copies)
    try:
        keys = evaluator.search(type, list(params))
    except NotImplementedError as exc:
        raise BadRequest(f"_contained: {exc} is not supported inside contained resources",
                         code="not-supported", expression="_contained") from None
    except (KeyError, ValueError) as exc:
        raise BadRequest(f"_contained: {exc}", code="value", expression="_contained") from None
    return [ContainedMatch(*found[k]) for k in found if k in keys]  # in scan order: stable
