"""Search index rows: what a resource contributes to the index tables on every write.

Every write of a resource deletes its old rows from each index table and inserts the rows
the repository's `indexer` returns, in the same database transaction as the resource and
its history row (DESIGN.md, Storage). Only current versions have rows, so history never
slows search. The default indexer is the SearchParameter registry's (search/extract.py);
`identifier_indexer` is the storage layer's minimal one (identifier tokens only).

The tables (migrations 0001, 0002, 0004 and 0007, which sets their indexes), each with `type, id, param` first, where `param` is
the search parameter code (http://hl7.org/fhir/R4/search.html, one table per value kind):

  token_index      system, code   -- Coding/Identifier/ContactPoint/code/boolean/string
                                     tokens; '' for a missing system (so `|code` is equality)
                   text           -- normalised display text (Coding.display, a
                                     CodeableConcept's text: rows with system = code = '')
                                     for `:text`
                   Rows with param `<code>:of-type` are Identifier types (system, code of
                   Identifier.type) with the identifier's value in `text`, exact;
                   rows with param `<code>:identifier` are Reference.identifier tokens.
  string_index     value          -- normalised: lower case, accents removed, æ→ae ø→o å→a
                   exact          -- the text as written, for `:exact`
  date_index       low, high      -- the instants [low, high) the value covers, in UTC, as
                                     text in sqlsearch.INSTANT_FORMAT (open ends are
                                     '0001-...' and '9999-...')
  number_index     value, low, high  -- the number and the range its significant figures
                                     imply (search.html#number)
  quantity_index   system, code, value, low, high  -- as written ('' for no system/code)
                   canonical_code, canonical_value  -- in a base UCUM unit when the unit
                                     converts (search/units.py), else NULL
  reference_index  target_type, target_id  -- a relative or absolute `Type/id` reference,
                                     version stripped ('' when not of that form)
                   url, version   -- absolute URL or canonical, without `|version`
  uri_index        value          -- uri/url/canonical as written
  text_index       words          -- full text (`_text`: the narrative, `_content`: the
                                     resource's strings): its distinct normalised words as
                                     ' w1 w2 ... ', one row per resource (migration 0004);
                                     full-text indexed (migration 0009: SQLite FTS5 tables
                                     text_fts/content_fts keyed by text_index.seq, filled by
                                     triggers; PostgreSQL a generated tsvector with GIN)

  grp (every table): the element occurrence a composite parameter's component rows come
  from (composite rows use param `<composite-code>$<n>` for component n); NULL otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

# Index table -> its value columns (each table also has `type`, `id`, `param` first).
INDEX_TABLES: dict[str, tuple[str, ...]] = {
    "token_index": ("system", "code", "text", "grp"),
    "string_index": ("value", "exact", "grp"),
    "date_index": ("low", "high", "grp"),
    "number_index": ("value", "low", "high", "grp"),
    "quantity_index": ("system", "code", "value", "low", "high", "canonical_code", "canonical_value", "grp"),
    "reference_index": ("target_type", "target_id", "url", "version", "grp"),
    "uri_index": ("value", "grp"),
    "text_index": ("words", "grp"),
}


class IndexRow(NamedTuple):
    """One row for an index table: `table`, the search parameter code, and the values of
    that table's value columns in INDEX_TABLES order. (A NamedTuple rather than a frozen
    dataclass: an import makes tens of millions of them, and a tuple is made 3x faster.)"""

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
            rows.append(IndexRow("token_index", "identifier", (*key, None, None)))
    return rows


def default_indexer(resource: dict[str, Any]) -> list[IndexRow]:
    """The registry-driven indexer (search/extract.py), imported here rather than at the top
    so that the storage layer does not load the registry until something is written."""
    from ehelse.search.extract import index_rows

    return index_rows(resource)
