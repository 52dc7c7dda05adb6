"""Implementation guide packages: install one at run time, and load what was installed.

A FHIR package (http://hl7.org/fhir/packages.html, the NPM-style .tgz the IG publisher makes)
holds `package/package.json` and one JSON resource per file in `package/`. `install` keeps
its conformance resources that the validator and the terminology engine use --
StructureDefinitions, ValueSets and CodeSystems -- and:
  1. checks them (R4 package, valid resources, every profile has a snapshot: we read
     snapshots, we do not generate them -- profiling.html#snapshot);
  2. stores them in the repository in one transaction (`repo.update`, so installing the same
     package again changes nothing and a newer version of it updates the resources);
  3. registers them in this process: profiles in the validator's registry, value sets
     expanded for binding checks. The terminology engine sees the stored ValueSets and
     CodeSystems by itself (terminology/registry.py reads the repository).

Every server process calls `load_installed(repo)` once at start, so a profile installed by
`ehelse ig install` is known to all of them (after a restart of those already running).
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ehelse.errors import BadRequest, Conflict, Issue, ValidationFailed
from ehelse.fhir import jsoncodec

KINDS = ("StructureDefinition", "ValueSet", "CodeSystem")
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one resource file; the R4 core's largest is ~5 MB
MAX_PACKAGE_BYTES = 1024 * 1024 * 1024  # all files read, unpacked: a guard against gzip bombs
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")


@dataclass(slots=True)
class Package:
    """The conformance resources of one package, in file order."""

    name: str
    version: str
    resources: list[dict[str, Any]]
    skipped: int = 0  # files of other resource types (examples, SearchParameters, ...)


@dataclass(slots=True)
class InstallResult:
    package: Package
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)  # profile URLs now known to the validator
    warnings: list[Issue] = field(default_factory=list)  # validation errors let through by `force`


# -- reading -----------------------------------------------------------------------------------
def read_package(path: str | Path) -> Package:
    """The StructureDefinitions, ValueSets and CodeSystems of a package .tgz; BadRequest when
    the file is not a FHIR R4 package."""
    path = Path(path)
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BadRequest(f"{path.name} is not a FHIR package (.tgz): {exc}") from None
    with tar:
        manifest: dict[str, Any] | None = None
        resources: list[dict[str, Any]] = []
        skipped = 0
        total = 0
        for member in tar:
            folder, _, name = member.name.rpartition("/")
            # Only package/*.json: the examples live in package/example/ (packages.html#format)
            if folder != "package" or not name.endswith(".json") or not member.isfile():
                continue
            total += member.size
            if member.size > MAX_MEMBER_BYTES or total > MAX_PACKAGE_BYTES:
                raise BadRequest(f"{member.name}: the package is larger than this server reads "
                                 f"({MAX_MEMBER_BYTES} bytes a file, {MAX_PACKAGE_BYTES} in all)",
                                 code="too-costly")
            data = _parse(tar.extractfile(member).read(), member.name)
            if name == "package.json":
                manifest = data
            elif type(data) is dict and data.get("resourceType") in KINDS:
                resources.append(data)
            else:
                skipped += 1
    if manifest is None or not isinstance(manifest.get("name"), str):
        raise BadRequest(f"{path.name} has no package/package.json naming the package: not a FHIR package")
    versions = manifest.get("fhirVersions") or manifest.get("fhir-version-list") or []
    if versions and not any(str(v).startswith("4.0") for v in versions):
        raise BadRequest(f"package {manifest['name']} is for FHIR {', '.join(map(str, versions))}, "
                         "this server speaks R4 (4.0.1)", code="not-supported")
    return Package(manifest["name"], str(manifest.get("version", "")), resources, skipped)


def _parse(raw: bytes, where: str) -> Any:
    try:
        return jsoncodec.loads(raw, max_depth=1000)
    except BadRequest as exc:
        raise BadRequest(f"{where}: {exc}") from None


# -- checking and storing ------------------------------------------------------------------------
def check_package(package: Package, *, force: bool = False) -> list[Issue]:
    """Raise ValidationFailed with every problem found; return when all can be installed.
    With `force`, resources that fail validation are let through and their errors returned
    as warnings (pre-release packages have such flaws: no-basis 2.2.3 has a binding without
    a strength); what we cannot use at all (a profile without a snapshot, two resources
    with one id) is still refused."""
    from ehelse.fhir.definitions.structure import compact
    from ehelse.fhir.validation import validate

    issues: list[Issue] = []
    invalid: list[Issue] = []
    seen: dict[tuple[str, str], str] = {}
    for resource in package.resources:
        kind, url = resource["resourceType"], resource.get("url")
        label = f"{kind} {url or resource.get('id') or '(no url)'}"
        for issue in validate(resource):
            if issue.is_error:
                invalid.append(Issue("warning" if force else "error", issue.code,
                                     f"{label}: {issue.diagnostics}", issue.expression))
        if not isinstance(url, str):
            continue  # validate() required it (url is 1..1 for all three kinds)
        key = (kind, resource_id(resource))
        if seen.setdefault(key, url) != url:
            issues.append(Issue("error", "duplicate", f"{label}: id {key[1]} is also used by {seen[key]}",
                                f"{kind}.id"))
        if kind == "StructureDefinition" and resource.get("derivation") == "constraint":
            try:
                compact(resource)
            except (ValueError, KeyError, TypeError) as exc:
                issues.append(Issue("error", "not-supported", f"{label}: {exc} (profiles must come with "
                                    "their snapshot: this server does not generate snapshots)",
                                    "StructureDefinition.snapshot"))
    if issues or (invalid and not force):
        raise ValidationFailed(issues=issues + invalid)
    return invalid


def resource_id(resource: dict[str, Any]) -> str:
    """The resource's own id, else one made from the last segment of its canonical URL."""
    given = resource.get("id")
    if isinstance(given, str) and given:
        return given
    tail = str(resource.get("url", "")).rstrip("/").rsplit("/", 1)[-1]
    return (_ID_UNSAFE.sub("-", tail) or "resource")[:64]


def install(repo: Any, package: Package, *, force: bool = False) -> InstallResult:
    """Check, store (one transaction) and register the package's conformance resources;
    `force`: see check_package."""
    result = InstallResult(package, warnings=check_package(package, force=force))
    with repo.transaction():
        for resource in package.resources:
            kind = resource["resourceType"]
            resource = dict(resource, id=resource_id(resource))
            current = repo.read(kind, resource["id"])
            if current is not None and not current.deleted:
                stored = jsoncodec.loads(current.content, max_depth=10_000)
                if stored.get("url") != resource.get("url"):
                    raise Conflict(f"{kind}/{resource['id']} holds {stored.get('url')}, "
                                   f"not {resource.get('url')}: not replaced", expression=f"{kind}.id")
                if _same(stored, resource):
                    result.unchanged[kind] = result.unchanged.get(kind, 0) + 1
                    continue
            _, created = repo.update(resource)
            counts = result.created if created else result.updated
            counts[kind] = counts.get(kind, 0) + 1
    result.profiles = register(package.resources)
    return result


def _same(stored: dict[str, Any], resource: dict[str, Any]) -> bool:
    """Equal but for meta.versionId/lastUpdated (which the repository sets)."""
    def strip(r: dict[str, Any]) -> bytes:
        meta = {k: v for k, v in (r.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        return jsoncodec.dumps({**{k: v for k, v in r.items() if k != "meta"}, "meta": meta})
    return strip(stored) == strip(resource)


# -- registering in this process ---------------------------------------------------------------
def register(resources: Iterable[dict[str, Any]]) -> list[str]:
    """Make profiles and value sets known to this process's validator; returns the profile URLs."""
    from ehelse.fhir.validation import register_profile
    from ehelse.fhir.validation.bindings import register_valuesets

    resources = list(resources)
    profiles = [register_profile(r) for r in resources
                if r.get("resourceType") == "StructureDefinition" and r.get("derivation") == "constraint"
                and (r.get("snapshot") or {}).get("element")]
    valuesets = [r for r in resources if r.get("resourceType") == "ValueSet" and isinstance(r.get("url"), str)]
    if valuesets:
        register_valuesets(binding_entries(valuesets, resources))
    return profiles


def binding_entries(valuesets: list[dict[str, Any]], context: list[dict[str, Any]]) -> dict[str, dict]:
    """Value sets expanded into the validator's binding format ({"c": {system: [codes]},
    "o": [systems we cannot enumerate]}, see fhir/validation/bindings.py), using the
    terminology engine with the package's own code systems over the base ones."""
    from ehelse.terminology.registry import Terminology, base_terminology

    terminology = Terminology([r for r in context if r.get("resourceType") in ("CodeSystem", "ValueSet")],
                              parent=base_terminology())
    entries: dict[str, dict] = {}
    for valueset in valuesets:
        try:
            expansion = terminology.expansion(valueset["url"])
        except Exception:  # noqa: BLE001 - an expansion we cannot do means "cannot check", not a failure
            entries[valueset["url"]] = {"c": {}, "o": ["*"]}
            continue
        codes: dict[str, list[str]] = {}
        for entry in expansion.entries:
            codes.setdefault(entry.system, []).append(entry.code)
        entry_json: dict[str, Any] = {"c": codes}
        if expansion.missing:
            entry_json["o"] = list(expansion.missing)
        entries[valueset["url"]] = entry_json
    return entries


def load_installed(repo: Any) -> int:
    """Register every stored StructureDefinition, ValueSet and CodeSystem (call once per
    process at start); returns how many profiles became known."""
    resources = [jsoncodec.loads(version.content, max_depth=10_000)
                 for kind in KINDS for version in repo.iter_current(kind)]
    return len(register(resources))
