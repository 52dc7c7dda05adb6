"""The search interaction's response: a `searchset` Bundle (http://hl7.org/fhir/R4/http.html#search,
search.html). Matching is the repository's job; this module pages and shapes the result.
Stored bytes are embedded unparsed unless `_summary`/`_elements` ask for a subset.
"""

from __future__ import annotations

from ehelse.fhir import jsoncodec
from ehelse.fhir.interactions import Context
from ehelse.fhir.paging import bundle, embed, full_url, page_links
from ehelse.fhir.request import FhirResponse
from ehelse.fhir.search_request import parse_search
from ehelse.fhir.summary import apply_subset, requested_subset


def search(ctx: Context, type: str | None, path: str) -> FhirResponse:
    query = parse_search(ctx.request.query, ctx.settings)
    summary, elements = requested_subset(ctx.request)
    if summary == "count":  # search.html#summary: only the total
        query.count, query.total = 0, "accurate"
    page = ctx.repo.search(type, query)
    entries = []
    for version in page.entries:
        if summary is None and elements is None:
            resource = embed(version)
        else:
            resource = apply_subset(jsoncodec.loads(version.content, max_depth=10_000), summary, elements)
        entries.append({"fullUrl": full_url(ctx.base_url, version), "resource": resource,
                        "search": {"mode": "match"}})
    links = page_links(ctx.request, path, count=query.count, offset=query.offset, returned=len(entries),
                       total=page.total)
    body = bundle("searchset", page.total, links, entries)
    return FhirResponse(200, body=jsoncodec.dumps(body), interaction="search-type" if type else "search-system")
