"""One search parameter -> an SQL condition over the index tables (http://hl7.org/fhir/R4/search.html).

`condition_for(type, param, alias)` is the building block: the condition that a resource row
`<alias>` (of `type`) matches one parsed parameter, all its comma values ORed
(search.html#combining). The caller ANDs parameters, adds `NOT <alias>.deleted` and the
type, and builds chains, `_has` and includes on top (search/execute.py, chain.py).

Two shapes, chosen per parameter by measurement (see `drives`): an indexed `IN` the query
can start from, for the selective kinds (references, identifiers, names, uris),

    r.id IN (SELECT x.id FROM reference_index x WHERE x.type = ? AND x.param = ? AND (<values>))

and a correlated check on the (type, id) index for the dense kinds (codes, dates, ...),

    EXISTS (SELECT 1 FROM token_index x WHERE x.type = r.type AND x.id = r.id AND x.param = ? ...)

Parameters common to all types (`_tag`, `_profile`, `_text`, ...) always use the EXISTS
form, so the same text serves system search.
`:not` and `:not-in` negate the membership (they match resources without any value too,
search.html#modifiers); `:missing` is `[NOT] EXISTS` over any row of the parameter.
Values are SQL arguments, never text in the SQL; `?` placeholders (PostgreSQL's backend
turns them into `%s`). Bad values, prefixes and modifiers raise BadRequest (400) with the
parameter as the OperationOutcome expression.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

from ehelse.errors import BadRequest
from ehelse.fhir.resource_types import is_resource_type
from ehelse.search import fulltext, prefixes
from ehelse.search.normalize import normalize, prefix_upper_bound
from ehelse.search.paths import split_union
from ehelse.search.registry import COLUMN_PARAMS, SearchParameterDef, registry
from ehelse.search.tokens import split_token, token_value
from ehelse.search.units import UCUM, canonical
from ehelse.search.values import parse_reference
from ehelse.storage.protocol import SearchParam, SearchQuery
from ehelse.storage.sqlsearch import CompiledSearch, SearchCompiler

MODIFIERS = {
    "token": {"missing", "text", "not", "above", "below", "in", "not-in", "of-type"},
    "string": {"missing", "exact", "contains"},
    "reference": {"missing", "identifier"},  # plus :[Type]
    "uri": {"missing", "above", "below"},
    "date": {"missing"}, "number": {"missing"}, "quantity": {"missing"}, "composite": {"missing"},
    "special": {"missing"},
}
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
Sql = tuple[str, list[Any]]


def unescape(text: str) -> str:
    """search.html#escaping: `\\,` `\\$` `\\|` `\\\\` are literal characters."""
    return re.sub(r"\\([,$|\\])", r"\1", text)


def bad(code: str, message: str, issue: str = "value") -> BadRequest:
    return BadRequest(message, code=issue, expression=code)


# What no database text holds: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8:
# both drivers' encoders raise, a 500; a JSON body's `\ud800`, e.g. a transaction entry's
# ifNoneExist, makes one). Nothing stored can match either.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(code: str, values: Iterable[str]) -> None:
    """400 for a search value no database can be asked about (see _UNSTORABLE)."""
    for value in values:
        if _UNSTORABLE.search(value):
            what = "a NUL character" if "\x00" in value else "a lone surrogate (not UTF-8)"
            raise bad(code, f"Search parameter {code} has {what}")


# -- the entry point -------------------------------------------------------------------------------
def condition_for(type: str | None, param: SearchParam, alias: str = "r", drive: bool | None = None,
                  backend: str | None = None) -> Sql:
    """SQL over `resource <alias>` for one (unchained) parameter of `type`; `type` None is a
    system search (common parameters only). `drive`: write it as an `IN` the database can
    start from (True) or as a per-row `EXISTS` check (False); None lets `drives()` decide.
    `backend` ('sqlite', 'postgres') picks the full-text index's own syntax; None writes the
    plain SQL both understand (a scan)."""
    code = param.name
    if not param.values or any(v == "" for v in param.values):
        raise bad(code, f"Search parameter {code} has an empty value")
    unstorable(code, param.values)
    definition = registry().get(type, code) if type else registry().common(code)
    if definition is None:
        raise bad(code, f"Unknown search parameter {code!r} for {type or 'all types'}", "not-supported")
    if definition.strategy == "unsupported":
        raise bad(code, f"Search parameter {code!r} is not supported", "not-supported")
    modifier = param.modifier
    _check_modifier(definition, modifier)
    if code in COLUMN_PARAMS:
        return _column(code, modifier, param.values, alias)
    common = definition.url.startswith("http://hl7.org/fhir/SearchParameter/Resource-") or \
        definition.url.endswith("DomainResource-text")
    if modifier == "missing":
        return _missing(definition, param.values, alias, common)
    if definition.strategy == "fulltext":
        per_row = drive is False or (drive is None and param.drive is False)
        return _fulltext(definition, param.values, alias, None if per_row else backend, type)
    # PostgreSQL: a parameter a caller says not to drive from is an opaque per-row check (see
    # _membership); left to the planner it becomes one more semi-join to order.
    opaque = backend == "postgres" and (drive is False or (drive is None and param.drive is False))
    if drive is None:  # a caller's hint (SearchParam.drive, internal look-ups only) first
        drive = param.drive if param.drive is not None else drives(definition, modifier, param.values)
    if definition.strategy == "composite":
        return _or([_composite(definition, value, alias, drive) for value in param.values])
    table, row_param = definition.table, code
    if modifier in ("identifier", "of-type"):
        table, row_param = "token_index", f"{code}:{modifier}"
    alternatives = [value_condition(definition, value, modifier, "x") for value in param.values]
    where = " OR ".join(sql for sql, _ in alternatives)
    args = [a for _, more in alternatives for a in more]
    negate = "NOT " if modifier in ("not", "not-in") else ""
    return _membership(table, row_param, f"({where})", args, alias, type, common or not drive, negate, opaque)


def drives(definition: SearchParameterDef, modifier: str | None, values: tuple[str, ...] = ()) -> bool:
    """Whether a parameter usually selects few resources, so a query should start from its
    index rows (`r.id IN (SELECT ...)`); otherwise it is checked per candidate row with a
    correlated EXISTS on the (type, id) index.

    Measured on a seeded population (1,000 patients, SQLite): SQLite materialises every
    `IN` list it does not start from, so `patient=X&code=<common LOINC>&date=ge2020` took
    315 ms with three `IN`s and 0.3 ms with `patient` as the `IN` and the others as EXISTS;
    `code=<common LOINC>` alone took 162 ms as an `IN` and 0.2 ms as EXISTS walking the
    type in `_lastUpdated` order. References, identifiers, strings (names) and uris are the
    selective kinds, and so is a date to the day or finer (`date=2019-03-05` took 278 ms
    as EXISTS, a scan of the type); codes, date ranges and quantities are dense in clinical
    data. PostgreSQL plans both forms alike (semi-joins it may start from either side)."""
    if modifier in ("missing", "not", "not-in", "contains", "text", "above", "below"):
        return modifier == "below" and definition.type == "uri"
    if definition.type in ("reference", "string", "uri"):
        return True
    if definition.type == "date":  # one day or less, no range prefix
        return bool(values) and all(_is_day_or_finer(v) for v in values)
    if definition.type == "token":
        return modifier in ("identifier", "of-type") or definition.code == "identifier" or \
            _names_identifiers(definition.expression or "-")
    return False


@lru_cache(maxsize=4096)
def _names_identifiers(expression: str) -> bool:
    # split_union parses the expression (0.5 ms for a long one): once per expression, not
    # per request
    return all(part.endswith(".identifier") for part in split_union(expression))


def _is_day_or_finer(value: str) -> bool:
    prefix, text = value[:2], value
    if prefix.isalpha():
        if prefix != "eq":
            return False
        text = value[2:]
    return len(text) >= 10  # YYYY-MM-DD or longer


def _membership(table: str, row_param: str, where: str, args: list, alias: str, type: str | None,
                correlated: bool, negate: str = "", opaque: bool = False) -> Sql:
    if opaque and type is not None:
        # PostgreSQL, beside a parameter that drives (search/execute.py): a subplan run per
        # candidate row over that row's own index rows only. `OFFSET 0` keeps the EXISTS a
        # subplan instead of a semi-join to reorder (simplify_EXISTS_query gives up on an
        # OFFSET; lab trend at N=1,000, EXPLAIN ANALYZE medians: planning 1.09 -> 0.32 ms,
        # execution 0.61 -> 0.17 ms, the same rows). The inner `OFFSET 0` keeps the value
        # test out of the index scan (no qual is pushed into a subquery with an OFFSET), so
        # the rows are found through the (type, id) index whatever the planner thinks of
        # the value: a generic plan (search/execute.py: generic_safe), which cannot see
        # the value, took a common LOINC code for a rare one and probed every index row of
        # that code per candidate (lab trend at N=1,000: 32 ms against 0.2 ms).
        return (f"{negate}EXISTS (SELECT 1 FROM (SELECT * FROM {table} x WHERE x.type = {alias}.type"
                f" AND x.id = {alias}.id OFFSET 0) x WHERE x.param = ? AND {where} OFFSET 0)", [row_param, *args])
    if correlated or type is None:
        tail = " OFFSET 0" if opaque else ""
        return (f"{negate}EXISTS (SELECT 1 FROM {table} x WHERE x.type = {alias}.type AND x.id = {alias}.id"
                f" AND x.param = ? AND {where}{tail})", [row_param, *args])
    return (f"{alias}.id {negate}IN (SELECT x.id FROM {table} x WHERE x.type = ? AND x.param = ? AND {where})",
            [type, row_param, *args])


def _or(parts: list[Sql]) -> Sql:
    if len(parts) == 1:
        return parts[0]
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [a for _, args in parts for a in args]


def _check_modifier(definition: SearchParameterDef, modifier: str | None) -> None:
    if modifier is None:
        return
    allowed = MODIFIERS.get(definition.type, {"missing"})
    if definition.code in ("_id", "_lastUpdated"):
        allowed = {"missing", "not"} if definition.code == "_id" else {"missing"}
    if modifier in allowed:
        return
    if definition.type == "reference" and is_resource_type(modifier):
        if definition.targets and modifier not in definition.targets:
            raise bad(definition.code, f"{definition.code} cannot refer to {modifier}")
        return
    raise bad(definition.code, f"Modifier :{modifier} is not valid on {definition.type} parameter "
                               f"{definition.code}")


# -- per value, per type: a condition over index row alias x ------------------------------------------
def value_condition(definition: SearchParameterDef | Any, value: str, modifier: str | None, x: str) -> Sql:
    """One value of one parameter (or composite component) on index row `x`."""
    kind, code = definition.type, definition.code
    if kind == "token":
        return token_value(code, value, modifier, x)
    if kind == "string":
        return _string(code, unescape(value), modifier, x)
    if kind == "date":
        prefix, text = prefixes.split_prefix(value, code)
        low, high = prefixes.search_date_range(text, code)
        return prefixes.date_condition(prefix, low, high, x)
    if kind == "number":
        prefix, text = prefixes.split_prefix(value, code)
        return prefixes.number_condition(prefix, *prefixes.parse_number(text, code), f"{x}.value")
    if kind == "quantity":
        return _quantity(code, value, x)
    if kind == "reference":
        return _reference(definition, unescape(value), modifier, x)
    if kind == "uri":
        return _uri(code, unescape(value), modifier, x)
    raise bad(code, f"Search parameter {code} of type {kind} is not supported", "not-supported")


def _string(code: str, value: str, modifier: str | None, x: str) -> Sql:
    norm = normalize(value)[:512]
    if modifier == "exact":  # search.html#string: exact, case- and accent-sensitive
        # through the normalised value first: that is what the index is on
        return f"({x}.value = ? AND {x}.exact = ?)", [norm, value[:512]]
    if not norm:
        raise bad(code, f"{code}: nothing to search for in {value!r}")
    if modifier == "contains":
        pattern = "%" + norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return f"{x}.value LIKE ? ESCAPE '\\'", [pattern]
    return f"({x}.value >= ? AND {x}.value < ?)", [norm, prefix_upper_bound(norm)]


def _quantity(code: str, value: str, x: str) -> Sql:
    # search.html#quantity: [prefix]number|system|code, number||code, number
    parts = _UNESCAPED_BAR.split(value)
    if len(parts) not in (1, 3):
        raise bad(code, f"{code}: {value!r} is not number|system|code")
    prefix, text = prefixes.split_prefix(parts[0], code)
    number, low, high = prefixes.parse_number(text, code)
    if len(parts) == 1:
        return prefixes.number_condition(prefix, number, low, high, f"{x}.value")
    system, unit = unescape(parts[1]), unescape(parts[2])
    converted = canonical(unit, number) if unit and system in ("", UCUM) else None
    if converted is not None:  # compare in the canonical unit, so mg finds g (units.py)
        _, c_low = canonical(unit, low)
        _, c_high = canonical(unit, high)
        sql, args = prefixes.number_condition(prefix, converted[1], c_low, c_high, f"{x}.canonical_value")
        return f"({x}.canonical_code = ? AND {sql})", [converted[0], *args]
    sql, args = prefixes.number_condition(prefix, number, low, high, f"{x}.value")
    conditions, more = [], []
    if system:
        conditions.append(f"{x}.system = ?")
        more.append(system)
    if unit:
        conditions.append(f"{x}.code = ?")
        more.append(unit)
    return "(" + " AND ".join([*conditions, sql]) + ")", [*more, *args]


def _reference(definition: SearchParameterDef, value: str, modifier: str | None, x: str) -> Sql:
    # search.html#reference: Type/id, id, an absolute URL, canonical url|version; :Type; :identifier
    if modifier == "identifier":
        return token_value(definition.code, value, None, x)
    if modifier:  # :Patient with a bare id (or Patient/id)
        ref_id = value.split("/")[-1] if value.startswith(modifier + "/") else value
        return f"({x}.target_type = ? AND {x}.target_id = ?)", [modifier, ref_id]
    if "://" in value or value.startswith("urn:"):
        url, _, version = value.partition("|")
        ref_type, ref_id, url, _ = parse_reference(url)
        sql, args = f"({x}.url = ? AND {x}.url <> '')", [url]  # `<> ''`: the partial index
        if version:
            sql, args = f"({sql} AND {x}.version = ?)", [*args, version]
        if ref_type and ref_id and not version:  # our own server's absolute URL: a local reference
            sql, args = f"({sql} OR ({x}.target_type = ? AND {x}.target_id = ?))", [*args, ref_type, ref_id]
        return sql, args
    if "/" in value:
        ref_type, ref_id, _, _ = parse_reference(value)
        if not ref_type or not ref_id:
            raise bad(definition.code, f"{definition.code}: {value!r} is not Type/id")
        return f"({x}.target_type = ? AND {x}.target_id = ?)", [ref_type, ref_id]
    return f"{x}.target_id = ?", [value]


def _uri(code: str, value: str, modifier: str | None, x: str) -> Sql:
    # search.html#uri: exact; :below (the value is a prefix of the stored uri); :above (a
    # stored uri is a prefix of the value, at path boundaries)
    if modifier == "below":
        return f"({x}.value >= ? AND {x}.value < ?)", [value, prefix_upper_bound(value)]
    if modifier == "above":
        stems = [value[:i] for i in range(len(value), 0, -1) if i == len(value) or value[i] == "/"]
        return f"{x}.value IN ({', '.join('?' * len(stems))})", stems
    return f"{x}.value = ?", [value]


# -- _id, _lastUpdated: columns of the resource table ---------------------------------------------------
def _column(code: str, modifier: str | None, values: tuple[str, ...], alias: str) -> Sql:
    if modifier == "missing":  # every resource has an id and a lastUpdated
        return ("1 = 1", []) if values == ("false",) else ("1 = 0", [])
    if code == "_id":  # a token without a system: `x`, `|x` (search.html#token)
        ids = []
        for value in values:
            system, token = split_token(value)
            if not system:  # `system|x`: an id has no system, so it never matches
                ids.append(token)
        if not ids:
            return ("1 = 1", []) if modifier == "not" else ("1 = 0", [])
        negate = "NOT " if modifier == "not" else ""
        return f"{alias}.id {negate}IN ({', '.join('?' * len(ids))})", ids
    parts = []
    for value in values:
        prefix, text = prefixes.split_prefix(value, code)
        low, high = prefixes.search_date_range(text, code)
        # a lastUpdated is an instant: the target range is [t, t] (search.html#date)
        parts.append(_point(prefix, low, high, f"{alias}.last_updated"))
    return _or(parts)


def _point(prefix: str, low: str, high: str, column: str) -> Sql:
    return {
        "eq": (f"({column} >= ? AND {column} < ?)", [low, high]),
        "ne": (f"({column} < ? OR {column} >= ?)", [low, high]),
        "gt": (f"{column} >= ?", [high]), "sa": (f"{column} >= ?", [high]),
        "lt": (f"{column} < ?", [low]), "eb": (f"{column} < ?", [low]),
        "ge": (f"{column} >= ?", [low]), "le": (f"{column} < ?", [high]),
        "ap": (f"({column} >= ? AND {column} < ?)", list(prefixes._widen(low, high))),
    }[prefix]


# -- :missing, full text, composite ---------------------------------------------------------------------
def _missing(definition: SearchParameterDef, values: tuple[str, ...], alias: str, common: bool) -> Sql:
    # search.html#missing: true -> no value at all; false -> some value
    if any(v not in ("true", "false") for v in values) or len(set(values)) > 1:
        raise bad(definition.code, f"{definition.code}:missing takes true or false")
    table, row_param = definition.table, definition.code
    if definition.strategy == "composite":
        table, row_param = definition.components[0].table, f"{definition.code}$0"
    elif definition.strategy == "fulltext":
        table = "text_index"
    present = _membership(table, row_param, "1 = 1", [], alias, definition.resource_type, True)
    if definition.type == "reference":  # a Reference with only an identifier is a value too
        by_identifier = _membership("token_index", f"{row_param}:identifier", "1 = 1", [], alias,
                                    definition.resource_type, True)
        present = _or([present, by_identifier])
    return (f"NOT {present[0]}" if values[0] == "true" else present[0]), present[1]


def _fulltext(definition: SearchParameterDef, values: tuple[str, ...], alias: str, backend: str | None,
              type: str | None) -> Sql:
    """`_text`/`_content` (search.html#text, #content): every word of a value, folded and
    stemmed (search/fulltext.py), must start a word of the narrative / of the resource's
    strings. Through the full-text indexes of the backend: SQLite's FTS5 tables text_fts
    (`_text`) and content_fts (`_content`), whose rowid is text_index.seq, PostgreSQL's
    partial GIN indexes on text_index.words_tsv (migrations 0009).
    Always an uncorrelated (type, id) list, which serves a system search too (these
    parameters are common to all types): SQLite either starts from it or probes it per
    candidate; inside a correlated EXISTS it would run the full-text match again for every
    candidate row (measured: 8 s to count the Observations with `blodtrykk` at N=1,000).
    `type` (None in a system search, search/execute.py) is matched inside the index too.
    Without a backend, the plain SQL both understand: LIKE on the words of each candidate's
    text_index row, a correlated check, which is what a caller asks for when something else
    (a compartment, a patient) selects the few candidates (drive=False, search/execute.py);
    the same rule as the index's, since its documents are those words."""
    if type is not None and not (type.isascii() and type.isalpha()):
        type = None  # not a resource type's name: leave the type to the caller's r.type = ?
    parts = []
    for value in values:
        words = fulltext.query_words(unescape(value))
        if not words:
            raise bad(definition.code, f"{definition.code}: no words in {value!r}")
        if backend == "sqlite":
            table = "text_fts" if definition.code == "_text" else "content_fts"
            where, args = f"x.seq IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)", [fulltext.fts5_query(words, type)]
        elif backend == "postgres":
            where, args = "x.words_tsv @@ ?::tsquery", [fulltext.tsquery(words, type)]
        else:  # the words as ' w1 w2 ... ' (storage/index.py): a word start is ' w'
            where = "(" + " AND ".join(["x.words LIKE ? ESCAPE '\\'"] * len(words)) + ")"
            args = ["% " + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
        if backend is None:
            parts.append(_membership("text_index", definition.code, where, args, alias, None, True))
        else:
            parts.append((f"({alias}.type, {alias}.id) IN (SELECT x.type, x.id FROM text_index x"
                          f" WHERE x.param = ? AND {where})", [definition.code, *args]))
    return _or(parts)


def _composite(definition: SearchParameterDef, value: str, alias: str, drive: bool) -> Sql:
    # search.html#composite: `a$b`, each part a value of its component, all from one element
    pieces = _UNESCAPED_DOLLAR.split(value)
    components = definition.components
    if len(pieces) != len(components):
        raise bad(definition.code, f"{definition.code} takes {len(components)} values joined by $")
    sql, args = "", []
    for i in range(len(components) - 1, -1, -1):
        component = components[i]
        x = f"c{i}"
        try:
            cond, more = value_condition(component, pieces[i], None, x)
        except BadRequest as exc:  # name the composite the client sent, not its component
            raise bad(definition.code, f"{definition.code}: {exc}") from None
        if i == 0 and drive:
            sql = (f"{alias}.id IN (SELECT {x}.id FROM {component.table} {x} WHERE {x}.type = ?"
                   f" AND {x}.param = ? AND {cond}{sql})")
            args = [definition.resource_type, f"{definition.code}$0", *more, *args]
        elif i == 0:
            sql = (f"EXISTS (SELECT 1 FROM {component.table} {x} WHERE {x}.type = {alias}.type"
                   f" AND {x}.id = {alias}.id AND {x}.param = ? AND {cond}{sql})")
            args = [f"{definition.code}$0", *more, *args]
        else:
            inner = (f" AND EXISTS (SELECT 1 FROM {component.table} {x} WHERE {x}.type = c0.type"
                     f" AND {x}.id = c0.id AND {x}.grp = c0.grp AND {x}.param = ? AND {cond}{sql})")
            sql, args = inner, [f"{definition.code}${i}", *more, *args]
    return sql, args


# -- what the repository reports ------------------------------------------------------------------------
def supported(type: str) -> dict[str, str]:
    """The parameters this server evaluates for the type: code -> FHIR search type (a fresh
    dict; made once per type and copied, since every search request asks)."""
    made = _SUPPORTED.get(type)
    if made is None or made[0] is not registry():
        made = (registry(), {code: p.type for code, p in registry().searchable(type).items()})
        if made[1]:  # a known type (never grow the memo on names from a URL)
            _SUPPORTED[type] = made
    return dict(made[1])


_SUPPORTED: dict[str, tuple[Any, dict[str, str]]] = {}


class RegistryCompiler:
    """The repository's compiler: the registry's parameters (storage/sqlrepo.py asks it for
    `supported` and `condition`), in the SQL of its backend."""

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def supported(self, type: str) -> dict[str, str]:
        return supported(type)

    def condition(self, type: str | None, param: SearchParam, alias: str = "r") -> Sql:
        return condition_for(type, param, alias, backend=self.backend)

    def compile(self, type: str | None, query: SearchQuery) -> CompiledSearch:
        """The whole selection as storage/sqlsearch.py's CompiledSearch (for callers of the
        storage layer's older interface; search/execute.py uses `condition`)."""
        out = CompiledSearch()
        if type is not None:
            out.where.append("r.type = ?")
            out.params.append(type)
        for param in query.params:
            sql, args = condition_for(type, param, "r", backend=self.backend)
            out.where.append(sql)
            out.params.extend(args)
        if query.sort:
            legacy = SearchCompiler()
            out.order_by = legacy.compile(type, SearchQuery(sort=query.sort)).order_by
        return out
