"""The SearchParameter registry: every official R4 search parameter (and no-basis's), per
resource type, each mapped to the index table that holds its values.

Generated data (scripts/gen_search_params.py, from hl7.fhir.r4.core 4.0.1 and
hl7.fhir.no.basis 2.2.3, CC0) is loaded once. Parameters whose base is `Resource` apply to
every type, `DomainResource` ones to every type but Bundle, Binary and Parameters
(http://hl7.org/fhir/R4/search.html#all, #text).

Index strategy per SearchParameter.type (storage/index.py describes the tables):
  number -> number_index, date -> date_index, string -> string_index,
  token -> token_index, reference -> reference_index, quantity -> quantity_index,
  uri -> uri_index, composite -> the tables of its components (rows grouped by `grp`),
  special -> `_text`/`_content`: full text with Norwegian stemming (text_index, indexed by
    FTS5 on SQLite and a tsvector on PostgreSQL; search/fulltext.py);
  `near` (Location), `_query` and `_filter` are not supported: searching with them is 400.
`_id` and `_lastUpdated` are columns of the `resource` table (strategy "column").
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ehelse.fhir.resource_types import resource_types

DATA = Path(__file__).parent / "data"

TABLE_BY_TYPE = {
    "number": "number_index",
    "date": "date_index",
    "string": "string_index",
    "token": "token_index",
    "reference": "reference_index",
    "quantity": "quantity_index",
    "uri": "uri_index",
}
COLUMN_PARAMS = {"_id": "r.id", "_lastUpdated": "r.last_updated"}
FULLTEXT_PARAMS = ("_text", "_content")
_NOT_DOMAIN = {"Bundle", "Binary", "Parameters"}  # types that are Resource, not DomainResource


@dataclass(frozen=True, slots=True)
class ComponentDef:
    """One component of a composite parameter: its own code and type, and the expression
    relative to the composite's element (search.html#composite)."""

    code: str
    type: str
    expression: str
    table: str


@dataclass(frozen=True, slots=True)
class SearchParameterDef:
    """A search parameter as it applies to one resource type."""

    code: str
    type: str  # number | date | string | token | reference | quantity | uri | composite | special
    resource_type: str  # the type it is registered on here (not 'Resource')
    expression: str | None  # FHIRPath for this resource type; None: no indexable expression
    url: str
    targets: tuple[str, ...] = ()
    components: tuple[ComponentDef, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    multiple_or: bool = True
    multiple_and: bool = True

    @property
    def strategy(self) -> str:
        """Where its values live: an index table name, 'column', 'composite', 'fulltext' or
        'unsupported'."""
        if self.code in COLUMN_PARAMS:
            return "column"
        if self.code in FULLTEXT_PARAMS:
            return "fulltext"
        if self.type == "composite":
            return "composite" if self.components else "unsupported"
        if self.type == "special" or not self.expression:
            return "unsupported"
        return TABLE_BY_TYPE[self.type]

    @property
    def table(self) -> str | None:
        return TABLE_BY_TYPE.get(self.type) if self.strategy in TABLE_BY_TYPE.values() else None


class SearchRegistry:
    """Search parameters by (resource type, code), and by canonical url."""

    def __init__(self, parameters: list[dict]) -> None:
        self._by_url = {p["url"]: p for p in parameters}
        self._by_type: dict[str, dict[str, SearchParameterDef]] = {t: {} for t in resource_types()}
        for raw in parameters:
            for base in raw["base"]:
                if base == "Resource":
                    types = list(self._by_type)
                elif base == "DomainResource":
                    types = [t for t in self._by_type if t not in _NOT_DOMAIN]
                else:
                    types = [base] if base in self._by_type else []
                expression = raw["expression"].get(base)
                for type in types:
                    own = expression
                    if own and base in ("Resource", "DomainResource") and own.startswith(base + "."):
                        own = type + own[len(base):]  # Resource.meta.tag -> Patient.meta.tag
                    self._by_type[type][raw["code"]] = self._make(raw, type, own)
        # Asked on every search request (what is supported): made once per type, since the
        # registry does not change after loading.
        self._searchable = {t: {code: p for code, p in params.items() if p.strategy != "unsupported"}
                            for t, params in self._by_type.items()}

    def _make(self, raw: dict, type: str, expression: str | None) -> SearchParameterDef:
        components = []
        for component in raw["component"]:
            target = self._by_url.get(component["definition"])
            if target is None:  # a component defined nowhere we know: leave the composite out
                components = []
                break
            components.append(ComponentDef(target["code"], target["type"], component["expression"],
                                           TABLE_BY_TYPE.get(target["type"], "")))
        return SearchParameterDef(
            code=raw["code"], type=raw["type"], resource_type=type, expression=expression,
            url=raw["url"], targets=tuple(raw["target"]), components=tuple(components),
            modifiers=tuple(raw["modifier"]), comparators=tuple(raw["comparator"]),
            multiple_or=raw["multipleOr"], multiple_and=raw["multipleAnd"],
        )

    def get(self, type: str, code: str) -> SearchParameterDef | None:
        return self._by_type.get(type, {}).get(code)

    def for_type(self, type: str) -> dict[str, SearchParameterDef]:
        """Every parameter of the type, by code (a fresh dict the caller may change)."""
        return dict(self._by_type.get(type, {}))

    def searchable(self, type: str) -> dict[str, SearchParameterDef]:
        """The parameters this server evaluates for the type (strategy not 'unsupported')."""
        return dict(self._searchable.get(type, {}))

    def common(self, code: str) -> SearchParameterDef | None:
        """A parameter that applies to all types (`_id`, `_lastUpdated`, `_tag`, ...), as for
        system-level search (no type): registered on 'Resource'."""
        for params in self._by_type.values():
            found = params.get(code)
            if found is not None and found.url.startswith("http://hl7.org/fhir/SearchParameter/Resource-"):
                return found
        return None

    def by_url(self, url: str) -> dict | None:
        return self._by_url.get(url)

    def types(self) -> list[str]:
        return sorted(self._by_type)


@lru_cache(maxsize=1)
def registry() -> SearchRegistry:
    """The registry, loaded once per process from the generated data."""
    with gzip.open(DATA / "search_parameters.json.gz", "rb") as fh:
        return SearchRegistry(json.load(fh)["parameters"])


@lru_cache(maxsize=1)
def compartments() -> dict[str, dict[str, list[str]]]:
    """CompartmentDefinitions: compartment code -> resource type -> parameter codes."""
    return json.loads((DATA / "compartments.json").read_text("utf-8"))["compartments"]
