"""Norwegian code systems: demo subsets of ICPC-2, ICD-10, ATC and Norsk laboratoriekodeverk
(NLK) as FHIR CodeSystem/ValueSet/ConceptMap JSON files in this folder, and `loader.py` for the
full lists a user downloads from the national code server (they are licensed, so we ship only
small subsets, each marked `"experimental": true` and "demo subset" in its description).

The URLs are the Volven OIDs that Norwegian data use (DOMAIN.md); each CodeSystem lists its
other names in `identifier` so that the terminology registry finds it by either
(`http://hl7.org/fhir/sid/icpc-2` = `urn:oid:2.16.578.1.12.4.1.1.7170`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

ICPC2 = "urn:oid:2.16.578.1.12.4.1.1.7170"
ICD10 = "urn:oid:2.16.578.1.12.4.1.1.7110"
ATC = "urn:oid:2.16.578.1.12.4.1.1.7180"
NLK = "urn:oid:2.16.578.1.12.4.1.1.7280"


def demo_resources() -> list[dict[str, Any]]:
    """Every CodeSystem, ValueSet and ConceptMap JSON file shipped in this package."""
    folder = resources.files(__name__)
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out.append(json.loads(entry.read_text(encoding="utf-8")))
    return out
