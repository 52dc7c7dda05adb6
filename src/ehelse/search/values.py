"""FHIR element values -> index table values, one function per search parameter type.

Each takes one value an expression selected (a JSON primitive or a complex datatype as a
dict) and returns the value tuples for its index table in storage/index.py column order
(without `grp`). The datatype is recognised by its shape, since choice elements and unions
(`Observation.value`) select several types. Spec: http://hl7.org/fhir/R4/search.html
(#token, #string, #date, #number, #quantity, #reference, #uri).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from ehelse.errors import BadRequest
from ehelse.fhir.resource_types import is_resource_type
from ehelse.nobasis.naming import canonical_system
from ehelse.search.normalize import decimal_range, number_text
from ehelse.search.normalize import normalize as _normalize
from ehelse.search.units import canonical
from ehelse.search.prefixes import HIGH_INSTANT, LOW_INSTANT, instant_range

MAX_TEXT = 512  # longer values are cut: a btree key must stay well under PostgreSQL's ~2.7 kB
BIG = 1e300  # an open end of a Range
_CONTACT_SYSTEMS = {"phone", "fax", "email", "pager", "url", "sms", "other"}


@lru_cache(maxsize=4096)
def system_of(system: str) -> str:
    """Identifier and coding systems as stored and searched: Norwegian OID and HL7 Norway
    URI forms become one (nobasis.naming)."""
    return canonical_system(system)[:MAX_TEXT]


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """search.normalize, cached: displays and names repeat across resources."""
    return _normalize(text)


# -- token: (system, code, text) --------------------------------------------------------------
def token(value: object) -> list[tuple[str, str, str | None]]:
    t = type(value)
    if t is str:
        return [("", value[:MAX_TEXT], None)]
    if t is bool:
        return [("", "true" if value else "false", None)]
    if t is not dict:
        return []
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        out = [coding for c in value.get("coding", ()) for coding in _coding(c)]
        text = value.get("text")
        if type(text) is str:
            text = normalize(text)[:MAX_TEXT]
            if not any(row[2] == text for row in out):  # often the text is a coding's display
                out.append(("", "", text))  # a text-only row, for :text
        return out
    if "code" in value or ("system" in value and "value" not in value):
        return _coding(value)
    code = value.get("value")
    if code is None:
        return []
    system = value.get("system")
    if type(system) is not str:
        system = ""
    elif system not in _CONTACT_SYSTEMS:
        system = system_of(system)
    return [(system, str(code)[:MAX_TEXT], None)]


def _coding(coding: dict) -> list[tuple[str, str, str | None]]:
    code = coding.get("code")
    display = coding.get("display")
    text = normalize(display)[:MAX_TEXT] if type(display) is str else None
    if type(code) is not str:
        return [("", "", text)] if text else []
    system = coding.get("system")
    return [(system_of(system) if type(system) is str else "", code[:MAX_TEXT], text)]


def identifier_types(value: object) -> list[tuple[str, str, str]]:
    """Rows for `:of-type` (search.html#token): (type system, type code, identifier value)."""
    if type(value) is not dict or "type" not in value or "value" not in value:
        return []
    rows = []
    for system, code, _ in token(value["type"]):
        if code:
            rows.append((system, code, str(value["value"])[:MAX_TEXT]))
    return rows


# -- string: (normalised, exact) ------------------------------------------------------------------
_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def string(value: object) -> list[tuple[str, str]]:
    if type(value) is str:
        return [(normalize(value)[:MAX_TEXT], value[:MAX_TEXT])] if value else []
    if type(value) is not dict:
        return []
    # HumanName and Address match on any of their parts (search.html#string)
    parts = _ADDRESS_PARTS if ("line" in value or "city" in value or "postalCode" in value
                               or "country" in value) else _NAME_PARTS
    out = []
    for key in parts:
        part = value.get(key)
        for text in (part if type(part) is list else (part,)):
            if type(text) is str and text:
                out.append((normalize(text)[:MAX_TEXT], text[:MAX_TEXT]))
    return out


# -- date: (low, high) -------------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def _instant_range(text: str) -> tuple[str, str] | None:
    try:
        return instant_range(text)
    except BadRequest:
        return None  # stored data that is no date: nothing to find it by


def date(value: object) -> list[tuple[str, str]]:
    if type(value) is str:
        found = _instant_range(value)
        return [found] if found else []
    if type(value) is not dict:
        return []
    if "start" in value or "end" in value:  # Period: an open end is unbounded
        start, end = value.get("start"), value.get("end")
        low = _instant_range(start) if type(start) is str else None
        high = _instant_range(end) if type(end) is str else None
        return [(low[0] if low else LOW_INSTANT, high[1] if high else HIGH_INSTANT)]
    if "event" in value or "repeat" in value:  # Timing: from the first event to the last
        ranges = [r for e in value.get("event", ()) for r in date(e)]
        bounds = (value.get("repeat") or {}).get("boundsPeriod")
        if bounds:
            ranges += date(bounds)
        if ranges:
            return [(min(r[0] for r in ranges), max(r[1] for r in ranges))]
    return []


# -- number: (value, low, high); quantity: (system, code, value, low, high, canonical code, value)
def number(value: object) -> list[tuple[float, float, float]]:
    text = number_text(value)
    if text is None:
        return []
    try:
        return [decimal_range(text)]
    except ValueError:
        return []


def quantity(value: object) -> list[tuple]:
    if type(value) is not dict:
        return []
    if "low" in value or "high" in value:  # Range: its ends, and the low end as its value
        low = number(value.get("low", {}).get("value"))
        high = number(value.get("high", {}).get("value"))
        unit = value.get("low") or value.get("high")
        lo, hi = (low[0][0] if low else -BIG), (high[0][0] if high else BIG)
        return [_quantity_row(unit, lo if low else hi, lo, hi)]
    found = number(value.get("value"))
    if not found:
        return []
    return [_quantity_row(value, *found[0])]


def _quantity_row(q: dict, value: float, low: float, high: float) -> tuple:
    system = q.get("system") if type(q.get("system")) is str else ""
    code = q.get("code") or q.get("unit") or ""
    converted = canonical(code, value) if code and system in ("", "http://unitsofmeasure.org") else None
    return (system, code[:MAX_TEXT], value, low, high,
            converted[0] if converted else None, converted[1] if converted else None)


# -- reference: (target type, target id, url, version) ----------------------------------------------
_HISTORY = re.compile(r"/_history/[^/]*$")


def reference(value: object) -> list[tuple[str, str, str, str]]:
    if type(value) is dict:
        ref = value.get("reference")
        if type(ref) is not str or not ref or ref[0] == "#":
            return []  # no literal reference (identifier-only, or a contained resource)
    elif type(value) is str:  # canonical or uri
        ref = value
    else:
        return []
    return [parse_reference(ref)]


def parse_reference(ref: str) -> tuple[str, str, str, str]:
    """`Patient/1`, `Patient/1/_history/2`, `http://x/fhir/Patient/1`, `urn:uuid:...`,
    `http://x/Questionnaire/q|2.0` -> (type, id, url, version); '' where it has none."""
    url, _, version = ref.partition("|")
    if "/_history/" in url:
        url = _HISTORY.sub("", url)
    parts = url.rsplit("/", 2)
    type_, id_ = ("", "")
    if len(parts) >= 2 and is_resource_type(parts[-2]):
        type_, id_ = parts[-2], parts[-1]
    absolute = "://" in url or url.startswith("urn:")
    return type_, id_, url[:MAX_TEXT] if absolute else "", version[:MAX_TEXT]


def reference_identifier(value: object) -> list[tuple[str, str, str | None]]:
    """Token rows for `:identifier` (Reference.identifier, search.html#reference)."""
    if type(value) is dict and type(value.get("identifier")) is dict:
        return token(value["identifier"])
    return []


# -- uri ----------------------------------------------------------------------------------------------
def uri(value: object) -> list[tuple[str]]:
    return [(value[:MAX_TEXT],)] if type(value) is str and value else []


# -- full text (_text, _content): distinct normalised words -------------------------------------------
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w{2,}")
MAX_WORDS = 2000


def words(text: str) -> list[tuple[str, str]]:
    """The distinct normalised words (2 characters or more) of a text, the first MAX_WORDS,
    each cut to 64 characters."""
    found = dict.fromkeys(_WORD.findall(normalize(text)))
    return [(w[:64], w[:64]) for w in list(found)[:MAX_WORDS]]


def narrative_text(div: str) -> str:
    """The text of an XHTML narrative (Narrative.div): tags are word breaks, character
    references decoded (`&oslash;` is ø)."""
    return html.unescape(_TAG.sub(" ", div))
