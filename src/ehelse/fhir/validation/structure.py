"""The structural pass: one walk over a resource's JSON against the R4 tables.

Checks element names, JSON shapes, choice types, cardinality, primitive formats, contained
resources, extensions' form, references and bindings, and collects what later passes need
(extensions with a known definition, for the profile pass). Each issue's expression is a
FHIRPath to the element, e.g. `Patient.name[0].given[1]` (operationoutcome.html, the
`expression` element).

Hot path: this runs on every write, so it avoids work on valid data (paths are built only for
objects it descends into and for issues; no per-element allocation otherwise).
"""

from __future__ import annotations

from typing import Any

from ehelse.errors import Issue
from ehelse.fhir.validation import references
from ehelse.fhir.validation.model import Model, Rule, Table
from ehelse.fhir.validation.primitives import json_type

from ehelse.fhir.validation.terminology import check_binding
from ehelse.fhir.validation.walker import Compiled


def walkers(model: Model) -> Compiled:
    """The model's generated walk functions (walker.py), made on first use."""
    compiled = model.walkers
    if compiled is None:
        compiled = model.walkers = Compiled(model)
    return compiled


class Walk:
    """State of validating one top-level resource."""

    __slots__ = ("model", "issues", "extensions", "element_table", "extension_urls", "profiled",
                 "pending", "env", "walkers")

    def __init__(self, model: Model, extension_urls: frozenset[str] | set[str]):
        self.model = model
        self.walkers = walkers(model)
        self.issues: list[Issue] = []
        # (extension object, its path, its url) for extensions whose definition is known
        self.extensions: list[tuple[dict, str, str]] = []
        self.element_table = model.tables["Element"]
        self.extension_urls = extension_urls
        # (resource, its path) for nested resources (entries, contained) that claim a profile
        self.profiled: list[tuple[dict, str]] = []
        # occurrences with core invariants, for invariants.evaluate once the structure is
        # valid: (constraints, node, FHIRPath type, (parent path, key, index), env); the
        # tables carry the constraints when invariants.attach has run
        self.pending: list[tuple] = []
        # the FHIRPath variables of the resource being walked (fhirpath.html#variables)
        self.env: dict | None = None

    def error(self, code: str, message: str, path: str) -> None:
        self.issues.append(Issue("error", code, message, path))

    # -- resources -----------------------------------------------------------------------
    def resource(self, resource: Any, path: str | None, container_refs: list | None = None) -> None:
        """Validate a resource at `path` (None at the top: the path starts with its type).

        A contained resource passes its container's list of `#id` references: references
        between contained resources resolve in the container (references.html#contained)."""
        contained = container_refs is not None
        if type(resource) is not dict:
            self.error("structure", f"expected a resource (a JSON object), got {json_type(resource)}",
                       path or "$this")
            return
        resource_type = resource.get("resourceType")
        if type(resource_type) is not str:
            self.error("required", "resourceType is required: a JSON string naming the type",
                       f"{path}.resourceType" if path else "resourceType")
            return
        table = self.model.tables.get(resource_type)
        if table is None or resource_type not in self.model.resource_types:
            self.error("structure", f"{resource_type!r} is not an R4 resource type",
                       f"{path}.resourceType" if path else "resourceType")
            return
        here = path or resource_type
        if path is not None:
            meta = resource.get("meta")
            if type(meta) is dict and meta.get("profile"):
                self.profiled.append((resource, path))
        if contained and "contained" in resource:
            # dom-2: a contained resource SHALL NOT contain resources (references.html#contained)
            self.error("structure", "a contained resource must not itself contain resources",
                       f"{here}.contained")
        local_refs: list[tuple[str, str]] = container_refs if contained else []
        # %resource is this resource; %rootResource its container for a contained one
        outer = self.env
        env = self.env = {"resource": resource, "rootResource": outer["rootResource"] if contained else resource,
                          "context": resource}
        plan = table.invariants
        if plan is not None:
            constraints = plan[(2 if "contained" in resource else 0) + (1 if contained else 0)]
            if constraints:
                self.pending.append((constraints, resource, resource_type, (here, None, None), env))
        self.object(resource, table, here, local_refs)
        self.env = outer
        if local_refs and not contained:
            self._check_local_refs(resource, local_refs)
        if "contained" in resource and not contained:
            self._check_contained_ids(resource["contained"], here)

    def _check_contained_ids(self, contained: Any, path: str) -> None:
        """A contained resource's id is unique within its container, or `#id` is ambiguous
        (references.html#contained). An id is not demanded: a contained resource may be
        reached only by referring to its container with `#` (dom-3)."""
        if type(contained) is not list:
            return
        seen: set[str] = set()
        for index, item in enumerate(contained):
            if type(item) is not dict:
                continue
            id_ = item.get("id")
            if type(id_) is str:
                if id_ in seen:
                    self.error("value", f"contained id {id_!r} is used twice", f"{path}.contained[{index}].id")
                seen.add(id_)

    def _check_local_refs(self, resource: dict, local_refs: list[tuple[str, str]]) -> None:
        contained = resource.get("contained")
        items = contained if type(contained) is list else ()
        ids = {c.get("id") for c in items if type(c) is dict and type(c.get("id")) is str}
        for local_id, path in local_refs:
            if local_id and local_id not in ids:
                self.error("invalid", f"'#{local_id}' does not match the id of a contained resource",
                           path)

    # -- objects -------------------------------------------------------------------------
    def object(self, obj: dict, table: Table, path: str, local_refs: list) -> None:
        """Check one JSON object against its table: element names, shapes, choices, cardinality,
        primitives, bindings; descending into the objects inside. The checks run as Python
        generated per table (walker.py); the helpers below report the rare cases."""
        self.walkers.walker(table)(self, obj, path, local_refs)

    def bad_single(self, key: str, value: Any, message: str, path: str) -> None:
        """A single primitive whose check failed (or an array where one value belongs)."""
        self.error("structure" if value is None or type(value) is list else "value",
                   message if type(value) is not list else f"{key} must be a single value, not an array",
                   f"{path}.{key}")

    def other_key(self, obj: dict, key: str, value: Any, table: Table, path: str,
                  choices: dict | None) -> dict | None:
        """A key the table has no rule for: a `_name` primitive extension, or an unknown element.
        Returns the object's choices so far (a `_valueString` is the valueString form of
        value[x], json.html#primitive)."""
        if key[:1] == "_":
            self._primitive_extension(obj, key, value, table, path)
            primitive = table.get(key[1:])
            if primitive is not None and primitive.choice is not None:
                if choices is None:
                    choices = {}
                other = choices.setdefault(primitive.choice, key[1:])
                if other != key[1:]:
                    self.error("structure", f"{primitive.choice}[x] must have exactly one form, "
                               f"found {other} and {key}", f"{path}.{key}")
        elif key != "resourceType" or not table.is_resource_root:
            self.error("structure", f"unknown element {key!r}: R4 {table.type_name} has no such element",
                       f"{path}.{key}")
        return choices

    def collect(self, plan: tuple, key: str, value: Any, path: str) -> None:
        """Collect the occurrences of `key` for the invariants pass (the order of
        invariants._child: constraints on the element, then those on the object in it)."""
        on_element, element_base, on_object, object_base = plan
        pending, env = self.pending, self.env
        if type(value) is not list:
            where = (path, key, None)
            if on_element:
                pending.append((on_element, value, element_base, where, env))
            if on_object and type(value) is dict:
                pending.append((on_object, value, object_base, where, env))
            return
        for index, item in enumerate(value):
            where = (path, key, index)
            if on_element:
                pending.append((on_element, item, element_base, where, env))
            if on_object and type(item) is dict:
                pending.append((on_object, item, object_base, where, env))

    def _primitive_items(self, rule: Rule, key: str, value: list, obj: dict, path: str) -> None:
        check = rule.check
        nulls_allowed = f"_{key}" in obj  # a null is a placeholder for an item that has only `_key`
        for index, item in enumerate(value):
            if item is None and nulls_allowed:
                continue
            message = check(item)
            if message is not None:
                self.error("value" if item is not None else "structure", message, f"{path}.{key}[{index}]")
            elif rule.binding is not None:
                check_binding(self, rule, None, item, f"{path}.{key}[{index}]")

    def item(self, rule: Rule, value: Any, path: str, local_refs: list) -> None:
        """One complex value (object) of a rule: a data type, backbone element or resource."""
        if rule.is_resource:
            self.resource(value, path, local_refs if rule.name == "contained" else None)
            return
        if type(value) is not dict:
            self.error("structure", f"expected a JSON object ({rule.code}), got {json_type(value)}", path)
            return
        table = rule.table
        if table is None:
            self.error("not-supported", f"no definition for type {rule.code}", path)
            return
        self.object(value, table, path, local_refs)
        code = rule.code
        if code == "Reference":
            self._reference(rule, value, path, local_refs)
        elif code == "Extension" and table is not self.model.tables.get("Extension"):
            self._extension(value, path)  # the Extension table's walk did it (walker.extension_tail)
        elif rule.binding is not None and (code == "CodeableConcept" or code == "Coding"):
            check_binding(self, rule, code, value, path)

    # -- special types -------------------------------------------------------------------
    def _reference(self, rule: Rule, value: dict, path: str, local_refs: list) -> None:
        reference = value.get("reference")
        target = None
        if type(reference) is str:
            message, target, local_id = references.parse(reference, self.model.resource_types)
            if message is not None:
                self.error("value", message, f"{path}.reference")
                return
            if local_id is not None:
                local_refs.append((local_id, f"{path}.reference"))
        targets = rule.targets
        if targets is None:
            return
        if target is not None and target not in targets:
            self._wrong_target(target, targets, f"{path}.reference")
            return
        declared = value.get("type")  # Reference.type: a type name or its StructureDefinition URL
        if type(declared) is str:
            name = declared.rsplit("/", 1)[-1]
            if name not in targets:
                self._wrong_target(name, targets, f"{path}.type")

    def _wrong_target(self, name: str, targets: frozenset[str], path: str) -> None:
        allowed = ", ".join(sorted(targets))
        self.error("value", f"a reference to {name} is not allowed here: expected {allowed}", path)

    def _extension(self, value: dict, path: str) -> None:
        # ext-1: an extension has either a value[x] or nested extensions, never both (extensibility.html)
        has_value = False
        for key in value:  # a loop, not any(generator): every extension passes here
            if key.startswith("value"):
                has_value = True
                break
        if has_value == ("extension" in value):
            self.error("structure", "an extension must have either a value[x] or nested extensions, "
                       "not both and not neither (ext-1)", path)
        url = value.get("url")
        if type(url) is str and url in self.extension_urls:
            self.extensions.append((value, path, url))

    def _primitive_extension(self, obj: dict, key: str, value: Any, table: Table, path: str) -> None:
        """`_name` carries a primitive's id and extensions (json.html#primitive)."""
        rule = table.get(key[1:])
        if rule is None or not rule.is_primitive:
            self.error("structure", f"unknown element {key!r}: {key[1:]!r} is not a primitive element "
                       f"of {table.type_name}", f"{path}.{key}")
            return
        element = self.element_table
        if rule.array:
            if type(value) is not list or not value:
                self.error("structure", f"{key} must be a non-empty JSON array", f"{path}.{key}")
                return
            values = obj.get(key[1:])
            if values is not None:
                if type(values) is not list or len(values) != len(value):
                    self.error("structure", f"{key} must have as many items as {key[1:]}", f"{path}.{key}")
                    return
            for index, item in enumerate(value):
                if item is None:
                    if values is None or values[index] is None:
                        self.error("structure", f"{key[1:]}[{index}] has neither a value nor extensions",
                                   f"{path}.{key[1:]}[{index}]")
                elif type(item) is dict:
                    self.object(item, element, f"{path}.{key[1:]}[{index}]", [])
                else:
                    self.error("structure", f"expected a JSON object or null, got {json_type(item)}",
                               f"{path}.{key}[{index}]")
        elif type(value) is dict:
            self.object(value, element, f"{path}.{key[1:]}", [])
        else:
            self.error("structure", f"{key} must be a JSON object, got {json_type(value)}", f"{path}.{key}")
