"""Where an extension may be used: its definition's `context` (extensibility.html#context).

An R4 context of type `element` names an element path (`Patient.birthDate`,
`Questionnaire.item`), a data type (`Address`, `HumanName.family`), or `Element` for
anywhere. The walk knows an extension only by its FHIRPath (`Patient.address[0].line[1]`
has its extensions under `_line`); this module resolves that path through the R4 tables to
the names the element answers to, and says whether any context matches. Paths it cannot
resolve (through a nested resource, an unknown element) are not judged: None.
"""

from __future__ import annotations

import re

from ehelse.fhir.validation.model import Model

_OWN = re.compile(r"\.(?:extension|modifierExtension)\[\d+\]$")
_STEP = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


# element_names for paths that cross no nested resource depend on the path alone (indices
# aside): kept per index-free path, and per path as written. Bounded like primitives' known
# values.
_NAMES: dict[str, set[str] | None] = {}
_NAMES_LIMIT = 10_000
_INDEX = re.compile(r"\[\d+\]")


def element_names(model: Model, resource: dict, extension_path: str) -> set[str] | None:
    """The names the element holding this extension answers to, or None when unknown.

    The path is followed through the tables and, in step, through the resource itself, so
    that a nested resource (Bundle.entry.resource, contained) restarts at its own type:
    contexts are relative to the resource the extension is in."""
    try:
        return _NAMES[extension_path]  # this very path, seen before (Patient.extension[0])
    except KeyError:
        pass
    key = _INDEX.sub("", extension_path)
    try:
        names = _NAMES[key]
    except KeyError:
        names, crossed = _element_names(model, resource, extension_path)
        if crossed:
            return names
    if len(_NAMES) >= _NAMES_LIMIT:
        _NAMES.clear()
    # under both: the index-free path for other indices, the path itself for a look-up
    # without the regex next time
    _NAMES[key] = _NAMES[extension_path] = names
    return names


def _element_names(model: Model, resource: dict, extension_path: str) -> tuple[set[str] | None, bool]:
    """(element_names, whether the path went through a nested resource)."""
    parent, found = _OWN.subn("", extension_path)
    if not found:
        return None, False
    steps = _STEP.findall(parent)
    root = steps[0][0]
    if root not in model.resource_types:
        return None, False
    table, owner, rule, obj = model.tables[root], None, None, resource
    crossed = False
    names_path = [root]
    for name, index in steps[1:]:
        if table is None:
            return None, crossed
        rule = table.get(name)
        if rule is None:
            return None, crossed
        value = obj.get(name) if type(obj) is dict else None
        if index and type(value) is list:
            value = value[int(index)] if int(index) < len(value) else None
        if rule.is_resource:
            crossed = True
            kind = value.get("resourceType") if type(value) is dict else None
            if kind not in model.resource_types:
                return None, crossed
            table, owner, rule, obj = model.tables[kind], None, None, value
            names_path = [kind]
            continue
        owner, table, obj = table, rule.table, value
        names_path.append(name)
    names = {"Element", names_path[0]}
    if rule is None:  # the extension is on a resource itself
        return names | {"Resource", "DomainResource"}, crossed
    names.add(".".join(names_path))
    names.add(f"{owner.type_name}.{names_path[-1]}")  # HumanName.family, Questionnaire.item.item
    names.add(rule.code)
    if rule.choice is not None:
        prefix = ".".join(names_path[:-1])
        names.update({f"{prefix}.{rule.choice}[x]", f"{prefix}.{rule.choice}",
                      f"{owner.type_name}.{rule.choice}[x]"})
    if table is not None:
        names.add(table.type_name)  # a backbone element answers to its definition path too
    if rule.code == "BackboneElement":
        names.add("BackboneElement")
    return names, crossed


def allowed(model: Model, contexts: list[list[str]], resource: dict, extension_path: str) -> bool | None:
    """True/False: may an extension with these contexts stand at `extension_path`? None: unknown."""
    return allowed_at(model, element_expressions(contexts), resource, extension_path)


def element_expressions(contexts: list[list[str]]) -> tuple[str, ...] | None:
    """The expressions of `element` contexts, or None when there is a context of another
    kind (fhirpath, extension), which is not judged here. Computed once per definition by
    the profile registry."""
    expressions = tuple(expression for type_, expression in contexts if type_ == "element")
    return expressions if len(expressions) == len(contexts) else None


def allowed_at(model: Model, expressions: tuple[str, ...] | None, resource: dict,
               extension_path: str) -> bool | None:
    """`allowed`, for the element_expressions of the contexts."""
    if expressions is None:
        return None
    names = element_names(model, resource, extension_path)
    if names is None:
        return None
    for expression in expressions:
        if expression in names:
            return True
    return False
