"""Shortcuts: direct Python answers for the invariants that cost most on typical resources.

Measured on the Synthea Observations and Conditions (docs/validation.md, speed), the compiled
FHIRPath of obs-6, obs-7, qty-3, dom-6, con-3/4/5 and cpt-2 took more time than the structural
pass. Each of them is a disjunction whose first terms are answered by whether one JSON key is
present: `dataAbsentReason.empty() or ...` holds at once when there is no dataAbsentReason.

A shortcut returns True / False when it knows the answer for certain and None when it does
not; `shortcut(key, rule)` wraps the compiled rule so that None falls through to it. Exactness
is the whole point: tests/fhir/validation/test_shortcuts.py compares each shortcut with
fhirpathpy on the official examples and on generated variants.

Presence follows FHIRPath on FHIR JSON (fhirpath.html#paths, json.html#primitive): an element
is present when its key or its `_key` (a primitive with only extensions) is, and a choice
element `value` is present under any `value[Type]` key.
"""

from __future__ import annotations

from typing import Any, Callable

Rule = Callable[[Any, dict], "bool | None"]

_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _has(node: dict, name: str) -> bool:
    """Whether element `name` is present (value or `_name` extension, not JSON null)."""
    return node.get(name) is not None or node.get("_" + name) is not None


def _has_choice(node: dict, name: str) -> bool:
    """Whether choice element `name[x]` is present: any key `nameType` / `_nameType` whose
    suffix starts with a capital (a type name), as fhirpath.html#paths resolves `value`."""
    size = len(name)
    for key in node:
        if name in key:  # a substring test in C first: most keys are not candidates
            bare = key[1:] if key[0] == "_" else key
            if len(bare) > size and bare.startswith(name) and bare[size].isupper() and node[key] is not None:
                return True
    return False


def _codings(concept: Any) -> list:
    """The `coding` list of a CodeableConcept, or () when it is not the plain JSON shape."""
    if type(concept) is not dict:
        return []
    coding = concept.get("coding")
    return coding if type(coding) is list else []


def _has_coding(concept: Any, system: str, codes: tuple[str, ...]) -> bool:
    """`coding.where(system = S and code in codes).exists()`: a coding whose system and code
    both have values that match (a missing one makes `=` empty, which `where` drops)."""
    for c in _codings(concept):  # a loop, not any(generator): this runs on every Condition
        if type(c) is dict and c.get("system") == system and c.get("code") in codes:
            return True
    return False


# -- the shortcuts (each: True / False when certain, None to defer to the compiled rule) ---


def _obs_6(node: dict, env: dict) -> bool | None:
    """obs-6 `dataAbsentReason.empty() or value.empty()`."""
    if not _has(node, "dataAbsentReason") or not _has_choice(node, "value"):
        return True
    return False


def _obs_7(node: dict, env: dict) -> bool | None:
    """obs-7 `value.empty() or component.code.where(coding.intersect(%resource.code.coding)
    .exists()).empty()`: certain only when value or component is absent."""
    if not _has(node, "component") or not _has_choice(node, "value"):
        return True
    return None


def _code_needs_system(node: dict, env: dict) -> bool | None:
    """qty-3 `code.empty() or system.exists()` (Quantity); the same shape as cpt-2 below."""
    if not _has(node, "code") or _has(node, "system"):
        return True
    return False


def _cpt_2(node: dict, env: dict) -> bool | None:
    """cpt-2 `value.empty() or system.exists()` (ContactPoint)."""
    if not _has(node, "value") or _has(node, "system"):
        return True
    return False


def _dom_6(node: dict, env: dict) -> bool | None:
    """dom-6 `text.`div`.exists()` (a resource should have a narrative)."""
    text = node.get("text")
    if type(text) is dict and _has(text, "div"):
        return True
    return False if text is None and node.get("_text") is None else None


def _con_3(node: dict, env: dict) -> bool | None:
    """con-3 `clinicalStatus.exists() or <entered-in-error> or category.select($this =
    'problem-list-item').empty()`: certain when clinicalStatus is there or category is not."""
    if _has(node, "clinicalStatus") or not _has(node, "category"):
        return True
    return None


def _con_4(node: dict, env: dict) -> bool | None:
    """con-4 `abatement.empty() or clinicalStatus.coding.where(system = condition-clinical and
    (code = 'resolved' or code = 'remission' or code = 'inactive')).exists()`."""
    if not _has_choice(node, "abatement"):
        return True
    if _has_coding(node.get("clinicalStatus"), _CONDITION_CLINICAL, ("resolved", "remission", "inactive")):
        return True
    return None  # no match: the compiled rule gives false (or empty) exactly


def _con_5(node: dict, env: dict) -> bool | None:
    """con-5 `verificationStatus.coding.where(system = condition-ver-status and code =
    'entered-in-error').empty() or clinicalStatus.empty()`."""
    if not _has(node, "clinicalStatus"):
        return True
    if not _has_coding(node.get("verificationStatus"), _CONDITION_VER_STATUS, ("entered-in-error",)):
        return True
    return None


SHORTCUTS: dict[str, Rule] = {
    "obs-6": _obs_6, "obs-7": _obs_7, "qty-3": _code_needs_system, "cpt-2": _cpt_2,
    "dom-6": _dom_6, "con-3": _con_3, "con-4": _con_4, "con-5": _con_5,
}


def shortcut(key: str, rule: Rule) -> Rule:
    """`rule` with the shortcut for `key` in front of it (or `rule` itself when there is none)."""
    fast = SHORTCUTS.get(key)
    if fast is None:
        return rule

    def shortened(node: Any, env: dict) -> bool | None:
        if type(node) is dict:
            answer = fast(node, env)
            if answer is not None:
                return answer
        return rule(node, env)
    shortened.shortcut = fast  # type: ignore[attr-defined] - the tests compare it alone
    shortened.rule = rule  # type: ignore[attr-defined] - invariants.evaluate calls the two itself
    return shortened
