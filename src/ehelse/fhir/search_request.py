"""Search URL parameters -> storage.SearchQuery (http://hl7.org/fhir/R4/search.html).

Here: the result parameters the router owns (`_count`, `_offset`/`_page` for paging,
`_total`, `_sort`, `_include`/`_revinclude`, `_type`, `_contained`, and the ones that only
shape the output), the split of every other parameter into name, modifier and OR-values,
and the strict/lenient rule of search.html#errors: with `Prefer: handling=strict` an unknown
or unsupported parameter is 400; leniently (the default) it is dropped, and the self link
shows only the parameters that were applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ehelse.errors import BadRequest
from ehelse.search.chain import split_key
from ehelse.settings import Settings
from ehelse.storage.protocol import SearchParam, SearchQuery

# Parameters that shape the response rather than select resources (search.html#return).
RESULT_PARAMS = frozenset({"_count", "_offset", "_total", "_sort", "_format", "_pretty", "_summary",
                           "_elements", "_include", "_revinclude", "_include:iterate", "_revinclude:iterate",
                           "_include:recurse", "_revinclude:recurse", "_contained", "_containedType", "_page",
                           "_type"})
TOTAL_MODES = ("none", "estimate", "accurate")
CONTAINED_MODES = ("true", "false", "both")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*(:[A-Za-z0-9_\-.$]+)*$")
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


@dataclass(slots=True)
class SearchRequest:
    """A parsed search: the query for storage, what shapes the output, and the parameters
    actually applied (for the self link)."""

    query: SearchQuery
    applied: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    contained: str = "false"
    contained_type: str = "container"


def parse_search(query: list[tuple[str, str]], settings: Settings) -> SearchQuery:
    """The SearchQuery for these URL parameters; 400 on malformed result parameters."""
    return parse_request(query, settings).query


def parse_request(query: list[tuple[str, str]], settings: Settings, type: str | None = None, *,
                  supported: dict[str, str] | None = None, strict: bool = False) -> SearchRequest:
    """Parse every URL parameter. `supported`: the parameters the repository evaluates for
    `type` (name -> search type); a parameter outside it is 400 when `strict`, else ignored."""
    from ehelse.search.include import parse_include

    search = SearchQuery(count=page_size(query, settings), offset=page_offset(query))
    out = SearchRequest(search)
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
        elif name.startswith(("_include", "_revinclude")) and name in RESULT_PARAMS:
            base, _, modifier = name.partition(":")
            search.include.append(parse_include(value, iterate=bool(modifier), reverse=base == "_revinclude"))
        elif name == "_type":
            search.types += [t.strip() for t in value.split(",") if t.strip()]
        elif name == "_contained":
            if value not in CONTAINED_MODES:
                raise BadRequest(f"_contained must be one of {', '.join(CONTAINED_MODES)}", code="value",
                                 expression="_contained")
            out.contained = value
        elif name == "_containedType":
            if value not in ("container", "contained"):
                raise BadRequest("_containedType must be container or contained", code="value",
                                 expression="_containedType")
            out.contained_type = value
        elif name in RESULT_PARAMS:
            if name not in ("_summary", "_elements"):
                continue
            # They change what every page holds, so the paging links carry them on
            # (search.html#paging: the links continue the same search).
        else:
            param = search_param(name, value)
            if supported is not None and not _is_supported(param, supported):
                if strict:
                    raise BadRequest(f"Unknown or unsupported search parameter {name[:80]!r}",
                                     code="not-supported", expression=name[:80])
                out.ignored.append(name)
                continue
            search.params.append(param)
        out.applied.append((name, value))
    return out


def _is_supported(param: SearchParam, supported: dict[str, str]) -> bool:
    # Chains and _has are checked link by link when compiled (400 for a bad link).
    if param.name.startswith("_has:") or "." in param.name:
        return param.name.split(".", 1)[0].split(":", 1)[0] in supported or param.name.startswith("_has:")
    return param.name in supported or param.name == "_list"


def search_param(name: str, value: str) -> SearchParam:
    """`name[:modifier]=v1,v2` -> SearchParam; a comma escaped as `\\,` stays in the value.
    Chained and `_has` keys keep their whole key as the name (search/chain.py)."""
    if not _NAME.match(name):
        raise BadRequest(f"Malformed search parameter name {name[:80]!r}", code="value", expression=name[:80])
    base, modifier = split_key(name)
    values = tuple(v.replace("\\,", ",") for v in _UNESCAPED_COMMA.split(value))
    return SearchParam(base, modifier, values)
