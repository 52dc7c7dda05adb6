"""Rewriting references inside a transaction (http://hl7.org/fhir/R4/http.html#trules).

"Servers SHALL replace all matching links in the bundle, whether they are found in the
resource ids, resource references, elements of type uri, url, oid, uuid, and <a href="" &
<img src="" in the narrative." So every string equal to a resolved fullUrl is replaced
(wherever it is: extensions, contained resources, Attachment.url), and narrative links too.
Conditional references (`Patient?identifier=...`) are resolved through a callback from bundle.py.
"""

from __future__ import annotations

import re
from typing import Any, Callable

_CONDITIONAL = re.compile(r"^[A-Z][A-Za-z]+\?.+")
_NARRATIVE_LINK = re.compile(r'((?:href|src)\s*=\s*")([^"]+)(")')


def is_conditional_reference(value: str) -> bool:
    return _CONDITIONAL.match(value) is not None


def rewrite(value: Any, mapping: dict[str, str],
            conditional: Callable[[str], str] | None = None) -> None:
    """Replace, in place, every string equal to a key of `mapping` (and narrative links to one).
    A `reference` of the form `Type?criteria` is replaced by `conditional(reference)`. One walk
    does both: this runs over every resource of every imported Bundle."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if item in mapping:
                    value[key] = mapping[item]
                elif key == "reference" and conditional is not None and is_conditional_reference(item):
                    value[key] = conditional(item)
                elif key == "div" and mapping and ("href" in item or "src" in item):
                    value[key] = _rewrite_narrative(item, mapping.get)
            elif isinstance(item, (dict, list)):
                rewrite(item, mapping, conditional)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                if item in mapping:
                    value[index] = mapping[item]
            elif isinstance(item, (dict, list)):
                rewrite(item, mapping, conditional)


def _rewrite_narrative(div: str, lookup: Callable[[str], str | None]) -> str:
    def replace(match: re.Match) -> str:
        target = lookup(match.group(2))
        return match.group(0) if target is None else match.group(1) + target + match.group(3)

    return _NARRATIVE_LINK.sub(replace, div)
