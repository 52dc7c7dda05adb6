"""Is a code in a bound value set? (terminologies.html#binding, R4 4.0.1)

The structural validator asks this for every coded element with a binding: `required`
bindings turn a False into an error, `extensible` and `preferred` ones into a warning.
The value sets were expanded at build time by scripts/gen_valuesets.py into
definitions/valuesets.json.gz; here each becomes a few Python sets, built once on first use,
so a check is one or two dict/set lookups.

Answers are three-valued on purpose: True (in the set), False (certainly not in it), None
(we cannot tell: unknown value set, or the code's system is one we could not enumerate,
such as SNOMED CT or LOINC). A caller must never turn None into an error.

Four code systems are checked by syntax instead of a list: MIME types (urn:ietf:bcp:13,
RFC 6838), language tags (urn:ietf:bcp:47, RFC 5646), UCUM units (plausible syntax only:
ucum.html has the full grammar) -- and ISO 4217 currencies, whose list is in the data file.
"""

from __future__ import annotations

import re
from typing import Callable

from ehelse.fhir import definitions

ANY = "*"

# RFC 6838 section 4.2 restricted-name, with parameters as in RFC 2045 (`; charset=UTF-8`).
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME = re.compile(
    rf"(?:application|audio|font|example|image|message|model|multipart|text|video|x-{_TOKEN})/{_TOKEN}"
    rf'(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:"[^"]*"|[A-Za-z0-9!#$&^_.+-]+))*',
    re.ASCII,
)
# RFC 5646 section 2.1 Language-Tag: langtag | privateuse | grandfathered.
_LANGTAG = re.compile(
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language (+ extlang)
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?"  # private use
    r"|x(?:-[A-Za-z0-9]{1,8})+",
    re.ASCII,
)
_GRANDFATHERED = frozenset(
    t.lower()
    for t in "en-GB-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux i-mingo i-navajo i-pwn "
    "i-tao i-tay i-tsu sgn-BE-FR sgn-BE-NL sgn-CH-DE art-lojban cel-gaulish no-bok no-nyn zh-guoyu "
    "zh-hakka zh-min zh-min-nan zh-xiang".split()
)


def is_mimetype(code: str) -> bool:
    return _MIME.fullmatch(code) is not None


def is_language_tag(code: str) -> bool:
    return _LANGTAG.fullmatch(code) is not None or code.lower() in _GRANDFATHERED


def is_plausible_ucum(code: str) -> bool:
    """UCUM case-sensitive syntax, loosely: printable ASCII without spaces, `{annotations}`
    anywhere, balanced () and []. Unit atoms themselves are not checked (no UCUM table)."""
    if not code or len(code) > 256:
        return False
    depth_round = depth_square = 0
    in_annotation = False
    for ch in code:
        if in_annotation:
            if ch == "}":
                in_annotation = False
            elif not " " <= ch <= "~" or ch == "{":
                return False
            continue
        if not "!" <= ch <= "~":
            return False
        if ch == "{":
            in_annotation = True
        elif ch == "}":
            return False
        elif ch == "(":
            depth_round += 1
        elif ch == ")":
            depth_round -= 1
            if depth_round < 0:
                return False
        elif ch == "[":
            depth_square += 1
        elif ch == "]":
            depth_square -= 1
            if depth_square < 0:
                return False
    return not in_annotation and depth_round == 0 and depth_square == 0


RULES: dict[str, Callable[[str], bool]] = {
    "mimetype": is_mimetype,
    "bcp47": is_language_tag,
    "ucum": is_plausible_ucum,
}


class ValueSetIndex:
    """One expanded value set: (system, code) pairs, bare codes, rules and open systems."""

    __slots__ = ("pairs", "codes", "rules", "open", "closed")

    def __init__(self, entry: dict):
        by_system: dict[str, list[str]] = entry.get("c", {})
        self.pairs = frozenset((system, code) for system, codes in by_system.items() for code in codes)
        self.codes = frozenset(code for codes in by_system.values() for code in codes)
        self.rules = {system: RULES[name] for system, name in entry.get("r", {}).items()}
        self.open = frozenset(entry.get("o", ()))
        self.closed = not self.rules and not self.open  # fully enumerated

    def check(self, system: str | None, code: str) -> bool | None:
        if system is None:  # a plain `code` element: the value set fixes the system
            if code in self.codes:
                return True
            if self.rules:
                if any(rule(code) for rule in self.rules.values()):
                    return True
            return None if self.open else False
        if (system, code) in self.pairs:
            return True
        rule = self.rules.get(system)
        if rule is not None:
            return rule(code)
        if system in self.open or ANY in self.open:
            return None
        return False


_INDEX: dict[str, ValueSetIndex | None] | None = None
# Value sets added at run time (no-basis, installed implementation guides), same entry format.
_EXTRA: dict[str, dict] = {}


def _valuesets() -> dict[str, dict]:
    return definitions.load("valuesets")["valuesets"]


def register_valuesets(entries: dict[str, dict]) -> None:
    """Make more expanded value sets ({url: entry}, the format above) known to check_code;
    a later entry for the same URL replaces the earlier one."""
    global _INDEX
    _EXTRA.update(entries)
    _INDEX = None  # drop cached indexes (and cached "unknown" answers)
    from ehelse.fhir.validation.primitives import clear_known

    clear_known()  # and codes remembered as raising no binding issue (terminology.check_binding)


def has_valueset(url: str) -> bool:
    """Is the value set known here (so that check_code can give a True/False answer)?"""
    return _lookup(url) is not None


def _lookup(url: str) -> ValueSetIndex | None:
    global _INDEX
    if _INDEX is None:
        _INDEX = {}
    index = _INDEX.get(url, False)
    if index is False:
        canonical = url.split("|", 1)[0]  # binding URLs often carry `|4.0.1`
        entry = _EXTRA.get(canonical) or _valuesets().get(canonical)
        index = ValueSetIndex(entry) if entry is not None else None
        _INDEX[url] = index
    return index


def check_code(valueset_url: str, system: str | None, code: str) -> bool | None:
    """True if `code` (in `system`; None for a plain `code` element) is in the value set,
    False if it is certainly not, None if that cannot be checked here."""
    index = _lookup(valueset_url)
    if index is None:
        return None
    return index.check(system, code)


def valueset_codes(url: str) -> frozenset[tuple[str, str]] | None:
    """Every (system, code) of a fully enumerable value set; None when it is not (unknown,
    rule-based or relying on a code system we do not have)."""
    index = _lookup(url)
    if index is None or not index.closed:
        return None
    return index.pairs


def known_valuesets() -> list[str]:
    """The canonical URLs of every value set in the generated data."""
    return sorted(set(_valuesets()) | set(_EXTRA))
