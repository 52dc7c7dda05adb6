"""A profile compiled for checking: a tree of `Constraint`s, one per element id.

http://hl7.org/fhir/R4/profiling.html. The snapshot (in the compact form of
`definitions.structure.compact`) becomes a tree following the element ids
(elementdefinition.html#id): children by element name, slices under the sliced element.
`profiles.Checker` walks this tree over a resource.
"""

from __future__ import annotations

from typing import Any

from ehelse.fhir.validation.model import model


class Constraint:
    """One element of a profile, with its children and slices."""

    __slots__ = ("name", "min", "max", "fixed", "pattern", "types", "binding", "slicing",
                 "slices", "children", "slice_name", "type_profiles", "max_length", "path", "checked",
                 "forms", "expected", "per_value", "count_only", "accept")

    def __init__(self, element: dict[str, Any]):
        self.name = element["path"].rsplit(".", 1)[-1]
        self.min = element.get("min", 0)
        self.max = -1 if element.get("max", "*") == "*" else int(element["max"])
        self.fixed = element.get("fixed")
        self.pattern = element.get("pattern")
        self.types = [t[0] for t in element.get("types", ())]
        # the JSON forms of a choice the element allows: valueQuantity -> "Quantity"
        self.forms = frozenset(t[0].upper() + t[1:] for t in self.types)
        # slicing.expected's answers for this slice, per discriminator path (the tree is not
        # changed once built: a re-registered profile is compiled anew)
        self.expected: dict[str, Any] = {}
        self.type_profiles = [p for t in element.get("types", ()) for p in t[2]]
        binding = element.get("binding")
        self.binding = tuple(binding) if binding and binding[0] == "required" else None
        self.slicing = element.get("slicing")
        self.slice_name = element.get("sliceName")
        self.max_length = element.get("maxLength")
        self.slices: list[Constraint] = []
        self.children: dict[str, Constraint] = {}
        self.path = element["path"]
        # the children that can report anything: (name, child, the name in FHIRPath); set by
        # Profile.prune, and all of them until then
        self.checked: list[tuple[str, Constraint, str]] | None = None
        # whether each value itself is checked (fixed, pattern, length or binding)
        self.per_value = (self.fixed is not None or self.pattern is not None
                          or self.max_length is not None or self.binding is not None)
        # whether checking this element is its cardinality alone (set by Profile.prune, once
        # the children that can report anything are known): the checker then only counts
        self.count_only = False
        # profile_accept.accepts' predicate for this node (None: none; False: not built yet)
        self.accept: Any = False

    def inert(self, model: Any) -> bool:
        """True when checking this element (and all below it) can report nothing on a
        resource that passed the structural pass: no fixed/pattern/length/binding, no
        slices, no type profiles, not a narrowed choice, minimum 0 (a profile's min >= 1 is
        not the base's: `_status` alone satisfies the structure, not the profile's count),
        a maximum no lower than the base element's (the structure has enforced that one),
        and every child inert too."""
        if (self.fixed is not None or self.pattern is not None or self.max_length is not None
                or self.binding is not None or self.slices or self.type_profiles
                or self.name.endswith("[x]") or self.min != 0):
            return False
        if self.max >= 0:
            base = _base_rule(model, self.path)
            if base is None or base.max < 0 or self.max < base.max:
                return False
        return all(child.inert(model) for child in self.children.values())


def _base_rule(model: Any, path: str) -> Any:
    """The structural rule of the core element at `path` (Observation.code.coding), or None."""
    names = path.split(".")
    table = model.tables.get(names[0])
    rule = None
    for name in names[1:]:
        if table is None:
            return None
        rule = table.get(name)
        if rule is None:
            return None
        table = rule.table
    return rule


class Profile:
    """A compiled StructureDefinition (constraint) ready to check instances."""

    def __init__(self, definition: dict[str, Any]):
        self.url = definition["url"]
        self.type = definition["type"]
        elements = definition["elements"]
        self.root = Constraint(elements[0])
        for element in elements[1:]:
            self._place(element)
        self._prune(self.root, model())

    def _prune(self, node: Constraint, model: Any) -> None:
        """Leave out of each node's `checked` the children that cannot report anything, so
        that a profile which constrains a few elements costs a few elements' checks."""
        node.checked = [(name, child, name.replace("[x]", "")) for name, child in node.children.items()
                        if not child.inert(model)]
        for child in node.children.values():
            self._prune(child, model)
        for slice_ in node.slices:
            self._prune(slice_, model)
        # what Checker.element would do besides counting: per-value checks, a binding (its
        # "value set not available" warning too), slicing, checked children, type profiles
        # (a choice, value[x], also has its JSON forms checked: Checker.children counts them)
        node.count_only = not (node.per_value or node.binding is not None
                               or (node.slicing is not None and node.slices) or node.checked
                               or node.type_profiles)

    def _place(self, element: dict[str, Any]) -> None:
        # Element ids name the position: Observation.component:SystolicBP.code.coding:SBPCode
        # (elementdefinition.html#id). Re-slicing (`a:b/c`) is rare and left to the parent slice.
        segments = element.get("id", element["path"]).split(".")[1:]
        node = self.root
        for segment in segments[:-1]:
            name, _, slice_name = segment.partition(":")
            child = node.children.get(name)
            if child is None:
                return
            node = child
            if slice_name:
                node = next((s for s in node.slices if s.slice_name == slice_name), None)
                if node is None:
                    return
        name, _, slice_name = segments[-1].partition(":")
        constraint = Constraint(element)
        if slice_name and "/" not in slice_name:
            owner = node.children.get(name)
            if owner is not None:
                owner.slices.append(constraint)
        elif not slice_name:
            node.children[name] = constraint
