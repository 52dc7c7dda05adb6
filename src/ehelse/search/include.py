"""`_include` and `_revinclude` (http://hl7.org/fhir/R4/search.html#include), over
`reference_index`.

    _include=Observation:subject            the resources the matches refer to by `subject`
    _include=Observation:subject:Patient    ... only those that are Patients
    _include=Observation:*                  ... by any reference parameter
    _revinclude=Provenance:target           the Provenances that refer to the matches
    _include:iterate=Patient:organization   also applied to included resources, repeatedly

Included resources come back with `search.mode = include`, each once, never one that is a
match already. To bound a response, at most MAX_INCLUDED resources are included and
:iterate stops after MAX_ROUNDS rounds (the spec lets a server limit iteration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ehelse.errors import BadRequest
from ehelse.fhir.resource_types import is_resource_type
from ehelse.search.registry import registry
from ehelse.storage.protocol import ResourceVersion

MAX_INCLUDED = 1000
MAX_ROUNDS = 4
_BATCH = 400  # ids per IN list
_COLUMNS = "r.type, r.id, r.version_id, r.last_updated, r.method, r.content"

# run(sql, args, generic) -> rows; the repository's reading connection with its placeholder
# style. `generic`: the statement's text is the same for any ids, and any plan of it looks
# them up by equality, so PostgreSQL may prepare it and keep its generic plan
# (search/execute.py); a text that grows with the list (VALUES, IN) would only fill the
# connection's cache of prepared statements.
Run = Callable[[str, list[Any], bool], list[tuple]]


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    """One `_include`/`_revinclude` value: source type, reference parameter code (None for
    `*`), optional target type, and whether it iterates."""

    source: str
    code: str | None
    target: str | None
    iterate: bool = False
    reverse: bool = False


def parse_include(value: str, *, iterate: bool, reverse: bool) -> IncludeSpec:
    """`Source:param[:Target]` or `Source:*`; 400 when the parts do not name a reference
    parameter of a resource type."""
    name = "_revinclude" if reverse else "_include"
    parts = value.split(":")
    if value == "*":
        parts = ["*", "*"]
    if len(parts) not in (2, 3) or not all(parts):
        raise BadRequest(f"{name} takes Type:parameter[:targetType], got {value[:80]!r}", code="value",
                         expression=name)
    source, code, target = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    if source != "*" and not is_resource_type(source):
        raise BadRequest(f"{name}: {source!r} is not a resource type", code="value", expression=name)
    if target is not None and not is_resource_type(target):
        raise BadRequest(f"{name}: {target!r} is not a resource type", code="value", expression=name)
    if code != "*":
        definition = registry().get(source, code)
        if definition is None or definition.type != "reference":
            raise BadRequest(f"{name}: {source}.{code} is not a reference search parameter", code="value",
                             expression=name)
        if target is not None and definition.targets and target not in definition.targets:
            raise BadRequest(f"{name}: {source}.{code} cannot refer to {target}", code="value", expression=name)
    return IncludeSpec(None if source == "*" else source, None if code == "*" else code, target, iterate, reverse)


def _chunks(items: list, size: int = _BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _keyed(backend: str, pairs: list[tuple[str, str]], type_column: str,
           id_column: str, array: bool = False) -> Iterable[tuple[str, list[Any], bool]]:
    """The `(type, id) IN ...` conditions that select the index rows of `pairs`, one per
    statement. PostgreSQL: all types at once as a VALUES list, which it joins through the
    (type, id) index (a page of 200 mixed resources, e.g. a $everything page: one statement
    instead of one per type, 78 -> 44 ms at N=1,000). SQLite scans the index table for a
    VALUES list, so there (and for one type): one statement per type with an IN list of ids.
    The third item: whether the text stays the same for any ids (see Run)."""
    if backend == "postgres" and len({t for t, _ in pairs}) > 1:
        for chunk in _chunks(pairs):
            yield (f"({type_column}, {id_column}) IN (VALUES {', '.join(['(?, ?)'] * len(chunk))})",
                   [a for pair in chunk for a in pair], False)
        return
    for type in sorted({t for t, _ in pairs}):
        ids = [i for t, i in pairs if t == type]
        for chunk in _chunks(ids):
            if array and backend == "postgres":
                # One array parameter: the same SQL text for any number of ids, so one
                # prepared statement and its generic plan (search/execute.py) serve every page
                # instead of one per length of the list (`_include`: the server's CPU for a
                # patient's MedicationRequests and their requesters at N=10,000, 0.45-0.55 ->
                # 0.20 ms). Not for `_revinclude`: by target there the generic plan's guess at
                # the array's rows kept PostgreSQL planning per request (0.1 -> 0.27 ms).
                yield f"{type_column} = ? AND {id_column} = ANY(?)", [type, chunk], True
            else:
                yield (f"{type_column} = ? AND {id_column} IN ({', '.join('?' * len(chunk))})", [type, *chunk],
                       len(chunk) == 1)


def _forward(run: Run, spec: IncludeSpec, sources: list[tuple[str, str]], backend: str = "sqlite") -> list[tuple]:
    rows: list[tuple] = []
    for keys, args, fixed in _keyed(backend, [s for s in sources if spec.source in (None, s[0])], "ri.type", "ri.id",
                                    array=True):
        sql = (f"SELECT {_COLUMNS} FROM reference_index ri JOIN resource r"
               " ON r.type = ri.target_type AND r.id = ri.target_id"
               f" WHERE {keys} AND NOT r.deleted")
        if spec.code is None:  # `*`: every reference parameter (not composite component rows)
            sql += " AND ri.param NOT LIKE ?"
            args.append("%$%")
        else:
            sql += " AND ri.param = ?"
            args.append(spec.code)
        if spec.target:
            sql += " AND ri.target_type = ?"
            args.append(spec.target)
        rows += run(sql, args, fixed)
    return rows


def _reverse(run: Run, spec: IncludeSpec, targets: list[tuple[str, str]], backend: str = "sqlite") -> list[tuple]:
    rows: list[tuple] = []
    for keys, args, fixed in _keyed(backend, [t for t in targets if spec.target in (None, t[0])],
                                    "ri.target_type", "ri.target_id"):
        sql = (f"SELECT {_COLUMNS} FROM reference_index ri JOIN resource r"
               " ON r.type = ri.type AND r.id = ri.id"
               f" WHERE {keys} AND NOT r.deleted")
        if spec.source is not None:
            sql += " AND ri.type = ?"
            args.append(spec.source)
        if spec.code is None:
            sql += " AND ri.param NOT LIKE ?"
            args.append("%$%")
        else:
            sql += " AND ri.param = ?"
            args.append(spec.code)
        rows += run(sql, args, fixed)
    return rows


def included(run: Run, matches: list[ResourceVersion], specs: list[IncludeSpec],
             limit: int = MAX_INCLUDED, backend: str = "sqlite") -> list[ResourceVersion]:
    """The resources the specs add to a page of matches, in a stable order (by type, id
    within each round), each once."""
    if not specs or not matches:
        return []
    seen = {(v.type, v.id) for v in matches}
    out: list[ResourceVersion] = []
    frontier = [(v.type, v.id) for v in matches]
    for round in range(MAX_ROUNDS):
        active = specs if round == 0 else [s for s in specs if s.iterate]
        if not active or not frontier:
            break
        found: dict[tuple[str, str], ResourceVersion] = {}
        for spec in active:
            rows = (_reverse if spec.reverse else _forward)(run, spec, frontier, backend)
            for row in rows:
                key = (row[0], row[1])
                if key not in seen and key not in found:
                    found[key] = ResourceVersion(*row)
        new = [found[k] for k in sorted(found)]
        room = limit - len(out)
        out += new[:room]
        seen.update(found)
        if len(out) >= limit:
            break
        frontier = [(v.type, v.id) for v in new]
    return out
