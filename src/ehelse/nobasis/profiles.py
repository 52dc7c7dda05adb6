"""HL7 Norway's base profiles (no-basis 2.2.3) in the validator, and required profiles.

The generated data in nobasis/data/ (scripts/gen_nobasis.py, from hl7.fhir.no.basis, CC0)
holds the package's profiles and extension definitions in the validator's compact form and its
value sets expanded for binding checks. The profile registry
(ehelse.fhir.validation.profiles, BUILT_IN_PACKAGES) calls `profile_definitions()` on its first
use, so `validate(resource)` checks a resource against the no-basis profile it claims in
`meta.profile` (profiling.html#profile-uses) like any core profile.

Two URL forms: the package names its profiles `http://hl7.no/fhir/ig/StructureDefinition/X`
(and a few extensions `http://hl7.no/fhir/StructureDefinition/X`), while published examples
and many clients write the other form. Both forms name the same definition here (`aliases`).

Bindings to national value sets the package does not include (Volven 3402, 8624, 8628, ...)
become warnings in the profile check ("could not check"), never errors.

`required_profile_issues(resource, settings)`: the `required_profiles` setting
(`Patient=<url>,Practitioner=<url>`) makes a deployment insist that every resource of a type
conforms to a profile. The write path calls it after `validate()`.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

from ehelse.errors import Issue

NOBASIS = "http://hl7.no/fhir/ig/StructureDefinition/no-basis-"
_IG_FORM = "http://hl7.no/fhir/ig/StructureDefinition/"
_SHORT_FORM = "http://hl7.no/fhir/StructureDefinition/"


def _data(name: str) -> Any:
    path = importlib_resources.files("ehelse.nobasis").joinpath(f"data/{name}.json.gz")
    with path.open("rb") as raw, gzip.open(raw) as fh:
        return json.load(fh)


def other_form(url: str) -> str | None:
    """The other HL7 Norway form of a profile URL (with or without `/ig`), or None."""
    if url.startswith(_IG_FORM):
        return _SHORT_FORM + url[len(_IG_FORM):]
    if url.startswith(_SHORT_FORM):
        return _IG_FORM + url[len(_SHORT_FORM):]
    return None


@lru_cache(maxsize=1)
def package() -> dict[str, str]:
    """Name, version, licence and canonical of the no-basis package the data came from."""
    return _data("profiles")["package"]


def profile_definitions() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(compact definitions by URL, {alias URL: URL}) for the profile registry; also makes the
    package's value sets known to the binding checks (their profiles bind to them)."""
    from ehelse.fhir.validation.bindings import register_valuesets

    register_valuesets(_data("valuesets")["valuesets"])
    definitions: dict[str, dict[str, Any]] = _data("profiles")["profiles"]
    aliases = {}
    for url in definitions:
        alias = other_form(url)
        if alias is not None and alias not in definitions:
            aliases[alias] = url
    return definitions, aliases


def terminology_resources() -> list[dict[str, Any]]:
    """The package's CodeSystem and ValueSet resources (narrative left out), e.g. for
    $expand on no-basis-parental-responsibility."""
    return _data("terminology")["resources"]


# -- required profiles (the `required_profiles` setting) --------------------------------------
@lru_cache(maxsize=16)
def parse_required_profiles(value: str) -> dict[str, tuple[str, ...]]:
    """`Patient=<url>,Practitioner=<url>` -> {"Patient": (url,), ...}; several entries for one
    type all apply. Raises ValueError naming the bad entry."""
    required: dict[str, tuple[str, ...]] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        resource_type, sep, url = (part.strip() for part in entry.partition("="))
        if not sep or not resource_type or not url or not resource_type.isalpha():
            raise ValueError(f"required_profiles: expected Type=profile-url, got {entry!r}")
        required[resource_type] = required.get(resource_type, ()) + (url,)
    return required


def required_profile_issues(resource: dict[str, Any], settings: Any) -> list[Issue]:
    """Errors when `resource` does not conform to a profile the deployment requires for its
    type (settings.required_profiles). Profiles the resource claims in meta.profile are
    checked by validate() already and are skipped here; an unclaimed required profile is
    checked now, so a conformant resource passes whether or not it says so
    (profiling.html#profile-uses: conformance does not depend on the claim)."""
    from ehelse.fhir.validation.profiles import REGISTRY, Checker

    value = getattr(settings, "required_profiles", "") or ""
    if not value or type(resource) is not dict:
        return []
    try:
        required = parse_required_profiles(value)
    except ValueError as exc:  # a misconfigured deployment: say so on the write it blocks
        return [Issue("error", "exception", str(exc))]
    resource_type = resource.get("resourceType")
    urls = required.get(resource_type) if type(resource_type) is str else None
    if not urls:
        return []
    meta = resource.get("meta")
    claimed = meta.get("profile") if type(meta) is dict else None
    claimed = {REGISTRY.canonical(u) for u in claimed or () if type(u) is str}
    issues: list[Issue] = []
    for url in urls:
        if REGISTRY.canonical(url) in claimed:
            continue
        profile = REGISTRY.get(url)
        if profile is None:
            issues.append(Issue("error", "not-supported", f"this deployment requires {resource_type} "
                                f"resources to conform to {url}, a profile it does not know",
                                f"{resource_type}.meta.profile"))
            continue
        if profile.type != resource_type:
            issues.append(Issue("error", "not-supported", f"required profile {url} is for "
                                f"{profile.type}, not {resource_type}", f"{resource_type}.meta.profile"))
            continue
        found: list[Issue] = []
        Checker(found, url).children(profile.root, [(resource, resource_type)])
        if any(issue.is_error for issue in found):
            issues.append(Issue("error", "invalid", f"this deployment requires {resource_type} resources "
                                f"to conform to {url}; this one does not", f"{resource_type}.meta.profile"))
        issues.extend(found)
    return issues
