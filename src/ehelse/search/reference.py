"""The reference evaluator: a brute-force oracle for search, written from the spec alone.

    ReferenceEvaluator(resources).search("Observation", [SearchParam("code", None, ("x",))])
        -> {"id1", "id2"}

It walks every current resource of the type, evaluates each parameter's official FHIRPath
expression with fhirpathpy (not the compiled accessors and index tables the storage uses:
independence is the point) and applies the matching rules of
http://hl7.org/fhir/R4/search.html per parameter type, prefix and modifier. It is slow on
purpose-plain; the agreement tests compare both SQL backends against it. Values are cached
per (type, id, parameter), so thousands of queries over one data set stay cheap.

Quantities in UCUM units that convert by a factor compare in a common unit, as the issue
asks; the conversion table (search/units.py) is shared data, the comparison is our own.

Token `:in`/`:not-in` ask the terminology engine for the ValueSet's expansion and test
membership of each stored (system, code); `:above`/`:below` test subsumption in the code
system's hierarchy (CodeSystemIndex.subsumes), not the list of codes the SQL is given.

`_text`/`_content` (search.html#text, #content) follow the rule search/fulltext.py states:
each word of the value, folded and stemmed with the Snowball Norwegian stemmer (the
algorithm is shared data, like the UCUM table), must start a word of the narrative (the
text of `text.div`) or of the resource's human-readable strings; the index keeps the first
2,000 distinct words of each text, each cut to 64 characters, and so does this.

What it does not judge (raises NotImplementedError, so a generator skips them): `ap`,
special parameters.
"""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources as package_files
from typing import Any, Iterable

import fhirpathpy
from fhirpathpy.models import models

from ehelse.search.reference_values import (Range, date_range, normalise, number_range, split_escaped,
                                            string_parts, token_parts)
from ehelse.storage.protocol import SearchParam

_MODEL = models["r4"]
_AS = re.compile(r"([A-Za-z][\w.]*) as ([A-Za-z]+)")
_RESOLVE_IS = re.compile(r"resolve\(\) is (\w+)")
_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+0-9.])")
_NOT_DOMAIN = {"Bundle", "Binary", "Parameters"}  # resources that are not DomainResources


@lru_cache(maxsize=1)
def _definitions() -> dict[str, list[dict]]:
    """code -> the official SearchParameter entries with that code (the generated data)."""
    raw = package_files.files("ehelse.search.data").joinpath("search_parameters.json.gz").read_bytes()
    by_code: dict[str, list[dict]] = {}
    for entry in json.loads(gzip.decompress(raw))["parameters"]:
        by_code.setdefault(entry["code"], []).append(entry)
    return by_code


def definition(type: str, code: str) -> dict | None:
    """The SearchParameter `code` that applies to `type` (own base first, then Resource)."""
    fallback = None
    for entry in _definitions().get(code, ()):
        if type in entry["base"]:
            return entry
        if "Resource" in entry["base"] or ("DomainResource" in entry["base"] and type not in _NOT_DOMAIN):
            fallback = entry
    return fallback


def _by_url(url: str) -> dict | None:
    for entries in _definitions().values():
        for entry in entries:
            if entry["url"] == url:
                return entry
    return None


@lru_cache(maxsize=4096)
def _compiled(expression: str):
    # fhirpathpy has no resolve(); `X.where(resolve() is Patient)` asks whether the
    # reference points at a Patient, which the reference text says (Type/id or .../Type/id).
    expression = _RESOLVE_IS.sub(lambda m: f"reference.matches('(^|/){m.group(1)}/[^/]+(/_history/[^/]+)?$')",
                                 expression)
    # R4's `X as T` and `X.as(T)` filter by type, also over several items (e.g.
    # `Observation.component.value as Quantity`); fhirpathpy wants a single item there, and
    # ofType(T) is the same filter for any number of items.
    expression = _AS.sub(r"\1.ofType(\2)", expression).replace(".as(", ".ofType(")
    # hasExtension(url) is a FHIR extension to FHIRPath that fhirpathpy lacks
    expression = re.sub(r"hasExtension\(('[^']*')\)", r"extension.where(url = \1).exists()", expression)
    return fhirpathpy.compile(expression, _MODEL)


def _expression(entry: dict, type: str) -> str | None:
    expressions = entry["expression"]
    for base in (type, "Resource", "DomainResource"):
        if base in expressions:
            # `Resource.id` does not select on a Patient in fhirpathpy: name the type.
            return re.sub(r"(?<![\w.])(Resource|DomainResource)\.", type + ".", expressions[base])
    return None


def parse_prefix(value: str) -> tuple[str, str]:
    match = _PREFIX.match(value)
    return (match.group(1), value[2:]) if match else ("eq", value)


def compare_ranges(prefix: str, search: Range, target: Range) -> bool:
    """search.html#prefix for dates: compare the range of the search value with the range
    of the target value (both half-open [low, high))."""
    low, high = search
    t_low, t_high = target
    contains = t_low >= low and t_high <= high
    if prefix == "eq":
        return contains
    if prefix == "ne":
        return not contains
    if prefix == "gt":  # the range above the search value intersects the target's range
        return t_high > high
    if prefix == "lt":
        return t_low < low
    if prefix == "ge":
        return t_high > high or contains
    if prefix == "le":
        return t_low < low or contains
    if prefix == "sa":  # starts after: no overlap, and the target lies above
        return t_low >= high
    if prefix == "eb":
        return t_high <= low
    raise NotImplementedError(f"prefix {prefix}")


def compare_numbers(prefix: str, text: str, target: Decimal) -> bool:
    """search.html#number: eq/ne use the implicit range of the search value's precision
    (`100` is [99.5, 100.5)); the order prefixes compare with the exact value."""
    low, high = number_range(text)
    exact = Decimal(text)
    return {"eq": lambda: low <= target < high, "ne": lambda: not (low <= target < high),
            "gt": lambda: target > exact, "lt": lambda: target < exact, "ge": lambda: target >= exact,
            "le": lambda: target <= exact, "sa": lambda: target > exact, "eb": lambda: target < exact,
            }[prefix]() if prefix != "ap" else _unsupported("ap")


def _ucum(node: dict, system: str, code: str, number: str) -> tuple[str, Decimal] | None:
    """(search number, target value in the search's unit) when both units are UCUM units
    that convert into the same base unit by a factor (the conversion table is data:
    search/units.py); None otherwise."""
    from ehelse.search.units import UCUM, canonical

    if system not in ("", UCUM) or node.get("system") != UCUM or not code or not node.get("code"):
        return None
    unit, have = canonical(code, 1.0), canonical(node["code"], float(node["value"]))
    if unit is None or have is None or unit[0] != have[0] or canonical(code, 0.0)[1] != 0:
        return None  # not convertible, or an offset unit (Cel)
    target = Decimal(repr(have[1])) / Decimal(repr(unit[1]))
    return number, Decimal(f"{target:.12g}")


def _unsupported(what: str):
    raise NotImplementedError(what)


# -- full text ----------------------------------------------------------------------------------
_MAX_WORDS, _MAX_WORD = 2000, 64  # what the index keeps of a text (search/values.py)
# Not human-readable text, for `_content`: ids, references, systems, urls, the narrative
# (that is `_text`), meta, attachment data, the resource type, statuses and codes (a `code`
# that is a CodeableConcept is read: its text and displays are words).
_NOT_CONTENT = {"id", "reference", "system", "url", "div", "lastUpdated", "versionId", "fullUrl", "profile",
                "data", "resourceType", "status", "code"}


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("norwegian")


def fulltext_query(value: str) -> list[str]:
    """The word prefixes a `_text`/`_content` value asks for: folded, Snowball-stemmed."""
    return [_stemmer().stemWord(w)[:_MAX_WORD] for w in re.findall(r"\w+", normalise(value))]


def narrative_text(div: str) -> str:
    """The text of an XHTML narrative, entities decoded, tags as word breaks."""
    from html.parser import HTMLParser

    parts: list[str] = []
    parser = HTMLParser(convert_charrefs=True)
    parser.handle_data = parts.append
    parser.handle_starttag = parser.handle_endtag = lambda *args: parts.append(" ")
    parser.feed(div)
    parser.close()
    return "".join(parts)


def content_strings(node: Any, key: str = "") -> Iterable[str]:
    """The human-readable strings of a resource, for `_content` (not dates or numbers
    written as strings: a string property that starts with four digits)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str):
                if k not in _NOT_CONTENT and not v[:4].isdigit():
                    yield v
            elif k not in _NOT_CONTENT or k == "code":
                yield from content_strings(v, k)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                yield item
            else:
                yield from content_strings(item, key)


def text_words(text: str) -> list[str]:
    words = list(dict.fromkeys(re.findall(r"\w{2,}", normalise(text))))
    return [w[:_MAX_WORD] for w in words[:_MAX_WORDS]]


class ReferenceEvaluator:
    """Search over a fixed set of current resources (parsed JSON), by brute force."""

    def __init__(self, resources: Iterable[dict[str, Any]], base_url: str = "http://localhost/fhir"):
        self.base_url = base_url.rstrip("/")
        self.by_type: dict[str, dict[str, dict]] = {}
        for resource in resources:
            self.by_type.setdefault(resource["resourceType"], {})[resource["id"]] = resource
        self._cache: dict[tuple[str, str, str], list] = {}

    @classmethod
    def from_repository(cls, repo, base_url: str = "http://localhost/fhir") -> "ReferenceEvaluator":
        return cls((json.loads(v.content) for v in repo.iter_current()), base_url)

    # -- the entry point -------------------------------------------------------------------
    def search(self, type: str, params: list[SearchParam]) -> set[str]:
        """Ids of the current resources of `type` that match every parameter (AND), each
        parameter matching when any of its values does (OR) -- search.html#combining."""
        ids = set(self.by_type.get(type, {}))
        for param in params:
            ids &= self._matching(type, param)
        return ids

    def _matching(self, type: str, param: SearchParam) -> set[str]:
        if param.name.startswith("_has:"):
            return self._has(type, param)
        if "." in param.name:
            return self._chain(type, param)
        if param.name == "_list":
            return self._list(type, param)
        if param.name in ("_text", "_content"):
            return self._fulltext(type, param)
        if param.name in ("_query", "_filter"):
            raise NotImplementedError(param.name)
        entry = definition(type, param.name)
        if entry is None:
            raise KeyError(f"{type} has no search parameter {param.name}")
        resources = self.by_type.get(type, {})
        if param.modifier == "missing":
            want_missing = param.values[0] == "true"
            return {id for id in resources if (not self.values(type, id, entry)) == want_missing}
        if param.modifier in ("not", "not-in") and entry["type"] == "token":
            # search.html#token :not / :not-in -- every resource with no matching token, also
            # none at all (the complement of the positive search)
            positive = SearchParam(param.name, None if param.modifier == "not" else "in", param.values)
            return set(resources) - self._matching(type, positive)
        return {id for id in resources
                if any(self.matches(entry, node, param.modifier, value, type)
                       for node in self.values(type, id, entry) for value in param.values)}

    # -- _text, _content ----------------------------------------------------------------------------
    def _fulltext(self, type: str, param: SearchParam) -> set[str]:
        resources = self.by_type.get(type, {})
        if param.modifier == "missing":
            want_missing = param.values[0] == "true"
            return {id for id in resources if (not self.text_words(type, id, param.name)) == want_missing}
        if param.modifier:
            raise ValueError(f"{param.name}:{param.modifier}")
        wanted = [fulltext_query(value) for value in param.values]
        if any(not words for words in wanted):
            raise ValueError(f"{param.name}: no words")
        return {id for id in resources
                if any(all(any(w.startswith(q) for w in self.text_words(type, id, param.name)) for q in words)
                       for words in wanted)}

    def text_words(self, type: str, id: str, code: str) -> set[str]:
        """The words `_text` (the narrative) or `_content` (the strings) searches in."""
        key = (type, id, code)
        if key not in self._cache:
            resource = self.by_type[type][id]
            if code == "_text":
                div = (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
                texts = [narrative_text(div)] if isinstance(div, str) else []
            else:
                texts = list(content_strings(resource))
            self._cache[key] = {w for text in texts for w in text_words(text)}
        return self._cache[key]

    # -- values of a parameter in a resource ------------------------------------------------------
    def values(self, type: str, id: str, entry: dict) -> list:
        key = (type, id, entry["url"])
        if key not in self._cache:
            expression = _expression(entry, type)
            resource = self.by_type[type][id]
            if entry["code"] == "_id":
                self._cache[key] = [id]
            elif expression is None:
                self._cache[key] = []
            elif entry["type"] == "composite":
                # one item per occurrence of the composite's element: its component values
                count = len(_compiled(expression)(resource))
                self._cache[key] = [[[n for n in _compiled(f"({expression})[{i}].{c['expression']}")(resource)
                                      if n is not None] for c in entry["component"]] for i in range(count)]
            else:
                try:
                    self._cache[key] = [n for n in _compiled(expression)(resource) if n is not None]
                except Exception as exc:  # fhirpathpy cannot evaluate it: the oracle abstains
                    raise NotImplementedError(f"fhirpathpy: {expression}: {exc}") from None
        return self._cache[key]

    # -- one node against one value ----------------------------------------------------------------
    def matches(self, entry: dict, node: Any, modifier: str | None, value: str, type: str) -> bool:
        kind = entry["type"]
        if kind == "string":
            return self._string(node, modifier, value)
        if kind == "token":
            return self._token(node, modifier, value)
        if kind == "date":
            prefix, text = parse_prefix(value)
            target = date_range(node)
            return target is not None and compare_ranges(prefix, date_range(text, search=True), target)
        if kind == "number":
            prefix, text = parse_prefix(value)
            return isinstance(node, (int, float, Decimal)) and compare_numbers(prefix, text, Decimal(str(node)))
        if kind == "quantity":
            return self._quantity(node, value)
        if kind == "reference":
            return self._reference(node, modifier, value, entry)
        if kind == "uri":
            return self._uri(node, modifier, value)
        if kind == "composite":
            return self._composite(entry, node, value, type)
        raise NotImplementedError(f"{kind} parameters")

    @staticmethod
    def _string(node: Any, modifier: str | None, value: str) -> bool:
        # search.html#string: case- and accent-insensitive prefix by default; :exact is the
        # exact, case-sensitive string; :contains anywhere. Norwegian letters fold (ø -> o).
        # search.html#escaping: `\,` `\$` `\|` `\\` are the characters themselves.
        value = re.sub(r"\\([,$|\\])", r"\1", value)
        for part in string_parts(node):
            if modifier == "exact":
                if part == value:
                    return True
            elif modifier == "contains":
                if normalise(value) in normalise(part):
                    return True
            elif modifier is None:
                if normalise(part).startswith(normalise(value)):
                    return True
            else:
                raise NotImplementedError(f"string :{modifier}")
        return False

    @staticmethod
    def _token(node: Any, modifier: str | None, value: str) -> bool:
        parts = token_parts(node)
        if modifier == "text":  # CodeableConcept.text, Coding.display: string-like match
            return any(t is not None and normalise(t).startswith(normalise(value)) for _, _, t in parts["text"])
        if modifier == "of-type":  # Identifier: type-system|type-code|value
            system, code, ident = (split_escaped(value, "|") + ["", ""])[:3]
            return any(v == ident and any(ts == system and tc == code for ts, tc in types)
                       for v, types in parts["of_type"])
        if modifier == "in":
            return _in_valueset(parts["codes"], value)
        if modifier in ("above", "below"):
            return _in_hierarchy(parts["codes"], modifier, value)
        if modifier is not None:
            raise NotImplementedError(f"token :{modifier}")
        pieces = split_escaped(value, "|")
        for system, code, _ in parts["codes"]:
            if len(pieces) == 1:
                if code == pieces[0]:
                    return True
            elif pieces[0] == "":  # |code: no system
                if system is None and code == pieces[1]:
                    return True
            elif pieces[1] == "":  # system|
                if system == pieces[0]:
                    return True
            elif system == pieces[0] and code == pieces[1]:
                return True
        return False

    @staticmethod
    def _quantity(node: Any, value: str) -> bool:
        # search.html#quantity: [prefix]number|system|code; `number||code` matches code or unit
        if not isinstance(node, dict) or node.get("value") is None:
            return False
        pieces = split_escaped(value, "|")
        prefix, number = parse_prefix(pieces[0])
        try:
            Decimal(number)
        except InvalidOperation:
            raise ValueError(f"not a number: {number}") from None
        if len(pieces) == 3:
            system, code = pieces[1], pieces[2]
            converted = _ucum(node, system, code, number)
            if converted is not None:  # the UCUM-aware comparison: both in the base unit
                return compare_numbers(prefix, converted[0], converted[1])
            if system and node.get("system") != system:
                return False
            if code and code not in ((node.get("code"),) if system else (node.get("code"), node.get("unit"))):
                return False
        return compare_numbers(prefix, number, Decimal(str(node["value"])))

    def _local(self, reference: str) -> tuple[str | None, str | None, str]:
        """(type, id, text) of a reference: relative `Type/id`, or an absolute URL on this
        server, lose `_history/n`; other absolute URLs stay as they are (type None)."""
        text = reference
        if text.startswith(self.base_url + "/"):
            text = text[len(self.base_url) + 1:]
        text = re.sub(r"/_history/[^/]+$", "", text)
        match = re.fullmatch(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})", text)
        if match:
            return match.group(1), match.group(2), text
        return None, None, reference

    def _reference(self, node: Any, modifier: str | None, value: str, entry: dict) -> bool:
        # search.html#reference: Type/id, id (with :Type), absolute URL, :identifier
        if modifier == "identifier":
            return isinstance(node, dict) and isinstance(node.get("identifier"), dict) and \
                self._token(node["identifier"], None, value)
        reference = node if isinstance(node, str) else node.get("reference") if isinstance(node, dict) else None
        if not reference:
            return False
        n_type, n_id, n_text = self._local(reference)
        v_type, v_id, v_text = self._local(value)
        if modifier not in (None,) and not modifier[:1].isupper():
            raise NotImplementedError(f"reference :{modifier}")
        if v_type is None and "/" not in value and ":" not in value:  # a bare id
            return n_id == value and (modifier is None or n_type == modifier)
        if v_type is not None:
            return n_type == v_type and n_id == v_id
        return n_text == v_text  # an external absolute URL or a canonical

    @staticmethod
    def _uri(node: Any, modifier: str | None, value: str) -> bool:
        if not isinstance(node, str):
            return False
        if modifier is None:
            return node == value
        if modifier == "below":
            return node.startswith(value)
        if modifier == "above":
            return value.startswith(node)
        raise NotImplementedError(f"uri :{modifier}")

    def _composite(self, entry: dict, node: Any, value: str, type: str) -> bool:
        # search.html#composite: `a$b`, each part matched by its component within the same
        # occurrence (node: the component values of one occurrence, from values()).
        parts = split_escaped(value, "$")
        if len(parts) != len(entry["component"]):
            raise ValueError(f"composite {entry['code']} needs {len(entry['component'])} parts")
        for component, part, nodes in zip(entry["component"], parts, node):
            inner = _by_url(component["definition"])
            if inner is None or not any(self.matches(inner, n, None, part, type) for n in nodes):
                return False
        return True

    # -- reference chains, _has and _list -------------------------------------------------------------
    def _targets(self, type: str, id: str, entry: dict) -> set[tuple[str, str]]:
        out = set()
        for node in self.values(type, id, entry):
            reference = node.get("reference") if isinstance(node, dict) else None
            if reference:
                t, i, _ = self._local(reference)
                if t is not None:
                    out.add((t, i))
        return out

    def _chain(self, type: str, param: SearchParam) -> set[str]:
        # search.html#chaining: `subject:Patient.name=x` -- resources whose `subject`
        # refers to a Patient whose name matches x. Without `:Type`, every target type that
        # has the next parameter.
        head, rest = param.name.split(".", 1)
        code, _, target_type = head.partition(":")
        entry = definition(type, code)
        if entry is None or entry["type"] != "reference":
            raise KeyError(f"{type}.{code} is not a reference parameter")
        inner = rest_param(rest, param.values)
        first = inner.name.split(".", 1)[0].split(":", 1)[0]
        types = [target_type] if target_type else [t for t in entry["target"] if definition(t, first)]
        wanted = {(t, i) for t in types if t in self.by_type for i in self.search(t, [inner])}
        return {id for id in self.by_type.get(type, {}) if self._targets(type, id, entry) & wanted}

    def _has(self, type: str, param: SearchParam) -> set[str]:
        # search.html#has: `_has:Observation:patient:code=x` -- resources that an Observation
        # with code x refers to through its `patient` parameter. Nests.
        _, other, code, rest = param.name.split(":", 3)
        entry = definition(other, code)
        if entry is None or entry["type"] != "reference":
            raise KeyError(f"{other}.{code} is not a reference parameter")
        referring = self.search(other, [rest_param(rest, param.values)])
        out = set()
        for id in referring:
            out |= {i for t, i in self._targets(other, id, entry) if t == type}
        return out & set(self.by_type.get(type, {}))

    def _list(self, type: str, param: SearchParam) -> set[str]:
        # search.html#list: resources that are entries of List/<id>
        out = set()
        for list_id in param.values:
            resource = self.by_type.get("List", {}).get(list_id) or {}
            for item in resource.get("entry") or []:
                t, i, _ = self._local((item.get("item") or {}).get("reference") or "")
                if t == type:
                    out.add(i)
        return out


def _same_system(stored: str | None, searched: str) -> bool:
    """A `code` element carries no system (its binding names it): it matches any system, as
    the backends store it with system ''. Otherwise OID and URI forms of one Norwegian
    system are the same system (nobasis.naming)."""
    from ehelse.nobasis.naming import canonical_system

    return not stored or stored == searched or canonical_system(stored) == canonical_system(searched)


def _in_valueset(codes: list, canonical: str) -> bool:
    # search.html#token `:in`: the stored code is in the ValueSet (its expansion, done by
    # the terminology engine; an unknown or unexpandable value set is the client's error).
    from ehelse.terminology.registry import base_terminology

    try:
        expansion = base_terminology().expansion(canonical.replace("\\|", "|"))
    except Exception as exc:
        raise ValueError(f"cannot expand {canonical}: {exc}") from None
    members = {(e.system, e.code) for e in expansion.entries}
    return any(code == m_code and _same_system(system, m_system)
               for system, code, _ in codes for m_system, m_code in members if isinstance(code, str))


def _in_hierarchy(codes: list, modifier: str, value: str) -> bool:
    # search.html#token `:below` -- the code or one it subsumes; `:above` -- the code or one
    # that subsumes it; without a known hierarchy only the code itself (CodeSystem.hierarchyMeaning
    # is-a, http://hl7.org/fhir/R4/codesystem.html#hierarchy).
    from ehelse.terminology.registry import base_terminology

    pieces = split_escaped(value, "|")
    if len(pieces) != 2 or not pieces[0] or not pieces[1]:
        raise ValueError(f":{modifier} needs system|code")
    system, wanted = pieces
    codesystem = base_terminology().codesystem(system)
    for stored_system, code, _ in codes:
        if not isinstance(code, str) or not _same_system(stored_system, system):
            continue
        if code == wanted:
            return True
        if codesystem is not None and codesystem.get(wanted) is not None and code in codesystem.concepts:
            if modifier == "below" and codesystem.subsumes(wanted, code):
                return True
            if modifier == "above" and codesystem.subsumes(code, wanted):
                return True
    return False


def rest_param(name: str, values: tuple[str, ...]) -> SearchParam:
    """The parameter after a chain link or a `_has:` prefix: chains and `_has` keep their
    whole name; a plain name splits off its modifier."""
    if name.startswith("_has:") or "." in name:
        return SearchParam(name, None, values)
    code, _, modifier = name.partition(":")
    return SearchParam(code, modifier or None, values)
