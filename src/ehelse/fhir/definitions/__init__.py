"""Generated definition data (from HL7 FHIR R4 4.0.1, CC0) and how to load it.

The files in this folder are made by scripts in scripts/ from the official packages and are
committed: the running project never needs those packages. `load(name)` reads `name.json`
or `name.json.gz` from here.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """The parsed contents of generated data file `name` (.json.gz preferred over .json)."""
    packed = HERE / f"{name}.json.gz"
    if packed.exists():
        with gzip.open(packed, "rb") as fh:
            return json.load(fh)
    with open(HERE / f"{name}.json", "rb") as fh:
        return json.load(fh)
