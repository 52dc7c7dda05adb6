"""Check the Norwegian identifiers a resource carries, on write.

A resource whose FNR or D-nummer (or felles hjelpenummer) fails its check digits is rejected
with an error Issue pointing at the value (`Patient.identifier[0].value`), whichever system
form it uses (naming.py). The walk covers the resource's own identifiers, contained resources,
Bundle entries and logical references (`Reference.identifier`), since an FNR is checked the
same wherever it appears. A number of the wrong kind for its system (a D-nummer under the FNR
system), an invalid H-nummer and a bad organisasjonsnummer are warnings: they deserve a word
but the issue rejects only failing person numbers.

The server calls this from the write path (after structural validation):

    issues = check_resource_identifiers(resource)
    if any(i.is_error for i in issues): raise ValidationFailed(issues=issues)
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import Issue
from ehelse.nobasis import naming
from ehelse.nobasis.identifiers.personal import InvalidIdentifier, parse_person_number
from ehelse.nobasis.identifiers.registries import validate_orgnr

# system -> (kinds of number the system holds, severity when the number is invalid)
_PERSON_SYSTEMS: dict[naming.IdentifierSystem, tuple[tuple[str, ...], str]] = {
    naming.FNR: (("FNR",), "error"),
    naming.DNR: (("DNR",), "error"),
    naming.FHN: (("FHN",), "error"),
    naming.HNR: (("HNR",), "warning"),  # local numbers: not every system follows HIS 1001
}


def check_identifier(identifier: dict[str, Any], expression: str) -> list[Issue]:
    """Issues for one Identifier (a dict with system and value) at `expression`."""
    system = naming.identifier_system(identifier.get("system"))
    value = identifier.get("value")
    if system is None or not isinstance(value, str) or not value:
        return []
    where = f"{expression}.value"
    if system is naming.ENH:
        try:
            validate_orgnr(value)
        except InvalidIdentifier as exc:
            return [Issue("warning", "value", f"Invalid organisasjonsnummer: {exc}", where)]
        return []
    rule = _PERSON_SYSTEMS.get(system)
    if rule is None:
        return []
    kinds, severity = rule
    try:
        number = parse_person_number(value)
    except InvalidIdentifier as exc:
        return [Issue(severity, "value", f"Invalid {system.name} ({system.key}): {exc}", where)]
    if number.kind not in kinds:
        return [Issue("warning", "value",
                      f"{number.value} is a {number.kind} but is given with the {system.key} system "
                      f"({system.canonical})", where)]
    return []


def check_resource_identifiers(resource: dict[str, Any]) -> list[Issue]:
    """Issues for every Norwegian person or organisation identifier in the resource."""
    issues: list[Issue] = []
    root = resource.get("resourceType") or "Resource"
    _walk(resource, root, issues)
    return issues


def _walk(node: Any, path: str, issues: list[Issue]) -> None:
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "identifier":
                if isinstance(child, list):
                    for index, identifier in enumerate(child):
                        if isinstance(identifier, dict):
                            issues.extend(check_identifier(identifier, f"{path}.identifier[{index}]"))
                            _walk(identifier, f"{path}.identifier[{index}]", issues)
                elif isinstance(child, dict):  # Reference.identifier (a logical reference)
                    issues.extend(check_identifier(child, f"{path}.identifier"))
                    _walk(child, f"{path}.identifier", issues)
            elif isinstance(child, (dict, list)):
                _walk(child, f"{path}.{key}", issues)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            if isinstance(child, (dict, list)):
                _walk(child, f"{path}[{index}]", issues)
