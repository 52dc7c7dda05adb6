"""Profiles: validating a resource against a constraining StructureDefinition.

http://hl7.org/fhir/R4/profiling.html. A profile's snapshot is compiled (by the same
`definitions.structure.compact` as the core types) into a tree of `Constraint`s, one per
element id, with slices under their sliced element. The check walks that tree over the
resource (which already passed the structural pass) and reports:
  - cardinality tightened by the profile (min/max), per slice too
  - fixed[x] (exact) and pattern[x] (the instance contains the pattern) values
  - choice types narrowed (`value[x]` only Quantity)
  - required bindings the profile adds
  - slicing (profiling.html#slicing) by value/pattern/exists/type discriminators, with
    closed slicing rejecting items that match no slice
  - extension definitions: an extension whose url is a registered definition is checked
    against it (its value[x] type, its nested extensions)

The registry is data loaded at run time: the R4 core profiles and extension definitions
(generated into definitions/profiles.json.gz) and the built-in packages (BUILT_IN_PACKAGES:
no-basis) on first use, and any other StructureDefinition through `register_profile` (e.g.
an implementation guide installed with `ehelse ig install`). A profile may be known under
alias URLs too (no-basis profiles are published under two URL forms); extensions are not.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from ehelse.errors import Issue
from ehelse.fhir.definitions import load
from ehelse.fhir.definitions.structure import compact
from ehelse.fhir.validation.bindings import has_valueset
from ehelse.fhir.validation.contexts import allowed_at, element_expressions
from ehelse.fhir.validation.matching import matches_fixed, matches_pattern
from ehelse.fhir.validation.model import model
from ehelse.fhir.validation.profile_accept import accepts
from ehelse.fhir.validation.profile_tree import Constraint, Profile
from ehelse.fhir.validation.slicing import slice_matches
from ehelse.fhir.validation.terminology import check_value


# Modules whose profiles are built in, loaded with the core ones on first use. Each has
# `profile_definitions() -> (definitions {url: compact}, aliases {alias url: url})`.
BUILT_IN_PACKAGES = ("ehelse.nobasis.profiles",)


class Registry:
    """Profiles by canonical URL; the core ones come from generated data on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._definitions: dict[str, dict[str, Any]] | None = None
        self._compiled: dict[str, Profile] = {}
        self._extension_urls: frozenset[str] = frozenset()
        self._aliases: dict[str, str] = {}
        # url -> (compiled extension definition, its element_expressions, the contexts as
        # text for messages), or None when the url names no extension: check() asks for the
        # same few per resource. Emptied when a definition is registered.
        self._extensions: dict[str, tuple[Profile, tuple[str, ...] | None, str] | None] = {}

    def _core(self) -> dict[str, dict[str, Any]]:
        if self._definitions is None:
            with self._lock:
                if self._definitions is None:
                    definitions = dict(load("profiles")["profiles"])
                    for name in BUILT_IN_PACKAGES:
                        more, aliases = importlib.import_module(name).profile_definitions()
                        definitions.update(more)
                        self._aliases.update(aliases)
                    # Aliases name profiles (meta.profile), not extensions: Extension.url is
                    # exact (extensibility.html), so only the defined URL is checked as one.
                    self._extension_urls = frozenset(
                        url for url, d in definitions.items() if d["type"] == "Extension")
                    self._definitions = definitions
        return self._definitions

    def canonical(self, url: str) -> str:
        """The URL a profile is registered under, for `url` or any alias of it."""
        url = url.split("|", 1)[0]
        return self._aliases.get(url, url)

    def register(self, structure_definition: dict[str, Any]) -> str:
        definition = compact(structure_definition)
        definitions = self._core()
        with self._lock:
            url = definition["url"]
            definitions[url] = definition
            self._compiled.pop(url, None)
            self._extensions = {}
            if definition["type"] == "Extension":
                self._extension_urls = self._extension_urls | {url}
        return url

    def get(self, url: str) -> Profile | None:
        definitions = self._core()
        url = self.canonical(url)
        profile = self._compiled.get(url)
        if profile is None:
            definition = definitions.get(url)
            if definition is None:
                return None
            profile = self._compiled[url] = Profile(definition)
        return profile

    def contexts(self, url: str) -> list[list[str]] | None:
        """An extension definition's contexts ([type, expression] pairs), if it has any."""
        definition = self._core().get(self.canonical(url))
        return definition.get("context") if definition else None

    def extension(self, url: str) -> tuple[Profile, tuple[str, ...] | None, str] | None:
        """What check() needs for an extension with this url: (its compiled definition,
        element_expressions of its contexts (None: not judged; () when it has none), the
        contexts for messages); None when no extension definition has this url."""
        try:
            return self._extensions[url]
        except KeyError:
            pass
        plan = None
        profile = self.get(url)
        if profile is not None and profile.type == "Extension":
            contexts = self.contexts(url) or []
            plan = (profile, element_expressions(contexts) if contexts else None,
                    ", ".join(expression for _, expression in contexts))
        self._extensions[url] = plan
        return plan

    def extension_urls(self) -> frozenset[str]:
        self._core()
        return self._extension_urls


REGISTRY = Registry()


def register_profile(structure_definition: dict[str, Any]) -> str:
    """Make a StructureDefinition (with a snapshot) available to `validate`; returns its URL."""
    return REGISTRY.register(structure_definition)


def extension_urls() -> frozenset[str]:
    return REGISTRY.extension_urls()


def check(resource: dict[str, Any], profiles: list[str] | None,
          extensions: list[tuple[dict, str, str]],
          nested: list[tuple[dict, str]] = ()) -> list[Issue]:
    """Issues from the profiles the resource claims (meta.profile) or is asked to meet, from
    those its nested resources claim (`nested`: Bundle entries and contained resources with
    a meta.profile, with their paths), and from the definitions of its extensions."""
    issues: list[Issue] = []
    _check_profiles(resource, resource["resourceType"], profiles, issues)
    for inner, path in nested:
        _check_profiles(inner, path, None, issues)
    for extension, path, url in extensions:
        plan = REGISTRY.extension(url)
        if plan is not None:
            profile, expressions, where = plan
            if expressions is not None and allowed_at(model(), expressions, resource, path) is False:
                issues.append(Issue("error", "structure", f"extension {url} is not allowed here: its "
                                    f"definition allows it on {where} (extensibility.html#context)", path))
            accept = accepts(profile.root)
            if accept is None or not accept(extension):  # the checker says where it fails
                Checker(issues, url).children(profile.root, [(extension, path)])
    return issues


def _check_profiles(resource: dict[str, Any], path: str, profiles: list[str] | None,
                    issues: list[Issue]) -> None:
    resource_type = resource["resourceType"]
    wanted: list[tuple[str, bool]] = [(url, True) for url in profiles or ()]
    meta = resource.get("meta")
    if type(meta) is dict:
        wanted += [(url, False) for url in meta.get("profile", ()) if type(url) is str]
    seen = set()
    for url, explicit in wanted:
        if REGISTRY.canonical(url) in seen:
            continue  # the same profile under another of its URLs
        seen.add(REGISTRY.canonical(url))
        profile = REGISTRY.get(url)
        if profile is None:
            # An unknown profile in meta.profile is a claim we cannot check, not an error
            # (profiling.html#profile-uses); an explicitly requested one must be known.
            issues.append(Issue("error" if explicit else "warning", "not-supported",
                                f"profile {url} is not known to this server, so it was not checked",
                                path if explicit else f"{path}.meta.profile"))
            continue
        if profile.type != resource_type:
            issues.append(Issue("error", "invalid", f"profile {url} is for {profile.type}, "
                                f"not {resource_type}", path))
            continue
        accept = accepts(profile.root)
        if accept is None or not accept(resource):  # the checker says where it fails
            Checker(issues, url).children(profile.root, [(resource, path)])


class Checker:
    """Walks one profile's constraints over the values of one resource."""

    def __init__(self, issues: list[Issue], url: str):
        self.issues = issues
        self.url = url

    def error(self, code: str, message: str, path: str) -> None:
        self.issues.append(Issue("error", code, f"{message} (profile {self.url})", path))

    def children(self, node: Constraint, items: list[tuple[Any, str]]) -> None:
        for item, path in items:
            if type(item) is not dict:
                continue
            checked = node.checked
            if checked is None:  # not pruned (a node built outside Profile)
                checked = [(name, child, name.replace("[x]", "")) for name, child in node.children.items()]
            for name, child, bare in checked:
                if child.count_only:
                    # only the cardinality to check (and a choice's forms): count without
                    # building the values and their paths, which the full check below needs
                    # only to report; the same keys as _child_values
                    if name == bare:
                        value = item.get(name)
                        count = 0 if value is None else len(value) if type(value) is list else 1
                    else:
                        count, size, forms = 0, len(bare), child.forms if child.types else None
                        for key in item:
                            if key.startswith(bare) and len(key) > size and key[size].isupper():
                                count += 1
                                if forms is not None and key[size:] not in forms:
                                    count = -1  # a form the profile does not allow: report it
                                    break
                    if child.min <= count and not 0 <= child.max < count:
                        continue
                values = _child_values(item, name, path, child, self)
                self.element(child, values, f"{path}.{bare}")

    def element(self, node: Constraint, values: list[tuple[Any, str]], where: str) -> None:
        count = len(values)
        if count < node.min:
            self.error("required", f"{_label(node)} needs at least {node.min} value(s), found {count}", where)
        elif 0 <= node.max < count:
            self.error("structure", f"{_label(node)} allows at most {node.max} value(s), found {count}", where)
        for value, path in values if node.per_value else ():
            if node.fixed is not None and not matches_fixed(value, node.fixed):
                self.error("value", f"value must be exactly {node.fixed!r}", path)
            if node.pattern is not None and not matches_pattern(value, node.pattern):
                self.error("value", f"value must match the pattern {node.pattern!r}", path)
            if node.max_length is not None and type(value) is str and len(value) > node.max_length:
                self.error("value", f"at most {node.max_length} characters allowed, found {len(value)}", path)
            if node.binding is not None and type(value) in (str, dict):
                kind = None if type(value) is str else ("Coding" if "code" in value else "CodeableConcept")
                check_value(self.issues, node.binding, kind, value, path)
        if node.binding is not None and values and not has_valueset(node.binding[1]):
            # A national value set the package does not carry (Volven 3402, 8624, ...): say we
            # could not check, never reject (terminologies.html#strength cannot be applied).
            self.issues.append(Issue("warning", "not-supported",
                                     f"value set {node.binding[1]} is not available, so the required "
                                     f"binding of {_label(node)} was not checked (profile {self.url})", where))
        if node.slicing is not None and node.slices:
            self.slices(node, values, where)
        if node.children and values:
            self.children(node, values)
        if node.type_profiles and values:
            self.type_profiles(node, values)

    def type_profiles(self, node: Constraint, values: list[tuple[Any, str]]) -> None:
        """A data type profile on the element's type (ElementDefinition.type.profile, e.g.
        no-basis-Address on Patient.address): each value must conform to it too
        (profiling.html#profiles). With several, conforming to one is enough
        (elementdefinition-definitions.html#ElementDefinition.type.profile). Extension
        definitions are checked from the walk instead."""
        results = []
        for url in node.type_profiles:
            profile = REGISTRY.get(url)
            if profile is not None and profile.type != "Extension" and profile.type in node.types:
                found: list[Issue] = []
                Checker(found, profile.url).children(profile.root, values)
                if not any(issue.is_error for issue in found):
                    self.issues.extend(found)
                    return
                results.append(found)
        if results:
            self.issues.extend(results[0])

    def slices(self, node: Constraint, values: list[tuple[Any, str]], where: str) -> None:
        discriminators = node.slicing["d"]
        matched: dict[int, list[tuple[Any, str]]] = {i: [] for i in range(len(node.slices))}
        for value, path in values:
            index = None
            for i, slice_ in enumerate(node.slices):
                verdict = slice_matches(value, path, node.name, slice_, discriminators)
                if verdict is None:
                    return  # a discriminator we cannot evaluate: leave this slicing unchecked
                if verdict:
                    index = i
                    break
            if index is None:
                if node.slicing["rules"] == "closed":
                    self.error("structure", f"{node.name} item matches none of the slices "
                               f"({', '.join(s.slice_name for s in node.slices)}) of a closed slicing", path)
            else:
                matched[index].append((value, path))
        for i, slice_ in enumerate(node.slices):
            self.element(slice_, matched[i], where)


def _label(node: Constraint) -> str:
    """The element's name in messages, with its slice: extension:latitude."""
    return f"{node.name}:{node.slice_name}" if node.slice_name else node.name


def _child_values(item: dict, name: str, path: str, node: Constraint,
                  checker: Checker) -> list[tuple[Any, str]]:
    if name.endswith("[x]"):
        base = name[:-3]
        found = [(key, item[key]) for key in item
                 if key.startswith(base) and len(key) > len(base) and key[len(base)].isupper()]
        values = []
        for key, value in found:
            code = key[len(base):]
            if node.types and code not in node.forms:
                checker.error("structure", f"{key}: the profile allows {base}[x] only as "
                              f"{', '.join(node.types)}", f"{path}.{key}")
            values.append((value, f"{path}.{key}"))
        return values
    value = item.get(name)
    if value is None:
        return []
    if type(value) is list:
        return [(v, f"{path}.{name}[{i}]") for i, v in enumerate(value)]
    return [(value, f"{path}.{name}")]
