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
from ehelse.fhir.validation.primitives import KNOWN_LENGTH, KNOWN_LIMIT, register_known

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
    """Check `value` (a code string, Coding or CodeableConcept dict) against rule.binding.

    Real data repeats its codes: a code (or a coding's system and code) once found to raise
    no issue under this binding is remembered in rule.known (bounded; emptied with the other
    known-valid values, and when value sets are registered), so it costs a set lookup."""
    known = rule.known
    if code_type is None:
        if type(value) is str and value in known:
            return
    else:
        codings = [value] if code_type == "Coding" else value.get("coding")
        if type(codings) is list:
            for coding in codings:
                # the codings check_value reads: a string code, a string or absent system
                if type(coding) is dict:
                    code, system = coding.get("code"), coding.get("system")
                    if type(code) is str and (system is None or type(system) is str) and (system, code) in known:
                        return  # check_value would stop at this coding (or earlier) with no issue
    if len(known) >= KNOWN_LIMIT:
        known.clear()
    # A code that did raise an issue is remembered too, with the issue (an extensible
    # binding's warning, e.g. identifier type SS on every Synthea Patient): same binding,
    # same codes, same issue; only its path differs.
    signature = _signature(code_type, value)
    if signature is not None:
        missed = _MISSED.get((rule.binding, code_type, signature))
        if missed is not None:
            severity, message, suffix = missed
            walk.issues.append(Issue(severity, "code-invalid", message, path + suffix))
            return
    issues = walk.issues
    before = len(issues)
    check_value(issues, rule.binding, code_type, value, path, known)
    if signature is not None and len(issues) == before + 1:
        issue = issues[-1]
        if issue.expression is not None and issue.expression.startswith(path):
            if len(_MISSED) >= KNOWN_LIMIT:
                _MISSED.clear()
            _MISSED[(rule.binding, code_type, signature)] = (
                issue.severity, issue.diagnostics, issue.expression[len(path):])


# (binding, code type, _signature) -> (severity, message, path suffix) of the issue it raised;
# emptied with the known-valid values (primitives.clear_known, and when value sets change)
_MISSED: dict[tuple, tuple[str, str, str]] = {}
register_known(_MISSED)


def _signature(code_type: str | None, value: Any) -> tuple | str | None:
    """What check_value's answer depends on, when every code is well formed (a string code,
    a string or absent system) and short; None otherwise (not remembered)."""
    if code_type is None:
        return value if type(value) is str and len(value) <= KNOWN_LENGTH else None
    codings = (value,) if code_type == "Coding" else value.get("coding")
    if type(codings) not in (list, tuple):
        return None
    pairs = []
    size = 0
    for coding in codings:
        if type(coding) is not dict:
            return None
        code, system = coding.get("code"), coding.get("system")
        if type(code) is not str or (system is not None and type(system) is not str):
            return None
        size += len(code) + len(system or "")
        pairs.append((system, code))
    return tuple(pairs) if size <= KNOWN_LENGTH else None


def check_value(issues: list[Issue], binding: tuple[str, str], code_type: str | None, value: Any,
                path: str, known: set | None = None) -> None:
    """Append an issue to `issues` when `value` is outside the (strength, value set) binding;
    add what raised none to `known` (the code, or the (system, code) that was found)."""
    strength, valueset = binding
    if check_code is None or strength not in CHECKED_STRENGTHS:
        return
    if code_type is None:  # a `code` primitive: the value set implies the system
        if check_code(valueset, None, value) is False:
            _report(issues, strength, valueset, f"{value!r}", path)
        elif known is not None and type(value) is str and len(value) <= KNOWN_LENGTH:
            known.add(value)
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
            if known is not None and len(coding["code"]) + len(system or "") <= KNOWN_LENGTH:
                known.add((system, coding["code"]))
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
