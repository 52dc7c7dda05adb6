"""A StructureDefinition's snapshot reduced to the facts a validator needs.

Used twice: by scripts/gen_definitions.py to write the committed R4 core data, and at run
time by the profile registry (`ehelse.fhir.validation.profiles.register_profile`) for
profiles loaded later (e.g. no-basis). Keeping one function means the core types and any
profile are read the same way.

A compact element (http://hl7.org/fhir/R4/elementdefinition.html) is a dict with:
  path, min, max ("*" or a digit string as in the spec)
  id         only when it differs from path (slices: `Observation.component:SystolicBP`)
  types      [[code, targetProfiles, profiles], ...] with FHIR type codes (System.String is
             mapped back to the FHIR type through the structuredefinition-fhir-type extension)
  ref        contentReference without '#', e.g. "Questionnaire.item"
  binding    [strength, valueSet URL without |version]
  fixed / pattern   the fixed[x] / pattern[x] value
  slicing    {"d": [[type, path], ...], "rules": "open|closed|openAtEnd"}
  sliceName
  maxLength  the longest string the element allows (profiles)

An extension definition also keeps its `context`: [[type, expression], ...], where it may
be used (extensibility.html#context).
"""

from __future__ import annotations

from typing import Any

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"


def _type_code(type_: dict[str, Any]) -> str:
    code = type_["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_.get("extension", ()):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext["valueUrl"]
        return code.rsplit(".", 1)[1].lower()
    return code


def compact_element(element: dict[str, Any], kind: str, root: str) -> dict[str, Any]:
    path = element["path"]
    out: dict[str, Any] = {"path": path, "min": element.get("min", 0), "max": element.get("max", "*")}
    if element.get("id") and element["id"] != path:
        out["id"] = element["id"]
    types = []
    for type_ in element.get("type", ()):
        code = _type_code(type_)
        # Resource.id is of type `id` (resource.html#id); R4's snapshot marks it System.String.
        if kind == "resource" and path == f"{root}.id":
            code = "id"
        types.append([code, type_.get("targetProfile", []), type_.get("profile", [])])
    if types:
        out["types"] = types
    if "contentReference" in element:
        out["ref"] = element["contentReference"].lstrip("#")
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        out["binding"] = [binding["strength"], binding["valueSet"].split("|", 1)[0]]
    for key, value in element.items():
        if key.startswith("fixed"):
            out["fixed"] = value
        elif key.startswith("pattern"):
            out["pattern"] = value
    if "slicing" in element:
        slicing = element["slicing"]
        out["slicing"] = {"d": [[d["type"], d["path"]] for d in slicing.get("discriminator", ())],
                          "rules": slicing.get("rules", "open")}
    if "sliceName" in element:
        out["sliceName"] = element["sliceName"]
    if "maxLength" in element:
        out["maxLength"] = element["maxLength"]
    return out


def compact(structure: dict[str, Any]) -> dict[str, Any]:
    """The compact form of one StructureDefinition (its snapshot must be present)."""
    snapshot = structure.get("snapshot", {}).get("element")
    if not snapshot:
        raise ValueError(f"StructureDefinition {structure.get('url')} has no snapshot")
    kind = structure["kind"]
    root = snapshot[0]["path"]
    out: dict[str, Any] = {
        "url": structure["url"],
        "name": structure.get("name", ""),
        "type": structure["type"],
        "kind": kind,
        "derivation": structure.get("derivation", "specialization"),
        "abstract": structure.get("abstract", False),
        "base": structure.get("baseDefinition"),
        "elements": [compact_element(e, kind, root) for e in snapshot],
    }
    if kind == "primitive-type":
        out["regex"] = primitive_regex(snapshot)
    if structure["type"] == "Extension" and structure.get("context"):
        out["context"] = [[c["type"], c["expression"]] for c in structure["context"]]
    return out


def primitive_regex(snapshot: list[dict[str, Any]]) -> str | None:
    """The regex on a primitive type's `value` element (the regex extension on its type)."""
    for element in snapshot:
        if element["path"].endswith(".value"):
            for type_ in element.get("type", ()):
                for ext in type_.get("extension", ()):
                    if ext.get("url") == REGEX_EXT:
                        return ext["valueString"]
    return None
