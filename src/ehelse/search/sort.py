"""`_sort` as ORDER BY over the index tables (http://hl7.org/fhir/R4/search.html#sort).

`_sort=status,-date` sorts by status, then by date descending; each key is a search
parameter of the type. A resource with several values sorts by its lowest one ascending
and by its highest one descending (a Period by its start ascending, its end descending);
a resource without a value sorts last either way. Every order ends with the resource id
(and type, for system search), so pages never shuffle rows that tie.
"""

from __future__ import annotations

import re

from ehelse.errors import BadRequest
from ehelse.search.registry import registry

# Per search type: (table, column sorted ascending, column sorted descending).
_KEYS = {
    "string": ("string_index", "value", "value"),
    "token": ("token_index", "code", "code"),
    "date": ("date_index", "low", "high"),
    "number": ("number_index", "value", "value"),
    "quantity": ("quantity_index", "value", "value"),
    "reference": ("reference_index", "target_id", "target_id"),
    "uri": ("uri_index", "value", "value"),
}
_SAFE = re.compile(r"^[A-Za-z0-9_\-.]+$")


def order_by(type: str | None, sort: list[tuple[str, bool]], alias: str = "r") -> str:
    """The ORDER BY list (without the keyword) for `_sort`, over `resource <alias>`.

    Parameter codes come from the registry and are checked against a strict pattern, so
    they are written into the SQL as literals: the text stays the same for the same sort,
    and so does its prepared plan."""
    keys: list[str] = []
    for code, descending in sort:
        direction = " DESC" if descending else ""
        if code == "_id":
            keys.append(f"{alias}.id{direction}")
            continue
        if code == "_lastUpdated":
            keys.append(f"{alias}.last_updated{direction}")
            continue
        definition = registry().get(type, code) if type else registry().common(code)
        if definition is None or definition.type not in _KEYS or not _SAFE.match(code) \
                or definition.strategy != _KEYS[definition.type][0]:
            raise BadRequest(f"Cannot sort {type or 'a system search'} by {code!r}", code="not-supported",
                             expression="_sort")
        table, ascending_column, descending_column = _KEYS[definition.type]
        function, column = ("max", descending_column) if descending else ("min", ascending_column)
        value = (f"(SELECT {function}(x.{column}) FROM {table} x WHERE x.type = {alias}.type"
                 f" AND x.id = {alias}.id AND x.param = '{code}')")
        # missing values last in both directions, on SQLite (3.30+) and PostgreSQL alike; one
        # NULLS LAST key, not `value IS NULL, value`: SQLite evaluated the correlated
        # subquery twice per candidate row
        keys.append(f"{value}{direction} NULLS LAST")
    keys += [f"{alias}.last_updated", f"{alias}.type", f"{alias}.id"] if not sort else \
        [f"{alias}.type", f"{alias}.id"]
    return ", ".join(keys)
