"""The storage's search entry point: a SearchQuery -> one page of current resources, as SQL.

http://hl7.org/fhir/R4/search.html. The pieces: search/compile.py gives the SQL condition of
one ordinary parameter; search/chain.py chains and `_has`; here `_list`, compartments
(search.html#compartments, the official CompartmentDefinitions), `_type` (system search),
the order (search/sort.py), stable paging and `_total`; search/include.py adds
`_include`/`_revinclude` to the page.

Stable paging (search.html#paging): a page token carries a snapshot instant and, under the
default order, the key of the previous page's last row (keyset). Every page of one search
sees only resources last updated at or before the snapshot, so later creates and updates
never shift or repeat rows; with the keyset, deletions do not shift rows either. (A
resource updated after the snapshot leaves the later pages: its current version is newer.)
Under a `_sort` the token carries an offset instead of a keyset.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Callable

from ehelse.errors import BadRequest
from ehelse.fhir.resource_types import is_resource_type
from ehelse.search import include as includes
from ehelse.search.chain import chain_condition, is_chained
from ehelse.search.compile import unstorable
from ehelse.search.registry import compartments, registry
from ehelse.search.sort import order_by
from ehelse.storage.protocol import Page, ResourceVersion, SearchParam, SearchQuery

Condition = Callable[[str, SearchParam, str], tuple[str, list[Any]]]
_COLUMNS = "r.type, r.id, r.version_id, r.last_updated, r.method, r.content"
_SAFE = re.compile(r"^[A-Za-z0-9_\-.]+$")


def _literal_list(values: list[str]) -> str:
    for value in values:
        if not _SAFE.match(value):  # data from the CompartmentDefinitions; never user input
            raise ValueError(value)
    return ", ".join(f"'{v}'" for v in values)


def compartment_condition(type: str | None, compartment: tuple[str, str],
                          backend: str = "postgres") -> tuple[str, list[Any]]:
    """Resources in the compartment `Patient/123`: those whose compartment parameters (per
    the CompartmentDefinition) refer to it; for `*` (type None), of every type listed."""
    kind, id = compartment
    members = compartments().get(kind)
    if members is None:
        raise BadRequest(f"There is no {kind} compartment", code="not-supported")
    if type is not None:
        params = members.get(type)
        if not params:
            raise BadRequest(f"{type} is not in the {kind} compartment", code="not-supported")
        sql = (f"r.id IN (SELECT ri.id FROM reference_index ri WHERE ri.target_id = ? AND ri.target_type = ?"
               f" AND ri.type = ? AND ri.param IN ({_literal_list(params)}))")
        args: list[Any] = [id, kind, type]
        if type == kind:  # the compartment's own resource belongs to it
            sql = f"(r.id = ? OR {sql})"
            args = [id, *args]
        return sql, args
    by_type = " OR ".join(f"(ri.type = '{t}' AND ri.param IN ({_literal_list(p)}))"
                          for t, p in sorted(members.items()) if _SAFE.match(t))
    members_sql = (f"SELECT ri.type, ri.id FROM reference_index ri"
                   f" WHERE ri.target_id = ? AND ri.target_type = ? AND ({by_type})")
    if backend == "sqlite":
        # SQLite probes the primary key (type, id) with each row of a plain row-value IN
        # list, but not with a compound (UNION ALL) one: that one it tests against every
        # resource, walking the last_updated index (EXPLAIN QUERY PLAN: 400 ms for one
        # patient's $everything at N=1,000 against 5 ms this way). An OR of two primary
        # key lookups it runs as a MULTI-INDEX OR.
        return f"((r.type, r.id) IN ({members_sql}) OR (r.type = ? AND r.id = ?))", [id, kind, kind, id]
    # The compartment's own resource joins by UNION ALL, not OR: PostgreSQL runs an OR
    # beside an IN as a filter over every resource.
    return f"(r.type, r.id) IN ({members_sql} UNION ALL SELECT ?, ?)", [id, kind, kind, id]


def _list_condition(param: SearchParam) -> tuple[str, list[Any]]:
    # search.html#list: `_list=42` -- the resources that are entries (List.entry.item) of List/42
    if param.modifier or any(v.startswith("$") or not v for v in param.values):
        raise BadRequest("_list takes the id of a List (functional lists are not supported)",
                         code="not-supported", expression="_list")
    unstorable("_list", param.values)
    marks = ", ".join("?" * len(param.values))
    return (f"r.id IN (SELECT ri.target_id FROM reference_index ri WHERE ri.type = 'List' AND ri.param = 'item'"
            f" AND ri.id IN ({marks}) AND ri.target_type = r.type)", list(param.values))


def _some_type_with(param: SearchParam) -> str:
    if param.name == "_list" or registry().common(param.name) is not None:
        return "Patient"
    if not is_chained(param):
        for type in registry().types():
            if registry().get(type, param.name) is not None:
                return type
    raise BadRequest(f"{param.name!r} cannot be searched across types; give a type or one _type",
                     code="not-supported", expression=param.name)


def where(type: str | None, query: SearchQuery, condition: Condition,
          backend: str = "postgres") -> tuple[list[str], list[Any]]:
    """The WHERE conditions (ANDed) and their arguments for the query's selection."""
    conditions, args, _ = _where(type, query, condition, backend)
    return conditions, args


def _where(type: str | None, query: SearchQuery, condition: Condition,
           backend: str) -> tuple[list[str], list[Any], list[SearchParam]]:
    """where(), and the parameters with their drive hints (for generic_safe)."""
    conditions, args = ["NOT r.deleted"], []
    if type is not None:
        conditions.append("r.type = ?")
        args.append(type)
    elif query.types:
        for t in query.types:
            if not is_resource_type(t):
                raise BadRequest(f"_type: {t!r} is not a resource type", code="value", expression="_type")
        conditions.append(f"r.type IN ({', '.join('?' * len(query.types))})")
        args += query.types
    if query.compartment is not None:
        sql, more = compartment_condition(type, query.compartment, backend)
        conditions.append(sql)
        args += more
    if query.access is not None:
        rule = query.access(type, "r")
        if rule:
            conditions.append(rule[0])
            args += rule[1]
        condition = _Guarded(condition, query.access)
    # System search: a parameter's condition correlates on r.type, so one written for any
    # type that has the parameter reads alike on every type (_id, _tag, identifier, ...).
    on = type or (query.types[0] if len(query.types) == 1 else None)
    params = query.params
    _limit_fulltext_words(params)
    if on is not None:
        params = drive_hints(on, params, query.compartment is not None, backend)
    for param in params:
        target = on or _some_type_with(param)
        if on is None and param.name in ("_text", "_content"):
            target = None  # full text matches the type in its index (compile._fulltext): no type here
        if param.name == "_list":
            sql, more = _list_condition(param)
        elif is_chained(param):
            sql, more = chain_condition(target, param, "r", condition)
        else:
            sql, more = condition(target, param, "r")
        conditions.append(sql)
        args += more
    if query.snapshot:
        conditions.append("r.last_updated <= ?")
        args.append(query.snapshot)
    return conditions, args, params


def _limit_fulltext_words(params: list[SearchParam]) -> None:
    """At most fulltext.MAX_QUERY_WORDS words in all the `_text`/`_content` values of one
    search (commas and repeated parameters counted together): each word is an index look-up,
    and in a system search one per resource type (fulltext.fts5_query), so an unbounded list
    of short words made one request cost seconds of CPU (1.5 ms per word, measured)."""
    from ehelse.search import fulltext

    words = 0
    for param in params:
        if param.name in ("_text", "_content"):
            words += sum(len(fulltext.query_words(value)) for value in param.values)
            if words > fulltext.MAX_QUERY_WORDS:
                raise BadRequest(f"{param.name}: at most {fulltext.MAX_QUERY_WORDS} words in the full-text"
                                 " parameters of one search", code="too-costly", expression=param.name)


def _selectivity(type: str, param: SearchParam) -> str | None:
    """How many of the type's resources a parameter selects, for drive_hints: "sharp" (a
    handful: references, identifiers, uris, a day, `_id`, `_list`, `_has`, chains, or a
    caller's drive=True hint), "broad" (drives, but a share that grows with the population:
    name prefixes and full text), "dense" (codes, date ranges, quantities: compile.drives()
    says check per row), "hinted" (a caller's drive=False), None (not ours to judge: errors
    are compile's to report)."""
    from ehelse.search.compile import drives

    if param.drive is not None:
        return "sharp" if param.drive else "hinted"
    if param.name in ("_text", "_content"):
        return "broad"
    if param.name == "_id" and param.modifier in ("not", "missing"):
        # every resource of the type but the few named (or all or none): nothing to start
        # from. As "sharp" it demoted a code beside it to a per-row check, and
        # `Observation?_id:not=x&code=<a code no one has>` walked every Observation at
        # N=10,000 (2.3 s against 16 ms), on a generic plan (generic_safe) too.
        return "dense"
    if param.name in ("_id", "_list") or param.name.startswith("_has:") or is_chained(param):
        return "sharp"
    definition = registry().get(type, param.name)
    if definition is None or definition.strategy in ("unsupported", "column", "composite"):
        return None
    if not drives(definition, param.modifier, param.values):
        return "dense"
    return "broad" if definition.type == "string" else "sharp"


def drive_hints(type: str, params: list[SearchParam], compartment: bool, backend: str) -> list[SearchParam]:
    """Which parameters the query starts from and which it checks per candidate row
    (SearchParam.drive=False, written by compile as a correlated check), once something
    selective starts it (another parameter or the compartment).

    PostgreSQL: the dense parameters, as subplans the planner does not try to reorder: a
    patient's lab trend plans in a third of the time and runs faster (compile._membership).
    Alone, a dense parameter is left to the planner, which may start from its index
    (`Observation?code=X`: 58 ms that way, 1.9 s walking the type).

    SQLite plans the dense ones well but materialises every `IN` list, and a broad one
    grows with the population: beside a sharp parameter or the compartment, names and full
    text are checked per row. Measured at N=10,000: `Patient?family=X&birthdate=Y` listed
    every patient with the family name (1.6x its N=1,000 cost), and
    `Observation?patient=X&_content=blodtrykk` matched 97,935 Observations to keep the
    patient's 9 (213 ms CPU; per row 0.5 ms).

    PostgreSQL also checks a name per row beside a sharp parameter or the compartment (not
    full text, whose GIN index it uses well): `Patient?family=X&birthdate=<day>` is then
    one lookup and a subplan, whose generic plan PostgreSQL takes (generic_safe); as two
    semi-joins it kept planning it per request (server CPU at N=10,000 0.35-0.45 ms)."""
    kinds = [_selectivity(type, p) for p in params]
    if backend == "postgres":
        sharp = compartment or "sharp" in kinds
        started = sharp or "broad" in kinds
        demoted = ["dense" if kind == "dense" or (sharp and kind == "broad" and p.name not in ("_text", "_content"))
                   else None for p, kind in zip(params, kinds)]
    else:
        started = compartment or "sharp" in kinds
        demoted = ["broad" if kind == "broad" else None for kind in kinds]
    if not started or not any(demoted):
        return params
    return [replace(p, drive=False) if kind else p for p, kind in zip(params, demoted)]


class _Guarded:
    """A per-parameter condition that carries the caller's access rule along, so
    search/chain.py applies it to every linked resource of a chain or `_has`."""

    def __init__(self, condition: Condition, access: Any):
        self.condition, self.access = condition, access

    def __call__(self, type: str, param: SearchParam, alias: str) -> tuple[str, list[Any]]:
        return self.condition(type, param, alias)


def legacy_condition(type: str, param: SearchParam, alias: str) -> tuple[str, list[Any]]:
    """The storage layer's own small compiler (storage/sqlsearch.py: _id, _lastUpdated,
    identifier) as a per-parameter condition; used until search/compile.py is there."""
    from ehelse.storage.sqlsearch import SearchCompiler

    compiled = SearchCompiler().compile(None, SearchQuery(params=[param]))
    return re.sub(r"\br\.", alias + ".", " AND ".join(compiled.where)), list(compiled.params)


def default_condition() -> Condition:
    """search/compile.py's per-parameter condition when present, else the legacy one."""
    try:
        from ehelse.search.compile import condition_for
    except ImportError:
        return legacy_condition
    return condition_for


def generic_safe(type: str | None, query: SearchQuery, backend: str,
                 hinted: list[SearchParam] | None = None) -> bool:
    """PostgreSQL: whether the search's statements may run on a prepared statement's generic
    plan, planned once per connection, instead of being planned for every request. Planning
    was most of PostgreSQL's CPU for the selective classes (N=10,000: docs/benchmarks.md,
    fourth session); but a generic plan cannot see the values, so it is used only where the
    SQL's shape leaves the planner no choice that depends on them:
    - one type, and something selective drives: a compartment, or parameters answered from
      a lookup index by equality or a narrow range (references, identifiers, `_id`, `_list`,
      uris, a day, name prefixes), also at the end of a chain or `_has`;
    - every other parameter a per-row check of the candidate's own index rows
      (compile._membership, opaque), whose plan is the same for every value;
    - no full text (its partial GIN indexes need the parameter's name as a literal), no
      `:missing`, composites or `_lastUpdated`, no keyset page (a later page's keyset may
      select few rows or most), and an access rule only if it is all literals.
    Everything else is planned per request, for its own values (PostgresRepository).
    `hinted`: the parameters as drive_hints left them, when the caller has them."""
    if backend != "postgres" or type is None or query.after is not None:
        return False
    chained_access = False
    if query.access is not None:
        rule = query.access(type, "r")
        if rule and rule[1]:
            return False
        chained_access = True  # a chain's linked resources carry a rule of their own (chain._one)
    started = query.compartment is not None
    params = hinted if hinted is not None else drive_hints(type, query.params, started, backend)
    for param in params:
        if param.name == "_list":
            started = True
            continue
        if is_chained(param):
            if chained_access or not _chain_drives(type, param):
                return False
            started = True
            continue
        kind = _selectivity(type, param)
        if kind in ("sharp", "broad") and param.name not in ("_text", "_content") and param.drive is not False:
            if _correlated(type, param):
                return False
            started = True
        elif kind in ("dense", "broad", "hinted") and param.drive is False and param.modifier != "missing" \
                and param.name not in ("_text", "_content"):
            continue  # compile._membership's opaque per-row check
        else:
            return False
    return started


def _chain_drives(type: str, param: SearchParam, depth: int = 0) -> bool:
    """Whether the end of a chain or `_has` (search/chain.py) is a parameter that drives
    (compile.drives), on every type the chain may reach: then each link is an index lookup
    by equality, whatever the values."""
    from ehelse.search.chain import MAX_DEPTH, _next_code, split_key

    if depth >= MAX_DEPTH:
        return False
    if param.name.startswith("_has:"):
        parts = param.name.split(":", 3)
        if len(parts) < 4 or registry().get(parts[1], parts[2]) is None:
            return False
        name, modifier = split_key(parts[3])
        return _end_drives(parts[1], SearchParam(name, modifier, param.values), depth)
    head, rest = param.name.split(".", 1)
    code, _, target = head.partition(":")
    definition = registry().get(type, code)
    if definition is None or definition.type != "reference":
        return False
    name, modifier = split_key(rest)
    inner = SearchParam(name, modifier, param.values)
    nxt = _next_code(rest)  # the target types chain_condition tries
    types = [target] if target else [t for t in definition.targets
                                     if nxt.startswith("_has") or registry().get(t, nxt)]
    return bool(types) and all(_end_drives(t, inner, depth) for t in types)


def _end_drives(type: str, param: SearchParam, depth: int) -> bool:
    if is_chained(param):
        return _chain_drives(type, param, depth + 1)
    return _selectivity(type, param) in ("sharp", "broad") and param.name not in ("_text", "_content") \
        and not _correlated(type, param)


def _correlated(type: str, param: SearchParam) -> bool:
    """Whether compile writes the parameter as a correlated EXISTS even where it drives: the
    parameters common to all types (`_profile`, `_source`, ...; compile.condition_for), which
    the planner may pull up into a join to order by its estimate of the value."""
    from ehelse.search.registry import COLUMN_PARAMS

    if param.name in COLUMN_PARAMS or param.name == "_list":
        return False
    definition = registry().get(type, param.name)
    return definition is not None and (
        definition.url.startswith("http://hl7.org/fhir/SearchParameter/Resource-")
        or definition.url.endswith("DomainResource-text"))


def execute(run: Callable[..., list[tuple]], backend: str, type: str | None,
            query: SearchQuery, condition: Condition) -> Page:
    """Run the search with `run(sql, args, generic) -> rows` (one reading connection);
    `generic`: the statement may run on a generic plan (generic_safe)."""
    if query.count < 0 or query.offset < 0:
        raise BadRequest("_count and the page offset cannot be negative", code="value")
    conditions, args, hinted = _where(type, query, condition, backend)
    generic = generic_safe(type, query, backend, hinted)
    page_conditions, page_args = list(conditions), list(args)
    if query.after is not None and not query.sort:
        page_conditions.append("(r.last_updated > ? OR (r.last_updated = ? AND (r.type > ? OR"
                               " (r.type = ? AND r.id > ?))))")
        last, last_type, last_id = query.after
        page_args += [last, last, last_type, last_type, last_id]
    offset = 0 if query.after is not None and not query.sort else query.offset
    rows: list[tuple] = []
    if query.count > 0:
        order = order_by(type, query.sort)
        if backend == "sqlite" and query.compartment is not None and not query.sort:
            # One record's rows are few: find them through reference_index and sort them. Left
            # to itself SQLite walks the type's whole (type, last_updated) index to skip the
            # sort, testing every row of the type (EXPLAIN QUERY PLAN: 30 ms against 0.3 ms
            # for a patient's Conditions among 19,000; more as the population grows).
            # A unary `+` keeps the order and takes the index out of the planner's choice.
            order = "+" + order
        rows = run(f"SELECT {_COLUMNS} FROM resource r WHERE {' AND '.join(page_conditions)}"
                   f" ORDER BY {order} LIMIT ? OFFSET ?", [*page_args, query.count, offset], generic)
    entries = [ResourceVersion(*row) for row in rows]
    total = _total(run, backend, query, conditions, args, entries, generic)
    extra = includes.included(run, entries, query.include, backend=backend) if query.include else []
    return Page(entries, total, extra)


def _total(run, backend: str, query: SearchQuery, conditions: list[str], args: list[Any],
           entries: list[ResourceVersion], generic: bool = False) -> int | None:
    """search.html#total: none, estimate (PostgreSQL's planner estimate; SQLite has no cheap
    estimate, so it counts), accurate."""
    if query.total == "none":
        return None
    first_page = query.after is None and query.offset == 0
    if first_page and len(entries) < query.count:
        return len(entries)  # the whole result is on this page
    sql = f"SELECT {{}} FROM resource r WHERE {' AND '.join(conditions)}"
    if query.total == "estimate" and backend == "postgres":
        plan = run("EXPLAIN (FORMAT JSON) " + sql.format("1"), args, False)[0][0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])
    return run(sql.format("count(*)"), args, generic)[0][0]
