"""Search index rows: what a resource contributes to the index tables on every write.

Every write of a resource deletes its old rows from each index table and inserts the rows
the repository's `indexer` returns, in the same database transaction as the resource and
its history row (DESIGN.md, Storage). The default indexer covers what the storage layer
searches on its own: `identifier` as tokens (http://hl7.org/fhir/R4/search.html#token).
The search issue replaces the indexer (and the query compiler in storage/sqlsearch.py)
with ones driven by the SearchParameter registry, adding tables to INDEX_TABLES together
with a migration that creates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Index table -> its value columns (each table also has `type`, `id`, `param` first).
INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "token_index": ("system", "code"),
}


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One row for an index table: `table`, the search parameter code, and the values of
    that table's value columns in INDEX_TABLES order."""

    table: str
    param: str
    values: tuple[Any, ...]


Indexer = Callable[[dict[str, Any]], list[IndexRow]]


def identifier_indexer(resource: dict[str, Any]) -> list[IndexRow]:
    """Token rows for `identifier` (Identifier.system, Identifier.value).

    A missing system is stored as '' so that `|code` (no system) is a plain equality;
    identifiers without a value are not indexed (nothing can search for them).
    """
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):  # single-valued identifier in a few resource types
        identifiers = [identifiers]
    rows: list[IndexRow] = []
    seen: set[tuple[str, str]] = set()
    for identifier in identifiers or ():
        if not isinstance(identifier, dict):
            continue
        code = identifier.get("value")
        if not isinstance(code, str) or not code:
            continue
        system = identifier.get("system")
        key = (system if isinstance(system, str) else "", code)
        if key not in seen:
            seen.add(key)
            rows.append(IndexRow("token_index", "identifier", key))
    return rows


default_indexer: Indexer = identifier_indexer
