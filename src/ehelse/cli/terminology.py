"""`ehelse terminology`: load the national code lists a user has downloaded.

    ehelse terminology load ICD10_2024.txt
    ehelse terminology load koder.csv --system urn:oid:2.16.578.1.12.4.1.1.7170

The file becomes a CodeSystem in the repository (created, or a new version of the one with
the same id), which then takes the place of the demo subset with the same URL for $lookup,
$expand, $validate-code and $subsumes. Formats: see ehelse.nobasis.terminology.loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ehelse.cli.common import DatabaseOption, console, friendly_errors, open_repo, settings_for

app = typer.Typer(help="Code systems: load the national code lists (ICD-10, ICPC-2, ATC, NLK).",
                  no_args_is_help=True)


@app.callback()
def terminology() -> None:
    """Code systems: load the national code lists (ICD-10, ICPC-2, ATC, NLK)."""


@app.command("load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV/TSV/semicolon text (code;text[;parent]) or a FHIR CodeSystem JSON."),
    system: Optional[str] = typer.Option(None, "--system", help="The code system URL (default: from the file name)."),
    version: Optional[str] = typer.Option(None, "--version", help="The code system version, e.g. 2024."),
    database: Optional[str] = DatabaseOption,
) -> None:
    """Store the code list in FILE as a CodeSystem resource."""
    from ehelse.nobasis.terminology.loader import load_codesystem

    settings = settings_for(database)
    with friendly_errors():
        resource = load_codesystem(file, system, version=version)
        with open_repo(settings) as repo:
            if resource.get("id"):
                stored, created = repo.update(resource)
            else:
                stored, created = repo.create(resource), True
        count = len(resource.get("concept") or [])
        console.print(f"{'Created' if created else 'Updated'} CodeSystem/{stored.id} ({resource['url']}): "
                      f"{count} concepts, version {stored.version_id}")
