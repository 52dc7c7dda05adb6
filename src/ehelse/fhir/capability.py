"""What `metadata` answers (http://hl7.org/fhir/R4/http.html#capabilities): the
CapabilityStatement (capabilitystatement.html), which says what this server really does, type
by type, including the search parameters the repository evaluates for each; with
`mode=terminology` the TerminologyCapabilities (terminologycapabilities.html) of the code
systems and terminology operations it serves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ehelse import __version__ as software_version
from ehelse.errors import BadRequest
from ehelse.fhir.operations import OPERATIONS
from ehelse.fhir.resource_types import resource_types
from ehelse.storage.protocol import Repository

TYPE_INTERACTIONS = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                     "create", "search-type")
SYSTEM_INTERACTIONS = ("transaction", "batch", "search-system", "history-system")
# AuditEvent is written by the server only (DESIGN.md: read-only through the API).
READ_ONLY_TYPES = frozenset({"AuditEvent"})
_READ_INTERACTIONS = ("read", "vread", "history-instance", "history-type", "search-type")


def _operations(level: str, type: str | None = None) -> list[dict[str, str]]:
    return [{"name": op.name, "definition": op.definition} for op in OPERATIONS.values()
            if level in op.levels and op.defined_on(type)]


@lru_cache(maxsize=1)
def _includes() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per type: the `_include` values it takes and the `_revinclude` values that point at it
    (search.html#include), from the reference parameters of the registry."""
    from ehelse.search.registry import registry

    forward: dict[str, list[str]] = {}
    reverse: dict[str, list[str]] = {}
    for source in registry().types():
        for code, definition in sorted(registry().searchable(source).items()):
            if definition.type != "reference":
                continue
            forward.setdefault(source, []).append(f"{source}:{code}")
            for target in definition.targets:
                reverse.setdefault(target, []).append(f"{source}:{code}")
    return forward, reverse


def _resource(type: str, repo: Repository) -> dict[str, Any]:
    interactions = _READ_INTERACTIONS if type in READ_ONLY_TYPES else TYPE_INTERACTIONS
    entry: dict[str, Any] = {
        "type": type,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": type not in READ_ONLY_TYPES,
        "conditionalCreate": type not in READ_ONLY_TYPES,
        "conditionalRead": "not-supported",
        "conditionalUpdate": type not in READ_ONLY_TYPES,
        "conditionalDelete": "not-supported" if type in READ_ONLY_TYPES else "single",
        "referencePolicy": ["literal", "local"],
    }
    params = repo.supported_search_params(type)
    if params:
        entry["searchParam"] = [{"name": name, "type": kind} for name, kind in sorted(params.items())]
        forward, reverse = _includes()
        entry["searchInclude"] = ["*", *forward.get(type, [])]
        entry["searchRevInclude"] = sorted(set(reverse.get(type, [])))
    operations = _operations("type", type) + [op for op in _operations("instance", type)
                                              if op not in _operations("type", type)]
    if operations:
        entry["operation"] = operations
    return entry


# http.html#capabilities: `mode` is full (or absent) | normative | terminology. The whole
# statement is answered for `normative` too, as the spec lets a server ("Servers MAY ignore
# the mode parameter and return a CapabilityStatement"); a value outside the three is the
# client's error, not a request to ignore.
MODES = ("full", "normative", "terminology")


def capabilities(repo: Repository, base_url: str, date: str, mode: str | None) -> dict[str, Any]:
    """The resource `GET metadata?mode=` answers; 400 for a mode the spec does not define."""
    if mode is not None and mode not in MODES:
        raise BadRequest(f"mode={mode[:40]!r} is not one of {' | '.join(MODES)} (http.html#capabilities)",
                         code="value", expression="mode")
    if mode == "terminology":
        return terminology_capabilities(repo, base_url, date)
    return capability_statement(repo, base_url, date)


def capability_statement(repo: Repository, base_url: str, date: str) -> dict[str, Any]:
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource(type, repo) for type in sorted(resource_types())],
        "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
        # search.html#compartments: Patient/123/Observation etc., per these definitions
        "compartment": [f"http://hl7.org/fhir/CompartmentDefinition/{c.lower()}"
                        for c in ("Patient", "Encounter", "RelatedPerson", "Practitioner", "Device")],
        "searchParam": [{"name": "_type", "type": "token"}],
    }
    if _operations("system"):  # FHIR JSON has no empty arrays
        rest["operation"] = _operations("system")
    rest["security"] = _smart_security(base_url)
    return {
        **_about("CapabilityStatement", base_url, date),
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [rest],
    }


def _about(resource_type: str, base_url: str, date: str) -> dict[str, Any]:
    """What the CapabilityStatement and the TerminologyCapabilities both say of this server:
    an `instance` (with its `implementation`, cpb-3 / tcp-3), its software and publisher."""
    return {
        "resourceType": resource_type,
        "status": "active",
        "date": date,
        "publisher": "ehelse",
        "kind": "instance",
        "software": {"name": "ehelse", "version": software_version},
        "implementation": {"description": "ehelse FHIR R4 server", "url": base_url},
    }


def _smart_security(base_url: str) -> dict[str, Any]:
    """SMART on FHIR's OAuth endpoints (the authorisation server, src/ehelse/oauth), in the
    CapabilityStatement extension older SMART clients read (SMART App Launch 2.0,
    conformance-discovery.html; new clients use /fhir/.well-known/smart-configuration)."""
    origin = base_url[:-len("/fhir")] if base_url.endswith("/fhir") else base_url
    return {
        "cors": True,
        "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                 "code": "SMART-on-FHIR"}]}],
        "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": [
            {"url": "authorize", "valueUri": f"{origin}/oauth2/authorize"},
            {"url": "token", "valueUri": f"{origin}/oauth2/token"},
            {"url": "revoke", "valueUri": f"{origin}/oauth2/revoke"},
            {"url": "introspect", "valueUri": f"{origin}/oauth2/introspect"},
        ]}],
    }


# $expand's parameters as terminology/operations.py reads them (valueset-operation-expand.html).
_EXPAND_PARAMETERS = ("url", "valueSet", "valueSetVersion", "filter", "count", "offset", "displayLanguage")


def terminology_capabilities(repo: Repository, base_url: str, date: str) -> dict[str, Any]:
    """TerminologyCapabilities (http://hl7.org/fhir/R4/terminologycapabilities.html) of what
    src/ehelse/terminology serves: every code system whose concepts it holds (the R4 core,
    the Norwegian ones and those stored in the repository; not the `not-present` stubs nor
    supplements), each with $subsumes over its hierarchy; $expand's paging and parameters;
    $validate-code without translations; $translate with or without a named map. kind
    `instance` (tcp-3: with `implementation`)."""
    from ehelse.terminology.registry import terminology_for

    terminology = terminology_for(repo)
    code_systems = []
    for url in terminology.codesystem_urls():
        found = terminology.codesystem(url)
        if found is None or found.content in ("not-present", "supplement"):
            continue
        entry: dict[str, Any] = {"uri": url}
        if found.version:
            entry["version"] = [{"code": found.version, "isDefault": True}]
        entry["subsumption"] = True
        code_systems.append(entry)
    result: dict[str, Any] = {
        **_about("TerminologyCapabilities", base_url, date),
        "lockedDate": False,
        "expansion": {
            "hierarchical": False,  # `contains` is flat
            "paging": True,  # count and offset
            "incomplete": False,  # too large unpaged: refused (too-costly), never cut short
            "parameter": [{"name": name} for name in _EXPAND_PARAMETERS],
            "textFilter": ("Every word of `filter` must start a word of the display or the code, in any order, "
                           "case and accents ignored (terminology/text.py); or the whole filter starts the code."),
        },
        "validateCode": {"translations": False},
        "translation": {"needsMap": False},  # without `url`, every map with a group from `system`
    }
    if code_systems:
        result["codeSystem"] = code_systems
    return result
