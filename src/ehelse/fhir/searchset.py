"""The search interaction's response: a `searchset` Bundle (http://hl7.org/fhir/R4/http.html#search,
search.html). Matching is the repository's job; this module parses, pages and shapes the
result. Stored bytes are embedded unparsed unless `_summary`/`_elements` ask for a subset.

Also compartment search (search.html#compartments: `Patient/123/Observation`,
`Patient/123/*`) and system search with `_type`: the same path with the compartment or the
types set on the query.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ehelse.fhir import jsoncodec
from ehelse.fhir.contained import search_contained
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle, decode_page, embed, full_url, search_links
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.search_request import SearchRequest, parse_request
from ehelse.fhir.summary import apply_subset, requested_subset
from ehelse.storage.protocol import ResourceVersion
from ehelse.storage.stamp import now_instant


def strict_handling(request: FhirRequest) -> bool:
    """`Prefer: handling=strict` (search.html#errors); lenient is the default."""
    prefer = request.header("prefer") or ""
    return any(part.strip().replace(" ", "") == "handling=strict" for part in prefer.split(";") + prefer.split(","))


def supported_params(ctx: Context, type: str | None, types: list[str]) -> dict[str, str]:
    """What the repository evaluates here; across types, only the parameters all types share."""
    if type is not None or len(types) == 1:
        return ctx.repo.supported_search_params(type or types[0])
    return {name: kind for name, kind in ctx.repo.supported_search_params("Patient").items()
            if name.startswith("_")}  # the parameters of every resource: _id, _lastUpdated, _tag, ...


def parse(ctx: Context, type: str | None) -> SearchRequest:
    query = ctx.request.query
    types = [t for k, v in query if k == "_type" for t in v.split(",") if t]
    strict = strict_handling(ctx.request)
    return parse_request(query, ctx.settings, type, supported=supported_params(ctx, type, types), strict=strict)


def search(ctx: Context, type: str | None, path: str, *, compartment: tuple[str, str] | None = None) -> FhirResponse:
    parsed = parse(ctx, type)
    query = parsed.query
    query.compartment = compartment
    token = ctx.request.param("_page")
    if token is not None:
        query.snapshot, query.offset, query.after = decode_page(token)
    else:
        query.snapshot = now_instant()
    summary, elements = requested_subset(ctx.request)
    if summary == "count":  # search.html#summary: only the total
        query.count, query.total, query.include = 0, "accurate", []
    if parsed.contained != "false":
        return _search_contained(ctx, type, path, parsed, summary, elements)
    page = ctx.repo.search(type, query)
    entries = [_entry(ctx, v, summary, elements, "match") for v in page.entries]
    entries += [_entry(ctx, v, summary, elements, "include") for v in page.included]
    links = search_links(ctx.request, path, parsed.applied, count=query.count, offset=query.offset,
                         snapshot=query.snapshot, last=page.entries[-1] if page.entries else None,
                         keyset=not query.sort, returned=len(page.entries), total=page.total)
    body = bundle("searchset", page.total, links, entries)
    return FhirResponse(200, body=jsoncodec.dumps(body),
                        interaction="search-type" if type or compartment else "search-system")


def _search_contained(ctx: Context, type: str | None, path: str, parsed: SearchRequest,
                      summary: str | None, elements: list[str] | None) -> FhirResponse:
    """search.html#contained: `_contained=true` searches the contained resources only,
    `both` the ordinary ones too; `_containedType=container` returns their containers (once
    each), `contained` the contained resources themselves, with the container's URL and
    `#id` as fullUrl. One page; the limits are in fhir/contained.py."""
    query = parsed.query
    entries: list[dict[str, Any]] = []
    total = 0
    if parsed.contained == "both":
        page = ctx.repo.search(type, query)
        entries += [_entry(ctx, v, summary, elements, "match") for v in page.entries]
        entries += [_entry(ctx, v, summary, elements, "include") for v in page.included]
        total = page.total or len(page.entries)
    matches = search_contained(ctx.repo.iter_current(), type, query.params)
    if parsed.contained_type == "container":
        containers = list({(m.container.type, m.container.id): m.container for m in matches}.values())
        total += len(containers)
        entries += [_entry(ctx, v, summary, elements, "match") for v in containers[:max(query.count, 0)]]
    else:
        total += len(matches)
        for match in matches[:max(query.count, 0)]:
            resource = match.resource if summary is None and elements is None else \
                apply_subset(match.resource, summary, elements)
            entries.append({"fullUrl": f"{full_url(ctx.base_url, match.container)}#{match.local_id}",
                            "resource": resource, "search": {"mode": "match"}})
    self_url = f"{ctx.request.base_url}/{path}" if path else ctx.request.base_url
    query_text = "&".join(f"{k}={quote(v, safe='|,:/')}" for k, v in parsed.applied)
    links = [{"relation": "self", "url": self_url + ("?" + query_text if query_text else "")}]
    body = bundle("searchset", total if query.total != "none" else None, links, entries)
    return FhirResponse(200, body=jsoncodec.dumps(body), interaction="search-type")


def _entry(ctx: Context, version: ResourceVersion, summary: str | None, elements: list[str] | None,
           mode: str) -> dict[str, Any]:
    if summary is None and elements is None:
        resource: Any = embed(version)
    else:
        resource = apply_subset(jsoncodec.loads(version.content, max_depth=10_000), summary, elements)
    return {"fullUrl": full_url(ctx.base_url, version), "resource": resource, "search": {"mode": mode}}
