"""One analysis run from /helsedata: the analyst's form -> a checked ViewDefinition -> rows.

The form names a library view (`library`) or carries a pasted one (`view_json`), an engine
(`runner` or `duckdb`), a project and a purpose. Everything the analytics package already
does is used as is: `parse_view` validates (its InvalidView is a 400 with the element's
location), `engines.run` runs, `Pseudonymiser` rewrites resources before the view sees them,
`audit_run` records who ran which view over whose data and why.

Pseudonymised by default: only an admin may tick "identifiable" off; for everyone else the
source is a PseudonymisedSource keyed with the project's own key (project_key()), so the
same person has the same pseudonym in every run of one project and none across projects.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from ehelse.analytics import audit_run, library
from ehelse.analytics.engines import run as run_engine
from ehelse.analytics.output import write
from ehelse.analytics.pseudonymise import Pseudonymiser, PseudonymisedSource
from ehelse.analytics.sources import RepositorySource
from ehelse.analytics.viewdefinition import parse_view
from ehelse.errors import BadRequest

ENGINES = ("duckdb", "runner")  # Spark needs a JVM: the CLI offers it, the web page does not
FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
PREVIEW_ROWS = 50
MAX_VIEW_BYTES = 64 * 1024
PROJECT_KEY_RECORD = "analytics_project_key"  # oauth_record kind: one random key per project


@dataclass(slots=True)
class Request:
    """What the analyst asked for, checked."""

    view: Any  # the parsed ViewDefinition
    view_json: str  # as shown back in the form
    library_name: str
    engine: str
    project: str
    purpose: str
    pseudonymise: bool


@dataclass(slots=True)
class Outcome:
    columns: list[str]
    rows: list[dict[str, Any]]
    engine: str
    patients: int
    declaration: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def read_form(form: dict[str, str], *, admin: bool) -> Request:
    """The form as a Request; bad input is a BadRequest whose text the page shows."""
    name = form.get("library", "").strip()
    pasted = form.get("view_json", "").strip()
    if len(pasted.encode("utf-8")) > MAX_VIEW_BYTES:
        raise BadRequest(f"The ViewDefinition is larger than {MAX_VIEW_BYTES // 1024} KB")
    if pasted:
        try:
            raw = orjson.loads(pasted)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"The ViewDefinition is not valid JSON: {exc}") from None
    elif name:
        raw = library.load(name)  # NotFound (404) for a name not in the library
    else:
        raise BadRequest("Choose a view from the library or paste a ViewDefinition")
    view = parse_view(raw)  # InvalidView: says what is wrong and where
    engine = form.get("engine", "duckdb")
    if engine not in ENGINES:
        raise BadRequest(f"Engine must be one of {', '.join(ENGINES)}")
    project = form.get("project", "").strip()[:60]
    purpose = form.get("purpose", "").strip()[:200]
    if not project or not purpose:
        raise BadRequest("A run needs a project and a purpose (they go into the audit trail)")
    # pseudonymised unless an admin explicitly asked for identifiable output
    pseudonymise = not (admin and form.get("identifiable") == "on")
    return Request(view, pasted or orjson.dumps(raw, option=orjson.OPT_INDENT_2).decode(), "" if pasted else name,
                   engine, project, purpose, pseudonymise)


def project_key(store: Any, project: str) -> bytes:
    """The project's pseudonymisation key: made once at random, kept in the server's record
    store (never shown), so pseudonyms are stable within a project and unlinkable across."""
    found = store.get(PROJECT_KEY_RECORD, project)
    if found is not None:
        return bytes.fromhex(found[0]["key"])
    store.add(PROJECT_KEY_RECORD, project, {"key": secrets.token_hex(32)})
    return bytes.fromhex(store.get(PROJECT_KEY_RECORD, project)[0]["key"])  # another process may have won


def execute(repo: Any, store: Any, asked: Request, actor: Any, *, limit: int | None) -> Outcome:
    """Run the view over the stored data and audit the run (one event per patient read)."""
    source = RepositorySource(repo)
    pseudonymiser = None
    run_source: Any = source
    if asked.pseudonymise:
        pseudonymiser = Pseudonymiser(project_key(store, asked.project), project=asked.project)
        run_source = PseudonymisedSource(source, pseudonymiser)
    result = run_engine(asked.view, run_source, engine=asked.engine, limit=limit)
    rows = list(result.rows)
    audit_run(actor, asked.view, source.touched, asked.purpose, repo=repo, engine=result.engine, rows=len(rows))
    declaration = pseudonymiser.declaration(view=asked.view.name or "(unnamed)", rows=len(rows)) if pseudonymiser else None
    return Outcome(result.columns, rows, result.engine, len(source.touched), declaration)


def as_file(outcome: Outcome, fmt: str, view: Any) -> bytes:
    if fmt not in FORMATS:
        raise BadRequest(f"Download format must be one of {', '.join(FORMATS)}")
    out = io.BytesIO()
    write(iter(outcome.rows), outcome.columns, out, fmt, view=view)
    return out.getvalue()
