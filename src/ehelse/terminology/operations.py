"""The terminology operations as plain functions, and their HTTP adapters in `OPERATIONS`.

    lookup(system, code, ...)           CodeSystem/$lookup     codesystem-operation-lookup.html
    expand(url_or_valueset, ...)        ValueSet/$expand       valueset-operation-expand.html
    validate_code(url, system, code)    ValueSet/$validate-code and CodeSystem/$validate-code
    subsumes(system, code_a, code_b)    CodeSystem/$subsumes   codesystem-operation-subsumes.html
    translate(url, system, code, ...)   ConceptMap/$translate  conceptmap-operation-translate.html
    check_code(valueset, system, code)  True/False/None (cannot tell): for binding validation

(all under http://hl7.org/fhir/R4/). Each takes `repo=` so that terminology stored in the
repository counts (registry.terminology_for). Errors: errors.NotFound for an unknown code
system, value set or concept map (and $lookup of an unknown code), errors.BadRequest for
missing or malformed parameters.

Wiring (the router): `OPERATIONS[(resource_type, "$name")](params, body, repo) -> (status,
resource)`, where `params` is the query string as `dict[str, list[str]]` and `body` the parsed
Parameters of a POST (or None). For an instance-level call (`CodeSystem/{id}/$lookup`) put
the id in `params["_id"]`; the operation then uses that resource's url.
"""

from __future__ import annotations

from typing import Any, Callable

from ehelse.errors import BadRequest, NotFound
from ehelse.terminology import parameters as P
from ehelse.terminology.expand import expand
from ehelse.terminology.registry import Terminology, terminology_for
from ehelse.terminology.translate import translate

__all__ = ["OPERATIONS", "check_code", "expand", "lookup", "subsumes", "translate", "validate_code"]


def _codesystem(terminology: Terminology, system: str | None, version: str | None = None):
    system = P.require(system, "system")
    found = terminology.codesystem(system, version)
    if found is None:
        raise NotFound(f"Code system {system}{'|' + version if version else ''} is not known to this server")
    return found


def lookup(system: str | None, code: str | None, version: str | None = None, properties: list[str] | None = None,
           *, display_language: str | None = None, repo: Any = None) -> dict[str, Any]:
    """CodeSystem/$lookup: name, version, display, designations and properties of a code."""
    codesystem = _codesystem(terminology_for(repo), system, version)
    concept = codesystem.get(P.require(code, "code"))
    if concept is None:
        raise NotFound(f"Code {code!r} is not in code system {codesystem.url}", code="code-invalid")
    wanted = set(properties or ())

    def want(name: str) -> bool:
        return not wanted or name in wanted

    items = [P.parameter("name", codesystem.name),
             P.parameter("version", codesystem.version) if codesystem.version else None,
             P.parameter("display", concept.display_for(display_language) or concept.code)]
    if concept.definition and want("definition"):
        items.append(P.parameter("definition", concept.definition))
    if want("designation"):
        for designation in concept.designations:
            parts = [P.parameter("language", designation["language"], kind="Code")] if designation.get("language") else []
            if designation.get("use"):
                parts.append(P.parameter("use", designation["use"], kind="Coding"))
            parts.append(P.parameter("value", designation.get("value")))
            items.append(P.parameter("designation", parts=parts))
    for name, codes in (("parent", concept.parents), ("child", concept.children)):
        if want(name):
            items.extend(P.parameter("property", parts=[P.parameter("code", name, kind="Code"),
                                                        P.parameter("value", c, kind="Code")]) for c in codes)
    for prop in concept.properties:
        if want(prop.get("code", "")):
            value_key = next((k for k in prop if k.startswith("value")), None)
            parts = [P.parameter("code", prop.get("code"), kind="Code")]
            if value_key:
                parts.append({"name": "value", value_key: prop[value_key]})
            items.append(P.parameter("property", parts=parts))
    return P.parameters(*items)


def validate_code(url: str | None, system: str | None, code: str | None, display: str | None = None, *,
                  version: str | None = None, valueset: dict[str, Any] | None = None,
                  repo: Any = None) -> dict[str, Any]:
    """$validate-code: is the code in the value set `url` (or the given ValueSet resource)?
    With neither, is it in the code system `system` (CodeSystem/$validate-code)?"""
    terminology = terminology_for(repo)
    code = P.require(code, "code")
    if url is None and valueset is None:
        codesystem = _codesystem(terminology, system, version)
        concept = codesystem.get(code)
        if concept is None:
            return _result(False, f"Code {code!r} is not in code system {codesystem.url}")
        return _check_display(display, concept.display, concept.code)
    expansion = _expansion(terminology, url, valueset)
    entry = expansion.member(system, code)
    if entry is None:
        if not expansion.complete and (system is None or system in expansion.missing):
            raise NotFound(f"Cannot check {system}#{code}: code system {system or expansion.missing[0]} "
                           f"is not available to this server")
        shown = f"{system}#{code}" if system else code
        return _result(False, f"{shown} is not in value set {url or valueset.get('url')}")
    return _check_display(display, entry.display, entry.code)


def _check_display(given: str | None, expected: str | None, code: str) -> dict[str, Any]:
    if given and expected and given.strip().casefold() != expected.strip().casefold():
        return _result(False, f"Display {given!r} is not the display of {code!r} ({expected!r})", expected)
    return _result(True, None, expected)


def _result(ok: bool, message: str | None, display: str | None = None) -> dict[str, Any]:
    return P.parameters(P.parameter("result", ok, kind="Boolean"),
                        P.parameter("message", message) if message else None,
                        P.parameter("display", display) if display else None)


def _expansion(terminology: Terminology, url: str | None, valueset: dict[str, Any] | None):
    if valueset is not None:
        return terminology.expansion(valueset)
    try:
        return terminology.expansion(P.require(url, "url"))
    except KeyError:
        raise NotFound(f"Value set {url} is not known to this server") from None


def check_code(valueset: str, system: str | None, code: str, *, repo: Any = None) -> bool | None:
    """For binding checks: True when the code is in the value set, False when it is not,
    None when we cannot tell (unknown value set, or a code system we do not hold)."""
    terminology = terminology_for(repo)
    try:
        expansion = terminology.expansion(valueset)
    except (KeyError, RecursionError, Exception):  # noqa: BLE001 - any failure means "cannot check"
        return None
    if expansion.member(system, code) is not None:
        return True
    if not expansion.complete and (system is None or system in expansion.missing):
        return None
    return False


def subsumes(system: str | None, code_a: str | None, code_b: str | None, version: str | None = None, *,
             repo: Any = None) -> dict[str, Any]:
    """CodeSystem/$subsumes: equivalent | subsumes | subsumed-by | not-subsumed."""
    codesystem = _codesystem(terminology_for(repo), system, version)
    a, b = codesystem.get(P.require(code_a, "codeA")), codesystem.get(P.require(code_b, "codeB"))
    for given, concept, name in ((code_a, a, "codeA"), (code_b, b, "codeB")):
        if concept is None:
            raise BadRequest(f"{name} {given!r} is not in code system {codesystem.url}", code="code-invalid")
    if a.code == b.code:
        outcome = "equivalent"
    elif codesystem.subsumes(a.code, b.code):
        outcome = "subsumes"
    elif codesystem.subsumes(b.code, a.code):
        outcome = "subsumed-by"
    else:
        outcome = "not-subsumed"
    return P.parameters(P.parameter("outcome", outcome, kind="Code"))


# -- HTTP adapters: (params, body, repo) -> (status, resource) -------------------------------------
def _instance_url(repo: Any, kind: str, params: dict[str, list[str]]) -> str | None:
    resource_id = P.first(params, "_id")
    if resource_id is None or repo is None:
        return None
    from ehelse.fhir import jsoncodec

    version = repo.read(kind, resource_id)
    if version is None or version.deleted:
        raise NotFound(f"{kind}/{resource_id} is not known")
    return jsoncodec.loads(version.content, max_depth=10_000).get("url")


def _http_lookup(params, body, repo):
    q, _ = P.collect(params, body)
    system = _instance_url(repo, "CodeSystem", q) or P.first(q, "system", "coding.system")
    return 200, lookup(system, P.first(q, "code", "coding.code"), P.first(q, "version", "coding.version"),
                       q.get("property"), display_language=P.first(q, "displayLanguage"), repo=repo)


def _http_expand(params, body, repo):
    q, resources = P.collect(params, body)
    target = resources.get("valueSet") or _instance_url(repo, "ValueSet", q) or P.require(P.first(q, "url"), "url")
    version = P.first(q, "valueSetVersion")
    if isinstance(target, str) and version:
        target = f"{target}|{version}"
    return 200, expand(target, filter=P.first(q, "filter"), count=P.integer(q, "count"),
                       offset=P.integer(q, "offset"), display_language=P.first(q, "displayLanguage"), repo=repo)


def _http_validate_code(kind: str) -> Callable:
    def handler(params, body, repo):
        q, resources = P.collect(params, body)
        url = _instance_url(repo, kind, q) or P.first(q, "url")
        system = P.first(q, "system", "coding.system", "codeableConcept.system")
        code = P.first(q, "code", "coding.code", "codeableConcept.code")
        display = P.first(q, "display", "coding.display", "codeableConcept.display")
        if kind == "CodeSystem":
            return 200, validate_code(None, url or system, code, display, version=P.first(q, "version"), repo=repo)
        return 200, validate_code(url, system, code, display, valueset=resources.get("valueSet"), repo=repo)
    return handler


def _http_subsumes(params, body, repo):
    q, _ = P.collect(params, body)
    system = _instance_url(repo, "CodeSystem", q) or P.first(q, "system", "codingA.system", "codingB.system")
    return 200, subsumes(system, P.first(q, "codeA", "codingA.code"), P.first(q, "codeB", "codingB.code"),
                         P.first(q, "version"), repo=repo)


def _http_translate(params, body, repo):
    q, _ = P.collect(params, body)
    url = _instance_url(repo, "ConceptMap", q) or P.first(q, "url")
    return 200, translate(url, P.first(q, "system", "coding.system", "codeableConcept.system"),
                          P.first(q, "code", "coding.code", "codeableConcept.code"),
                          source=P.first(q, "source"), target=P.first(q, "target"),
                          target_system=P.first(q, "targetsystem"),
                          reverse=(P.first(q, "reverse") or "false").lower() == "true", repo=repo)


OPERATIONS: dict[tuple[str, str], Callable[[dict, dict | None, Any], tuple[int, dict]]] = {
    ("CodeSystem", "$lookup"): _http_lookup,
    ("CodeSystem", "$validate-code"): _http_validate_code("CodeSystem"),
    ("CodeSystem", "$subsumes"): _http_subsumes,
    ("ValueSet", "$expand"): _http_expand,
    ("ValueSet", "$validate-code"): _http_validate_code("ValueSet"),
    ("ConceptMap", "$translate"): _http_translate,
}


def register(registry: dict) -> None:
    """Add the terminology operations to an operations registry keyed like OPERATIONS."""
    registry.update(OPERATIONS)

