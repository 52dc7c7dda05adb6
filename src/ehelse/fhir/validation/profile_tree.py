"""A profile compiled for checking: a tree of `Constraint`s, one per element id.

http://hl7.org/fhir/R4/profiling.html. The snapshot (in the compact form of
`definitions.structure.compact`) becomes a tree following the element ids
(elementdefinition.html#id): children by element name, slices under the sliced element.
`profiles.Checker` walks this tree over a resource.
"""

from __future__ import annotations

from typing import Any


class Constraint:
    """One element of a profile, with its children and slices."""

    __slots__ = ("name", "min", "max", "fixed", "pattern", "types", "binding", "slicing",
                 "slices", "children", "slice_name", "type_profiles", "max_length")

    def __init__(self, element: dict[str, Any]):
        self.name = element["path"].rsplit(".", 1)[-1]
        self.min = element.get("min", 0)
        self.max = -1 if element.get("max", "*") == "*" else int(element["max"])
        self.fixed = element.get("fixed")
        self.pattern = element.get("pattern")
        self.types = [t[0] for t in element.get("types", ())]
        self.type_profiles = [p for t in element.get("types", ()) for p in t[2]]
        binding = element.get("binding")
        self.binding = tuple(binding) if binding and binding[0] == "required" else None
        self.slicing = element.get("slicing")
        self.slice_name = element.get("sliceName")
        self.max_length = element.get("maxLength")
        self.slices: list[Constraint] = []
        self.children: dict[str, Constraint] = {}


class Profile:
    """A compiled StructureDefinition (constraint) ready to check instances."""

    def __init__(self, definition: dict[str, Any]):
        self.url = definition["url"]
        self.type = definition["type"]
        elements = definition["elements"]
        self.root = Constraint(elements[0])
        for element in elements[1:]:
            self._place(element)

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
