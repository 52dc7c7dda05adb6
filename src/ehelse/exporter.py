"""The export engine behind `ehelse export`: every current resource as NDJSON, one file per
resource type (`Patient.ndjson`, ...), as FHIR bulk data does
(http://hl7.org/fhir/R4/nd-json.html; https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).

Streamed: resources come from `repo.iter_current(type)` and go to the file as the stored
bytes, so memory stays flat however large the database is, and what is exported is exactly
what is stored (decimals and element order included).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable


def export_ndjson(repo: Any, folder: str | os.PathLike, types: Iterable[str] | None = None,
                  progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Write `<Type>.ndjson` into `folder` for each type (default: every type present);
    return resources written per type. `progress(type, n)` is called every 1000 resources
    and at the end of each type. A file is written under a temporary name and renamed when
    complete, so a half-written export never looks finished."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for type_ in (list(types) if types else repo.types_present()):
        target = out / f"{type_}.ndjson"
        partial = out / f".{type_}.ndjson.partial"
        count = 0
        with open(partial, "wb") as f:
            for version in repo.iter_current(type_):
                f.write(version.content)
                f.write(b"\n")
                count += 1
                if progress and count % 1000 == 0:
                    progress(type_, 1000)
        os.replace(partial, target)
        if progress:
            progress(type_, count % 1000)
        counts[type_] = count
    return counts
