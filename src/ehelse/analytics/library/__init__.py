"""ViewDefinitions Norwegian analysts need out of the box, one JSON file each.

`names()` lists them, `load(name)` gives the parsed JSON (a ViewDefinition resource). Code
systems are the national ones (DOMAIN.md "Code systems"): ICPC-2 7170, ICD-10 7110, ATC 7180,
NLK 7280 (urn:oid:2.16.578.1.12.4.1.1.*), LOINC for vital signs and lab results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ehelse.errors import NotFound

HERE = Path(__file__).parent


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    path = HERE / f"{name}.json"
    if name not in names():
        raise NotFound(f"No library view {name!r}; there are: {', '.join(names())}")
    return json.loads(path.read_text(encoding="utf-8"))
