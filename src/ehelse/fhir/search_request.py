"""Search URL parameters -> storage.SearchQuery (http://hl7.org/fhir/R4/search.html).

Here: the result parameters this router owns (`_count`, `_offset` for paging, `_total`,
`_sort`, and the ones that only shape the output) and the split of every other parameter
into name, modifier and OR-values. The search issue extends this with type-aware parsing.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from ehelse.errors import BadRequest
from ehelse.settings import Settings
from ehelse.storage.protocol import SearchParam, SearchQuery

# Parameters that shape the response rather than select resources (search.html#return).
RESULT_PARAMS = frozenset({"_count", "_offset", "_total", "_sort", "_format", "_pretty", "_summary",
                           "_elements"})
TOTAL_MODES = ("none", "estimate", "accurate")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*(:[A-Za-z0-9_\-.]+)?$")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def parse_query_string(text: str) -> list[tuple[str, str]]:
    """`identifier=a|b&name=x` -> [(name, value), ...] (as in a conditional URL)."""
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise BadRequest(f"Malformed query string: {exc}", code="value") from None


def _int(name: str, value: str, minimum: int) -> int:
    if not value.isdigit() or len(value) > 9 or int(value) < minimum:
        raise BadRequest(f"{name} must be a whole number >= {minimum}, got {value[:40]!r}",
                         code="value", expression=name)
    return int(value)


def page_size(query: list[tuple[str, str]], settings: Settings) -> int:
    """`_count`, capped at settings.max_page_size (search.html#count: the server may return fewer)."""
    for name, value in query:
        if name == "_count":
            return min(_int("_count", value, 0), settings.max_page_size)
    return settings.default_page_size


def page_offset(query: list[tuple[str, str]]) -> int:
    for name, value in query:
        if name == "_offset":
            return _int("_offset", value, 0)
    return 0


def parse_search(query: list[tuple[str, str]], settings: Settings) -> SearchQuery:
    """The SearchQuery for these URL parameters; 400 on malformed result parameters."""
    search = SearchQuery(count=page_size(query, settings), offset=page_offset(query))
    for name, value in query:
        if name == "_total":
            if value not in TOTAL_MODES:
                raise BadRequest(f"_total must be one of {', '.join(TOTAL_MODES)}", code="value", expression="_total")
            search.total = value
        elif name == "_sort":
            for key in value.split(","):
                key = key.strip()
                if not key or key == "-":
                    raise BadRequest(f"_sort has an empty key: {value!r}", code="value", expression="_sort")
                search.sort.append((key.lstrip("-"), key.startswith("-")))
        elif name in RESULT_PARAMS:
            continue
        else:
            search.params.append(search_param(name, value))
    return search


def search_param(name: str, value: str) -> SearchParam:
    """`name[:modifier]=v1,v2` -> SearchParam; a comma escaped as `\\,` stays in the value."""
    if not _NAME.match(name):
        raise BadRequest(f"Malformed search parameter name {name[:80]!r}", code="value", expression=name[:80])
    base, _, modifier = name.partition(":")
    values = tuple(v.replace("\\,", ",") for v in _UNESCAPED_COMMA.split(value))
    return SearchParam(base, modifier or None, values)
