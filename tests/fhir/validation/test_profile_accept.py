"""profile_accept: the quick predicate is True only where the profile checker reports nothing."""

from __future__ import annotations

import copy

import pytest

from ehelse.fhir.validation.profile_accept import accepts
from ehelse.fhir.validation.profiles import REGISTRY, Checker

GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"

GEO = {"url": GEOLOCATION, "extension": [{"url": "latitude", "valueDecimal": 42.26},
                                         {"url": "longitude", "valueDecimal": -72.64}]}
MAIDEN = {"url": MAIDEN_NAME, "valueString": "Lettie Boyle"}


def _variants(extension: dict) -> list[dict]:
    out = [extension]
    for change in (
        lambda e: e.pop("url"),
        lambda e: e.__setitem__("url", e["url"] + "x"),
        lambda e: e.__setitem__("valueString", "x"),
        lambda e: e.__setitem__("valueBoolean", True),
        lambda e: e.__setitem__("extension", [{"url": "latitude", "valueDecimal": 1}]),
        lambda e: e.get("extension", [{}]).pop(0),
        lambda e: e.get("extension", []).append({"url": "latitude", "valueDecimal": 2}),
        lambda e: e.get("extension", []).append({"url": "altitude", "valueDecimal": 2}),
        lambda e: e.get("extension", [{}])[0].__setitem__("valueString", "x"),
        lambda e: e.get("extension", [{}])[0].__setitem__("url", ["latitude"]),
        lambda e: e.pop("valueString", None),
        lambda e: e.__setitem__("valueCode", e.pop("valueString", "x")),
    ):
        variant = copy.deepcopy(extension)
        change(variant)
        out.append(variant)
    return out


@pytest.mark.parametrize("extension", [GEO, MAIDEN])
def test_accepted_only_when_the_checker_reports_nothing(extension):
    profile = REGISTRY.get(extension["url"])
    accept = accepts(profile.root)
    assert accept is not None  # both definitions are covered by the predicate
    verdicts = []
    for variant in _variants(extension):
        issues: list = []
        Checker(issues, extension["url"]).children(profile.root, [(variant, "Patient.extension[0]")])
        verdicts.append(accept(variant))
        if accept(variant):
            assert issues == [], variant
    assert verdicts[0] is True  # the valid extension is accepted without the checker
    assert verdicts.count(False) >= 5  # and the broken ones go to the checker


def test_a_node_with_a_pattern_or_binding_has_no_predicate():
    profile = REGISTRY.get("http://hl7.org/fhir/StructureDefinition/bp")
    assert accepts(profile.root) is None  # Observation.code has a pattern: the checker decides
