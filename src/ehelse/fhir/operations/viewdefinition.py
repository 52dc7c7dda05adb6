"""$viewdefinition-run (and its older name $run): run a SQL on FHIR ViewDefinition.

Spec: https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/OperationDefinition-ViewDefinitionRun.html
In R4 mode the IG defines it at system level (`[base]/$viewdefinition-run`); we also answer
`[base]/ViewDefinition/$run` and `[base]/ViewDefinition/{name}/$run` as the issue asks.
Parameters: `viewResource` (inline view) or `viewReference`; `resource` (inline resources,
repeatable; else the stored data the caller may see), `patient` and `group` (only those
patients' data), `_since`, `_limit`, `header` (CSV), `_format` json | ndjson | csv | parquet
(default ndjson, as the IG says), and our `engine` (runner | duckdb, default duckdb).

Where views are stored: ViewDefinition is not an R4 resource type, so the server cannot keep
one as itself. `viewReference` may name a library view (`ViewDefinition/blood_pressure`, see
ehelse/analytics/library) or a `Binary` whose content is the ViewDefinition JSON
(`Binary/{id}`, contentType application/json): Binary keeps the view byte for byte, needs no
extension encoding and passes R4 validation as it is; a Basic resource would have to smuggle
the view through extensions. The result is built in memory, so a run gives at most
MAX_ROWS rows (413 beyond: use `ehelse analytics run` for bigger extracts).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import orjson

from ehelse.errors import BadRequest, NotFound, PayloadTooLarge
from ehelse.fhir.request import FhirResponse

MAX_ROWS = 100_000
FORMATS = {"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv",
           "parquet": "application/vnd.apache.parquet"}
FORMAT_ALIASES = {"application/json": "json", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson",
                  "text/csv": "csv", "application/vnd.apache.parquet": "parquet", "fhir+json": "json"}


def _parameters(ctx: Any, body: Any) -> dict[str, list[Any]]:
    """Parameter name -> values, from the URL and a Parameters body (operations.html#executing)."""
    found: dict[str, list[Any]] = {}
    for key, value in ctx.request.query:
        found.setdefault(key, []).append(value)
    if isinstance(body, dict):
        if body.get("resourceType") != "Parameters":
            raise BadRequest("$viewdefinition-run takes a Parameters resource")
        for parameter in body.get("parameter") or []:
            name = parameter.get("name")
            value = parameter.get("resource")
            if value is None:
                value = next((v for k, v in parameter.items() if k.startswith("value")), None)
            if name:
                found.setdefault(name, []).append(value)
    return found


def _one(params: dict[str, list[Any]], name: str) -> Any:
    values = params.get(name) or []
    if len(values) > 1:
        raise BadRequest(f"Parameter {name} may be given once")
    return values[0] if values else None


def _reference(value: Any) -> str:
    return value.get("reference", "") if isinstance(value, dict) else str(value or "")


def _view(ctx: Any, params: dict[str, list[Any]], id: str | None) -> dict[str, Any]:
    from ehelse.analytics import library

    inline, reference = _one(params, "viewResource"), _one(params, "viewReference")
    if id is not None:
        reference = f"ViewDefinition/{id}"
    if (inline is None) == (reference is None):
        raise BadRequest("Give exactly one of viewResource and viewReference")
    if inline is not None:
        if not isinstance(inline, dict):
            raise BadRequest("viewResource must be a ViewDefinition resource")
        return inline
    reference = _reference(reference)
    kind, _, key = reference.partition("/")
    if kind == "ViewDefinition" and key:
        return library.load(key)
    if kind == "Binary" and key:
        version = ctx.repo.read("Binary", key)
        if version is None or version.deleted:
            raise NotFound(f"{reference} not found")
        binary = orjson.loads(version.content)
        try:
            return orjson.loads(base64.b64decode(binary.get("data", "")))
        except Exception:
            raise BadRequest(f"{reference} does not hold a ViewDefinition as JSON") from None
    raise BadRequest(f"viewReference {reference!r}: use ViewDefinition/<library name> or Binary/<id>")


def _patients(ctx: Any, params: dict[str, list[Any]]) -> set[str] | None:
    patients = {_reference(v).removeprefix("Patient/") for v in params.get("patient") or []}
    for group in params.get("group") or []:
        reference = _reference(group)
        version = ctx.repo.read("Group", reference.removeprefix("Group/"))
        if version is None or version.deleted:
            raise NotFound(f"{reference} not found")
        for member in orjson.loads(version.content).get("member") or []:
            patients.add(_reference(member.get("entity")).removeprefix("Patient/"))
    return patients or None


def run(ctx: Any, type: str | None, id: str | None, parameters: Any) -> FhirResponse:
    from ehelse.analytics import audit_run, output
    from ehelse.analytics.engines import run as run_engine
    from ehelse.analytics.sources import InlineSource, RepositorySource
    from ehelse.analytics.viewdefinition import parse_view

    if type not in (None, "ViewDefinition"):
        raise NotFound(f"$viewdefinition-run is not defined on {type}", code="not-supported")
    params = _parameters(ctx, parameters)
    fmt = str(_one(params, "_format") or "ndjson").lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise BadRequest(f"_format {fmt!r}: use json, ndjson, csv or parquet")
    engine = str(_one(params, "engine") or "duckdb")
    if engine not in ("runner", "duckdb"):
        raise BadRequest("engine: runner or duckdb (Spark runs from `ehelse analytics run`)")
    limit = _integer(_one(params, "_limit"), "_limit")
    header = str(_one(params, "header") if _one(params, "header") is not None else "true").lower() != "false"
    view = parse_view(_view(ctx, params, id))
    inline = [r for r in params.get("resource") or [] if isinstance(r, dict)]
    if inline:
        source: Any = InlineSource(inline)
    else:
        source = RepositorySource(ctx.repo, patients=_patients(ctx, params), since=_one(params, "_since"))
    cap = min(limit, MAX_ROWS) if limit is not None else MAX_ROWS
    result = run_engine(view, source, engine=engine, limit=cap + 1)
    rows = list(result.rows)
    if len(rows) > cap and (limit is None or limit > MAX_ROWS):
        raise PayloadTooLarge(f"More than {MAX_ROWS} rows: give _limit, or use `ehelse analytics run` for extracts")
    rows = rows[:cap]
    buffer = io.BytesIO()
    output.write(rows, result.columns, buffer, fmt, view=view, header=header)
    if not inline:
        secured = hasattr(ctx.repo, "inner")  # the access layer audited each patient as it read
        audit_run(getattr(ctx.request, "actor", None), view, () if secured else getattr(source, "touched", ()),
                  None, repo=getattr(ctx.repo, "inner", ctx.repo), engine=result.engine, rows=len(rows))
    headers = {"Content-Type": FORMATS[fmt], "X-Engine": result.engine}
    return FhirResponse(200, body=buffer.getvalue(), headers=headers, interaction="operation")


def _integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer") from None
    if number < 0:
        raise BadRequest(f"{name} must not be negative")
    return number
