"""`ehelse ig`: implementation guide packages.

    ehelse ig install hl7.fhir.no.helseapi-1.0.0.tgz --database sqlite:///var/ehelse.sqlite

Stores the package's StructureDefinitions, ValueSets and CodeSystems in the repository (see
ehelse.fhir.ig), where every server process loads them at start: restart running servers to
have them check the new profiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for
from ehelse.errors import FhirError

app = typer.Typer(help="Implementation guide packages: install profiles, value sets and code systems.",
                  no_args_is_help=True)


@app.callback()
def ig() -> None:
    """Implementation guide packages: install profiles, value sets and code systems."""


@app.command("install")
def install(
    package: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                   help="A FHIR package .tgz (package/package.json and package/*.json)."),
    force: bool = typer.Option(False, "--force",
                               help="Install resources that fail validation too (their errors become warnings)."),
    database: Optional[str] = DatabaseOption,
) -> None:
    """Store the StructureDefinitions, ValueSets and CodeSystems of PACKAGE for the validator."""
    from ehelse.fhir import ig

    settings = settings_for(database)
    with friendly_errors():
        try:
            loaded = ig.read_package(package)
            with open_repo(settings) as repo:
                result = ig.install(repo, loaded, force=force)
        except FhirError as exc:  # every problem, not just the first; nothing was stored
            for issue in exc.issues:
                where = f" at {issue.expression}" if issue.expression else ""
                console.print(f"[red]{issue.severity}:[/red] {issue.diagnostics}{where}", highlight=False)
            fail(f"{package.name} was not installed ({len(exc.issues)} problem(s))"
                 + ("; --force installs resources that fail validation" if exc.status == 422 else ""))
    for issue in result.warnings:
        where = f" at {issue.expression}" if issue.expression else ""
        console.print(f"[yellow]warning:[/yellow] {issue.diagnostics}{where}", highlight=False)
    table = Table(title=f"{loaded.name} {loaded.version}")
    table.add_column("resource type")
    for column in ("created", "updated", "unchanged"):
        table.add_column(column, justify="right")
    for kind in ig.KINDS:
        table.add_row(kind, *(str(counts.get(kind, 0)) for counts in
                              (result.created, result.updated, result.unchanged)))
    console.print(table)
    console.print(f"{len(result.profiles)} profiles known to the validator; restart running servers to use them.")
