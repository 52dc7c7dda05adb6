"""Token search values as SQL over token_index (http://hl7.org/fhir/R4/search.html#token).

`code`, `system|code`, `|code` (no system), `system|` (any code of the system); `:text`
(the display text, normalised, prefix match); `:not` (compile.py negates the membership);
`:of-type` (`type-system|type-code|value` of an Identifier); `:in`/`:not-in` (the codes of a
ValueSet, expanded by the terminology engine); `:above`/`:below` (the code and its
ancestors/descendants in the code system's hierarchy, where it has one). Systems are
compared in their canonical form (nobasis.naming: OID and HL7 Norway URI find each other).
"""

from __future__ import annotations

import re
from typing import Any

from ehelse.errors import BadRequest
from ehelse.search.normalize import normalize, prefix_upper_bound
from ehelse.search.values import system_of

MAX_CODES = 5000  # a larger value set or hierarchy would make an unreasonable query
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def _unescape(text: str) -> str:
    return re.sub(r"\\([,$|\\])", r"\1", text)


def split_token(value: str) -> tuple[str | None, str]:
    """`system|code` -> (system, code); `code` -> (None, code); `\\|` is a literal bar."""
    parts = _UNESCAPED_BAR.split(value, maxsplit=1)
    if len(parts) == 1:
        return None, _unescape(parts[0])
    return _unescape(parts[0]), _unescape(parts[1])


def token_value(code: str, value: str, modifier: str | None, x: str) -> tuple[str, list[Any]]:
    if modifier == "text":
        norm = normalize(_unescape(value))
        if not norm:
            raise BadRequest(f"{code}:text needs some text", code="value", expression=code)
        return f"({x}.text >= ? AND {x}.text < ?)", [norm[:512], prefix_upper_bound(norm[:512])]
    if modifier == "of-type":
        parts = _UNESCAPED_BAR.split(value)
        if len(parts) != 3 or not all(parts):
            raise BadRequest(f"{code}:of-type takes type-system|type-code|value", code="value", expression=code)
        system, type_code, ident = (_unescape(p) for p in parts)
        return f"({x}.system = ? AND {x}.code = ? AND {x}.text = ?)", [system_of(system), type_code, ident]
    if modifier in ("in", "not-in"):
        return _codes(code, _valueset_codes(code, _unescape(value)), x)
    if modifier in ("above", "below"):
        system, token = split_token(value)
        if not system or not token:
            raise BadRequest(f"{code}:{modifier} needs system|code", code="value", expression=code)
        return _codes(code, [(system, c) for c in _hierarchy(system, token, modifier)], x)
    system, token = split_token(value)
    if system is None:
        return f"{x}.code = ?", [token]
    if token == "":
        if system == "":
            raise BadRequest(f"{code}: '|' names neither system nor code", code="value", expression=code)
        return f"{x}.system = ?", [system_of(system)]
    return f"({x}.system = ? AND {x}.code = ?)", [system_of(system) if system else "", token]


def _codes(code: str, pairs: list[tuple[str, str]], x: str) -> tuple[str, list[Any]]:
    """(system, code) pairs, grouped per system: `(system = ? AND code IN (...)) OR ...`."""
    if len(pairs) > MAX_CODES:
        raise BadRequest(f"{code}: the value set has more than {MAX_CODES} codes", code="too-costly",
                         expression=code)
    by_system: dict[str, list[str]] = {}
    for system, token in pairs:
        by_system.setdefault(system_of(system) if system else "", []).append(token)
    if not by_system:
        return "1 = 0", []
    parts, args = [], []
    for system, codes in by_system.items():
        # a `code` element is stored without a system (its binding names it): match it too
        parts.append(f"({x}.system IN (?, '') AND {x}.code IN ({', '.join('?' * len(codes))}))")
        args += [system, *codes]
    return "(" + " OR ".join(parts) + ")", args


def _valueset_codes(code: str, canonical: str) -> list[tuple[str, str]]:
    from ehelse.terminology.registry import base_terminology

    try:
        expansion = base_terminology().expansion(canonical)
    except Exception as exc:  # unknown value set, or one that cannot be expanded
        raise BadRequest(f"{code}: cannot expand value set {canonical!r} ({exc})", code="value",
                         expression=code) from None
    return [(entry.system, entry.code) for entry in expansion.entries]


def _hierarchy(system: str, token: str, modifier: str) -> list[str]:
    from ehelse.terminology.registry import base_terminology

    codesystem = base_terminology().codesystem(system)
    if codesystem is None or codesystem.get(token) is None:
        return [token]  # no known hierarchy: the code itself
    related = codesystem.descendants(token) if modifier == "below" else codesystem.ancestors(token)
    return [token, *sorted(set(related) - {token})]
