"""Chained parameters and reverse chaining (`_has`) as SQL over `reference_index`.

http://hl7.org/fhir/R4/search.html#chaining: `subject:Patient.name=x` selects resources
whose `subject` refers to a Patient whose `name` matches x; links chain further
(`subject.organization.name=x`), and without `:Type` every target type of the reference
parameter that has the next parameter is tried.
http://hl7.org/fhir/R4/search.html#has: `_has:Observation:patient:code=x` selects resources
that some Observation with code x refers to through its `patient` parameter; `_has` nests.

How the URL arrives (search_request.search_param): a chained or `_has` parameter keeps its
whole key as SearchParam.name (`subject:Patient.name:exact`), modifier None; everything
else splits into name and modifier as usual. `split_key` is that rule, shared by the router,
the storage and the reference evaluator.

Each link is an `IN` subquery, so the database can start from the most selective end:

    r.id IN (SELECT ri.id FROM reference_index ri WHERE ri.type = ? AND ri.param = ?
             AND ri.target_type = ? AND ri.target_id IN
                 (SELECT r1.id FROM resource r1 WHERE r1.type = ? AND NOT r1.deleted AND <x on r1>))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ehelse.errors import BadRequest
from ehelse.search.registry import registry
from ehelse.storage.protocol import SearchParam

# condition(type, param, alias) -> (SQL over `resource <alias>`, arguments): one ordinary
# (unchained) parameter; search/compile.py provides it.
Condition = Callable[[str, SearchParam, str], tuple[str, list[Any]]]

MAX_DEPTH = 4  # links in one chain or nested _has; deeper is 400 (too costly)


def split_key(key: str) -> tuple[str, str | None]:
    """URL key -> (SearchParam.name, modifier): chains and `_has` keep the whole key."""
    if key.startswith("_has:") or "." in key:
        return key, None
    name, _, modifier = key.partition(":")
    return name, modifier or None


def is_chained(param: SearchParam) -> bool:
    return param.name.startswith("_has:") or "." in param.name


@dataclass(frozen=True, slots=True)
class Link:
    code: str  # the reference parameter on the referring type
    types: tuple[str, ...]  # the types it may point at here


def _reference_param(type: str, code: str):
    definition = registry().get(type, code)
    if definition is None or definition.type != "reference":
        raise BadRequest(f"{code!r} is not a reference search parameter of {type}", code="not-supported",
                         expression=code)
    return definition


def _next_code(rest: str) -> str:
    return rest.split(".", 1)[0].split(":", 1)[0]


def chain_condition(type: str, param: SearchParam, alias: str, condition: Condition,
                    depth: int = 0) -> tuple[str, list[Any]]:
    """SQL (over `resource <alias>`) for a chained or `_has` parameter."""
    if depth >= MAX_DEPTH:
        raise BadRequest(f"Chains and _has nest at most {MAX_DEPTH} deep", code="too-costly")
    if param.name.startswith("_has:"):
        return _has(type, param, alias, condition, depth)
    head, rest = param.name.split(".", 1)
    code, _, target = head.partition(":")
    definition = _reference_param(type, code)
    if target:
        if target not in definition.targets and definition.targets:
            raise BadRequest(f"{type}.{code} cannot refer to {target}", code="value", expression=param.name)
        types = [target]
    else:
        nxt = _next_code(rest)
        types = [t for t in definition.targets if nxt.startswith("_has") or registry().get(t, nxt)]
        if not types:
            raise BadRequest(f"No target type of {type}.{code} has a search parameter {nxt!r}",
                             code="not-supported", expression=param.name)
    inner_name, inner_modifier = split_key(rest)
    inner = SearchParam(inner_name, inner_modifier, param.values)
    # One IN over a UNION ALL of the target types (not an OR of INs, which PostgreSQL can
    # only run as a filter over every row of the type).
    branches, args = [], []
    for n, target_type in enumerate(types):
        sub = f"c{depth}_{n}"  # deterministic, so the SQL text (and its prepared plan) repeats
        sql, sub_args = _one(target_type, inner, sub, condition, depth)
        branches.append(
            "SELECT ri.id FROM reference_index ri WHERE ri.type = ? AND ri.param = ?"
            f" AND ri.target_type = ? AND ri.target_id IN (SELECT {sub}.id FROM resource {sub}"
            f" WHERE {sub}.type = ? AND NOT {sub}.deleted AND {sql})")
        args += [type, code, target_type, target_type, *sub_args]
    return f"{alias}.id IN ({' UNION ALL '.join(branches)})", args


def _has(type: str, param: SearchParam, alias: str, condition: Condition, depth: int) -> tuple[str, list[Any]]:
    parts = param.name.split(":", 3)
    if len(parts) < 4 or not all(parts[1:]):
        raise BadRequest(f"_has needs _has:Type:reference:parameter, got {param.name!r}", code="value",
                         expression=param.name)
    _, other, code, rest = parts
    from ehelse.fhir.resource_types import is_resource_type

    if not is_resource_type(other):
        raise BadRequest(f"_has: {other!r} is not a resource type", code="value", expression=param.name)
    definition = _reference_param(other, code)
    if definition.targets and type not in definition.targets:
        raise BadRequest(f"_has: {other}.{code} cannot refer to {type}", code="value", expression=param.name)
    inner_name, inner_modifier = split_key(rest)
    sub = f"h{depth}"
    sql, sub_args = _one(other, SearchParam(inner_name, inner_modifier, param.values), sub, condition, depth)
    return (f"{alias}.id IN (SELECT ri.target_id FROM reference_index ri WHERE ri.type = ? AND ri.param = ?"
            f" AND ri.target_type = ? AND ri.id IN (SELECT {sub}.id FROM resource {sub}"
            f" WHERE {sub}.type = ? AND NOT {sub}.deleted AND {sql}))",
            [other, code, type, other, *sub_args])


def _one(type: str, param: SearchParam, alias: str, condition: Condition, depth: int) -> tuple[str, list[Any]]:
    if is_chained(param):
        sql, args = chain_condition(type, param, alias, condition, depth + 1)
    else:
        sql, args = condition(type, param, alias)
    # The caller's access rule (SearchQuery.access, carried by execute.py's condition): a
    # linked resource the actor may not see must not decide whether a match is returned.
    access = getattr(condition, "access", None)
    rule = access(type, alias) if access is not None else None
    if rule:
        return f"{sql} AND {rule[0]}", [*args, *rule[1]]
    return sql, args
