"""`ehelse analytics`: run SQL on FHIR ViewDefinitions to analysis-ready files.

    ehelse analytics run VIEW --out FILE.parquet|.csv|.ndjson|.json [--engine runner|duckdb|spark]
        [--source DIR_OR_FILE_OR_DB] [--pseudonymise --project-key-file F] [--purpose P]
    ehelse analytics views      the library's ViewDefinitions

VIEW is a ViewDefinition JSON file or the name of a library view (e.g. blood_pressure).
Without --source the view runs over the live database (--database); runs over the database
are audited there (one AuditEvent per patient read).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for

app = typer.Typer(help="SQL on FHIR views: analysis-ready tables (DuckDB, Spark), pseudonymised extracts.",
                  no_args_is_help=True)


def load_view(view: str) -> dict:
    from ehelse.analytics import library

    path = Path(view)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            fail(f"no such file: {view}")
        return json.loads(path.read_text(encoding="utf-8"))
    return library.load(view)


@app.command("run")
def run(view: str = typer.Argument(..., help="ViewDefinition JSON file, or a library view name."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file: .parquet, .csv, .ndjson or .json."),
        engine: str = typer.Option("duckdb", "--engine", "-e", help="runner | duckdb | spark"),
        source: Optional[str] = typer.Option(None, "--source", "-s",
                                             help="NDJSON/Parquet file or directory, or a database URL; "
                                                  "default: the --database."),
        pseudonymise: bool = typer.Option(False, "--pseudonymise", help="Research extract: pseudonymise first."),
        project_key_file: Optional[Path] = typer.Option(None, "--project-key-file",
                                                        help="File with the project's secret key (>= 16 bytes)."),
        project: str = typer.Option("", "--project", help="Project name, recorded in the declaration."),
        date_precision: str = typer.Option("year", "--date-precision", help="Birth dates to: year | month."),
        purpose: Optional[str] = typer.Option(None, "--purpose", help="Purpose of the run, for the audit trail."),
        patient: Optional[List[str]] = typer.Option(None, "--patient", help="Only these patients (ids); repeatable."),
        limit: Optional[int] = typer.Option(None, "--limit", help="At most this many rows."),
        database: Optional[str] = DatabaseOption) -> None:
    """Run a ViewDefinition and write its rows to a file."""
    from ehelse.analytics import output
    from ehelse.analytics.engines import ENGINES
    from ehelse.analytics.sources import FileSource, RepositorySource
    from ehelse.analytics.viewdefinition import parse_view

    if engine not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}")
    if pseudonymise and project_key_file is None:
        fail("--pseudonymise needs --project-key-file")
    with friendly_errors():
        fmt = output.format_of(str(out))
        parsed = parse_view(load_view(view))
        if source and "://" not in source:
            _run(parsed, FileSource([source]), None, engine, out, fmt, pseudonymise, project_key_file,
                 project, date_precision, purpose, limit)
            return
        settings = settings_for(source or database)
        with open_repo(settings) as repo:
            _run(parsed, RepositorySource(repo, patients=patient), repo, engine, out, fmt, pseudonymise,
                 project_key_file, project, date_precision, purpose, limit)


def _run(view, source, repo, engine, out, fmt, pseudonymise, key_file, project, date_precision, purpose, limit):
    from ehelse.analytics import audit_run, output
    from ehelse.analytics.engines import NATIVE_FORMATS
    from ehelse.analytics.engines import run as run_engine

    pseudonymiser = None
    if pseudonymise:
        from ehelse.analytics.pseudonymise import PseudonymisedSource, Pseudonymiser, load_key

        pseudonymiser = Pseudonymiser(load_key(key_file), project=project, date_precision=date_precision)
        source = PseudonymisedSource(source, pseudonymiser)
    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task(f"{view.name or view.resource}: starting {engine}", total=None)
        result = run_engine(view, source, engine=engine, limit=limit)

        def counted(rows):
            for n, row in enumerate(rows, 1):
                if n % 1000 == 0:
                    progress.update(task, description=f"{view.name or view.resource} [{result.engine}]: {n:,} rows")
                yield row

        if result.save is not None and fmt in NATIVE_FORMATS:
            # DuckDB or Spark writes the file itself (COPY ... TO, DataFrame.write): no row
            # passes through Python, and with Spark none leaves the JVM.
            progress.update(task, description=f"{view.name or view.resource} [{result.engine}]: writing {out}")
            rows = result.save(str(out), fmt, True)
        else:
            with open(out, "wb") as f:
                rows = output.write(counted(result.rows), result.columns, f, fmt, view=view)
        progress.update(task, description=f"{view.name or view.resource} [{result.engine}]: {rows:,} rows")
    if pseudonymiser is not None:
        from ehelse.analytics.pseudonymise import declaration_files

        for path in declaration_files(out, pseudonymiser.declaration(view=view.name or view.resource, rows=rows)):
            console.print(f"declaration: {path}")
    touched = getattr(getattr(source, "source", source), "touched", None)
    events = audit_run(None, view, touched, purpose, repo=repo, engine=result.engine, rows=rows)
    console.print(f"{rows:,} rows to {out} in {time.monotonic() - started:.1f} s with {result.engine}"
                  + (f"; {events} AuditEvents" if repo is not None else "; not audited (file source)"))


@app.command("views")
def views() -> None:
    """List the library's ViewDefinitions (usable by name with `ehelse analytics run`)."""
    from ehelse.analytics import library

    table = Table(title="ehelse analytics views")
    table.add_column("name", no_wrap=True)
    table.add_column("resource")
    table.add_column("title")
    for name in library.names():
        view = library.load(name)
        table.add_row(name, view.get("resource", ""), view.get("title", ""))
    console.print(table)
