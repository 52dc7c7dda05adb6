"""Where a view's resources come from: inline lists, NDJSON or Parquet exports, or the live
Repository. Every engine reads through a Source, so the same view over the same source gives
the same rows on all of them.

- `InlineSource`: resources given in the request (`$run` `resource` parameters, tests).
- `FileSource`: NDJSON files (one resource a line, as FHIR Bulk Data writes them:
  https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-output-file-format) or Parquet files
  with one JSON text column `resource` (what `ehelse analytics` writes for --format parquet
  exports). A directory means every *.ndjson / *.parquet file in it.
- `RepositorySource`: the current resources of a Repository (`iter_current`), optionally
  only those of some patients (their compartment: the Patient itself or resources whose
  `subject`/`patient` points at it) and changed since an instant (`_since`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from ehelse.errors import BadRequest


class Source:
    def iter_resources(self, type: str) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def iter_json(self, type: str) -> Iterator[bytes]:
        for resource in self.iter_resources(type):
            yield orjson.dumps(resource)

    def files(self) -> tuple[list[str], list[str]] | None:
        """(ndjson files, parquet files) when the engines may read files directly."""
        return None


class InlineSource(Source):
    def __init__(self, resources: Iterable[dict[str, Any]]):
        self.resources = list(resources)

    def iter_resources(self, type: str) -> Iterator[dict[str, Any]]:
        return (r for r in self.resources if r.get("resourceType") == type)


class FileSource(Source):
    def __init__(self, paths: Iterable[str | Path]):
        self.ndjson: list[str] = []
        self.parquet: list[str] = []
        for path in map(Path, paths):
            candidates = sorted(path.iterdir()) if path.is_dir() else [path]
            for candidate in candidates:
                if candidate.suffix in (".ndjson", ".jsonl"):
                    self.ndjson.append(str(candidate))
                elif candidate.suffix == ".parquet":
                    self.parquet.append(str(candidate))
        if not self.ndjson and not self.parquet:
            raise BadRequest(f"No .ndjson or .parquet files in {', '.join(map(str, paths))}")

    def files(self) -> tuple[list[str], list[str]]:
        return self.ndjson, self.parquet

    def iter_resources(self, type: str) -> Iterator[dict[str, Any]]:
        needle = f'"resourceType":"{type}"'.encode()
        for name in self.ndjson:
            with open(name, "rb") as f:
                for line in f:
                    if line.strip() and (needle in line or b'"resourceType"' in line):
                        resource = orjson.loads(line)
                        if resource.get("resourceType") == type:
                            yield resource
        if self.parquet:
            import pyarrow.parquet as pq

            for name in self.parquet:
                for batch in pq.ParquetFile(name).iter_batches(columns=["resource"]):
                    for text in batch.column(0).to_pylist():
                        resource = orjson.loads(text)
                        if resource.get("resourceType") == type:
                            yield resource


PATIENT_LINKS = ("subject", "patient", "beneficiary")


class RepositorySource(Source):
    def __init__(self, repo: Any, *, patients: Iterable[str] | None = None, since: str | None = None):
        self.repo = repo
        self.patients = {p.removeprefix("Patient/") for p in patients} if patients is not None else None
        self.since = since
        self.touched: set[str] = set()  # patients whose data was read (for the audit)

    def iter_resources(self, type: str) -> Iterator[dict[str, Any]]:
        for version in self.repo.iter_current(type):
            if self.since and version.last_updated < self.since:
                continue
            resource = orjson.loads(version.content)
            patient = patient_of(resource)
            if self.patients is not None and patient not in self.patients:
                continue
            if patient is not None:
                self.touched.add(patient)
            yield resource


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the patient a resource belongs to (the Patient itself, or its subject)."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for link in PATIENT_LINKS:
        reference = (resource.get(link) or {}).get("reference") if isinstance(resource.get(link), dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference.split("/", 2)[1]
    return None
