"""Search as SQL for the storage backends: `_id`, `identifier` and `_lastUpdated`.

This is the storage layer's own small query compiler; the search issue replaces it (the
repository takes a `compiler`) with one driven by the SearchParameter registry. It writes
SQL with `?` placeholders over `resource r` (the current versions); the PostgreSQL backend
turns them into `%s`.

Spec: http://hl7.org/fhir/R4/search.html -- token (#token), date prefixes (#prefix, #date),
escaping of `|` (#escaping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ehelse.errors import BadRequest
from ehelse.storage.protocol import SearchParam, SearchQuery

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # as stamp.now_instant writes it

_DATE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@dataclass(slots=True)
class CompiledSearch:
    """A WHERE condition over `resource r` (without the `NOT r.deleted` every search has),
    its parameters, and the ORDER BY."""

    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    order_by: str = "r.last_updated, r.type, r.id"


def date_range(text: str) -> tuple[str, str]:
    """The instants [low, high) a FHIR date/dateTime/instant of any precision covers, in UTC,
    formatted like stored lastUpdated values so they compare as text (search.html#date)."""
    match = _DATE.match(text)
    if not match:
        raise BadRequest(f"Not a FHIR date, dateTime or instant: {text!r}", code="value")
    g = match.groupdict()
    try:
        year, month, day = int(g["year"]), int(g["month"] or 1), int(g["day"] or 1)
        hour, minute, second = int(g["hour"] or 0), int(g["minute"] or 0), int(g["second"] or 0)
        fraction = g["fraction"] or ""
        micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
        low = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError as exc:
        raise BadRequest(f"Not a valid date {text!r}: {exc}", code="value") from None
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        low -= sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6]))
    if g["month"] is None:
        high = low.replace(year=low.year + 1)
    elif g["day"] is None:
        high = (low.replace(day=28) + timedelta(days=4)).replace(day=low.day)
    elif g["hour"] is None:
        high = low + timedelta(days=1)
    elif g["second"] is None:
        high = low + timedelta(minutes=1)
    elif not fraction:
        high = low + timedelta(seconds=1)
    else:
        high = low + timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
    return low.strftime(INSTANT_FORMAT), high.strftime(INSTANT_FORMAT)


def split_token(value: str) -> tuple[str | None, str]:
    """`system|code`, `|code`, `system|` or `code` -> (system or None, code); `\\|` is a
    literal bar (search.html#escaping)."""
    parts = re.split(r"(?<!\\)\|", value, maxsplit=1)
    unescape = lambda s: re.sub(r"\\([|,$\\])", r"\1", s)  # noqa: E731
    if len(parts) == 1:
        return None, unescape(parts[0])
    return unescape(parts[0]), unescape(parts[1])


class SearchCompiler:
    """Compiles the parameters the storage layer supports on every resource type."""

    PARAMS = {"_id": "token", "_lastUpdated": "date", "identifier": "token"}
    SORTS = {"_id": "r.id", "_lastUpdated": "r.last_updated"}

    def supported(self, type: str) -> dict[str, str]:
        return dict(self.PARAMS)

    def compile(self, type: str | None, query: SearchQuery) -> CompiledSearch:
        out = CompiledSearch()
        if type is not None:
            out.where.append("r.type = ?")
            out.params.append(type)
        for param in query.params:
            if param.name not in self.PARAMS:
                raise BadRequest(f"Unknown search parameter {param.name!r}", code="not-supported")
            if param.modifier:
                raise BadRequest(f"Modifier :{param.modifier} is not supported on {param.name}",
                                 code="not-supported")
            if not param.values or any(v == "" for v in param.values):
                raise BadRequest(f"Search parameter {param.name} has an empty value", code="value")
            getattr(self, "_" + param.name.lstrip("_"))(param, out)
        if query.sort:
            keys = []
            for name, descending in query.sort:
                if name not in self.SORTS:
                    raise BadRequest(f"Cannot sort by {name!r}", code="not-supported")
                keys.append(self.SORTS[name] + (" DESC" if descending else ""))
            out.order_by = ", ".join(keys + ["r.type", "r.id"])
        return out

    # -- one method per parameter: each ORs the values of one SearchParam ------------------
    def _id(self, param: SearchParam, out: CompiledSearch) -> None:
        out.where.append("r.id IN (" + ", ".join("?" * len(param.values)) + ")")
        out.params.extend(param.values)

    def _identifier(self, param: SearchParam, out: CompiledSearch) -> None:
        alternatives = []
        args: list[Any] = [param.name]
        for value in param.values:
            system, code = split_token(value)
            if system is None:
                alternatives.append("t.code = ?")
                args.append(code)
            elif code == "":
                alternatives.append("t.system = ?")
                args.append(system)
            else:
                alternatives.append("(t.system = ? AND t.code = ?)")
                args.extend((system, code))
        out.where.append(
            "EXISTS (SELECT 1 FROM token_index t WHERE t.type = r.type AND t.id = r.id"
            " AND t.param = ? AND (" + " OR ".join(alternatives) + "))"
        )
        out.params.extend(args)

    def _lastUpdated(self, param: SearchParam, out: CompiledSearch) -> None:
        alternatives = []
        for value in param.values:
            prefix, instant = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
            if prefix not in _PREFIXES:
                raise BadRequest(f"Prefix {prefix!r} is not supported on _lastUpdated", code="not-supported")
            low, high = date_range(instant)
            # lastUpdated is a point in time, so each prefix is a comparison with the range.
            condition, args = {
                "eq": ("(r.last_updated >= ? AND r.last_updated < ?)", [low, high]),
                "ne": ("(r.last_updated < ? OR r.last_updated >= ?)", [low, high]),
                "gt": ("r.last_updated >= ?", [high]),
                "sa": ("r.last_updated >= ?", [high]),
                "ge": ("r.last_updated >= ?", [low]),
                "lt": ("r.last_updated < ?", [low]),
                "eb": ("r.last_updated < ?", [low]),
                "le": ("r.last_updated < ?", [high]),
            }[prefix]
            alternatives.append(condition)
            out.params.extend(args)
        out.where.append("(" + " OR ".join(alternatives) + ")")
