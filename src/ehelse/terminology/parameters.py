"""FHIR Parameters in and out for the terminology operations.

In: an operation is invoked by GET (query parameters) or POST (a Parameters body), and a
Coding or CodeableConcept may stand for system+code (http://hl7.org/fhir/R4/operations.html#request).
`collect()` folds both into one `dict[str, list[str]]` plus the resources a body carried
(e.g. the ValueSet to expand). Out: `parameters()` builds a Parameters resource.
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import BadRequest

_VALUE_KEYS = ("valueString", "valueCode", "valueUri", "valueCanonical", "valueUrl", "valueBoolean",
               "valueInteger", "valueDateTime", "valueDate", "valueDecimal", "valueId")


def collect(params: dict[str, list[str]] | None, body: dict[str, Any] | None
            ) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Query parameters and a Parameters body as one multi-dict of strings, and the
    resources (name -> resource) the body carried. Codings are spread into `<name>.system`,
    `<name>.code`, `<name>.display`, `<name>.version`."""
    merged: dict[str, list[str]] = {k: list(v) for k, v in (params or {}).items()}
    resources: dict[str, Any] = {}
    if body is None:
        return merged, resources
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("The body of a terminology operation must be a Parameters resource", code="structure")
    for index, param in enumerate(body.get("parameter") or []):
        name = param.get("name") if isinstance(param, dict) else None
        if not isinstance(name, str):
            raise BadRequest("Parameters.parameter needs a name", expression=f"Parameters.parameter[{index}]",
                             code="structure")
        if isinstance(param.get("resource"), dict):
            resources[name] = param["resource"]
            continue
        coding = param.get("valueCoding")
        if coding is None and isinstance(param.get("valueCodeableConcept"), dict):
            codings = param["valueCodeableConcept"].get("coding") or []
            coding = codings[0] if codings else None
        if isinstance(coding, dict):
            for part in ("system", "code", "display", "version"):
                if coding.get(part) is not None:
                    merged.setdefault(f"{name}.{part}", []).append(str(coding[part]))
            continue
        for key in _VALUE_KEYS:
            if key in param:
                value = param[key]
                merged.setdefault(name, []).append(str(value).lower() if isinstance(value, bool) else str(value))
                break
    return merged, resources


def first(params: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = params.get(name)
        if values:
            return values[0]
    return None


def integer(params: dict[str, list[str]], name: str) -> int | None:
    value = first(params, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Parameter {name} must be an integer, not {value!r}", code="value") from None
    if number < 0:
        raise BadRequest(f"Parameter {name} must not be negative", code="value")
    return number


def require(value: str | None, name: str) -> str:
    if not value:
        raise BadRequest(f"Missing parameter {name}", code="required")
    return value


def parameter(name: str, value: Any = None, *, kind: str = "String", parts: list[dict] | None = None) -> dict:
    out: dict[str, Any] = {"name": name}
    if parts is not None:
        out["part"] = parts
    else:
        out[f"value{kind}"] = value
    return out


def parameters(*items: dict | None) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [i for i in items if i is not None]}
