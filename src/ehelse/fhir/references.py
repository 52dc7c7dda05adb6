"""Rewriting references inside a transaction (http://hl7.org/fhir/R4/http.html#trules).

"Servers SHALL replace all matching links in the bundle, whether they are found in the
resource ids, resource references, elements of type uri, url, oid, uuid, and <a href="" &
<img src="" in the narrative." So every string equal to a resolved fullUrl is replaced
(wherever it is: extensions, contained resources, Attachment.url), and narrative links too.
Conditional references (`Patient?identifier=...`) are collected here and resolved by bundle.py.
"""

from __future__ import annotations

import re
from typing import Any, Callable

_CONDITIONAL = re.compile(r"^[A-Z][A-Za-z]+\?.+")
_NARRATIVE_LINK = re.compile(r'((?:href|src)\s*=\s*")([^"]+)(")')


def is_conditional_reference(value: str) -> bool:
    return _CONDITIONAL.match(value) is not None


def conditional_references(value: Any, found: set[str]) -> set[str]:
    """Every `Type?criteria` string in a `reference` element below `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and is_conditional_reference(item):
                found.add(item)
            elif isinstance(item, (dict, list)):
                conditional_references(item, found)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                conditional_references(item, found)
    return found


def rewrite(value: Any, mapping: dict[str, str]) -> None:
    """Replace, in place, every string equal to a key of `mapping` (and narrative links to one)."""
    if not mapping:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if item in mapping:
                    value[key] = mapping[item]
                elif key == "div" and ('href' in item or 'src' in item):
                    value[key] = _rewrite_narrative(item, mapping.get)
            elif isinstance(item, (dict, list)):
                rewrite(item, mapping)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                if item in mapping:
                    value[index] = mapping[item]
            elif isinstance(item, (dict, list)):
                rewrite(item, mapping)


def _rewrite_narrative(div: str, lookup: Callable[[str], str | None]) -> str:
    def replace(match: re.Match) -> str:
        target = lookup(match.group(2))
        return match.group(0) if target is None else match.group(1) + target + match.group(3)

    return _NARRATIVE_LINK.sub(replace, div)
