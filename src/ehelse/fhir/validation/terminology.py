"""Binding checks: codes against the value set an element is bound to.

http://hl7.org/fhir/R4/terminologies.html#strength: a `required` binding is an error when
the code is not in the value set; `extensible` and `preferred` bindings are reported as
warnings (extensible allows other codes only when no suitable one exists, which a machine
cannot judge); `example` bindings are not checked. For a CodeableConcept one coding in the
value set is enough (terminologies.html#required).

The value sets themselves live in `bindings.py` (expanded at build time by a colleague's
script); until it exists every value set counts as "cannot check".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ehelse.errors import Issue

try:  # the terminology module lands in parallel (issue 3, bindings part)
    from ehelse.fhir.validation.bindings import check_code as _check_code
except ImportError:  # pragma: no cover - only before bindings.py exists
    _check_code = None

if TYPE_CHECKING:
    from ehelse.fhir.validation.model import Rule  # noqa: F401
    from ehelse.fhir.validation.structure import Walk

CHECKED_STRENGTHS = frozenset({"required", "extensible", "preferred"})

check_code: Callable[[str, str | None, str], bool | None] | None = _check_code


def check_binding(walk: "Walk", rule: "Rule", code_type: str | None, value: Any, path: str) -> None:
    """Check `value` (a code string, Coding or CodeableConcept dict) against rule.binding."""
    check_value(walk.issues, rule.binding, code_type, value, path)


def check_value(issues: list[Issue], binding: tuple[str, str], code_type: str | None, value: Any,
                path: str) -> None:
    """Append an issue to `issues` when `value` is outside the (strength, value set) binding."""
    strength, valueset = binding
    if check_code is None or strength not in CHECKED_STRENGTHS:
        return
    if code_type is None:  # a `code` primitive: the value set implies the system
        if check_code(valueset, None, value) is False:
            _report(issues, strength, valueset, f"{value!r}", path)
        return
    codings = [value] if code_type == "Coding" else value.get("coding")
    if type(codings) is not list:
        return  # text only: nothing to check against
    missed = []
    for index, coding in enumerate(codings):
        if type(coding) is not dict or type(coding.get("code")) is not str:
            continue
        system = coding.get("system")
        if system is not None and type(system) is not str:
            continue  # malformed, and already reported by the structural pass
        result = check_code(valueset, system, coding["code"])
        if result is not False:
            return  # in the value set, or cannot be checked
        missed.append((index, coding))
    if not missed:
        return
    if code_type == "Coding":
        where = f"{path}.code"
    elif len(codings) == 1:
        where = f"{path}.coding[0].code"
    else:
        where = path
    shown = ", ".join(f"{c.get('system', '')}#{c['code']}" for _, c in missed)
    _report(issues, strength, valueset, shown, where)


def _report(issues: list[Issue], strength: str, valueset: str, shown: str, path: str) -> None:
    if strength == "required":
        issues.append(Issue("error", "code-invalid",
                                 f"{shown} is not in the required value set {valueset}", path))
    else:
        issues.append(Issue("warning", "code-invalid",
                                 f"{shown} is not in the {strength} value set {valueset}", path))
