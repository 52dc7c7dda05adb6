"""`ehelse seed`: write a synthetic Norwegian population, with a progress bar and a report."""

from __future__ import annotations

from datetime import date
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for


def seed(patients: int = typer.Option(500, "--patients", "-n", min=0, help="How many people to make."),
         seed: int = typer.Option(1, "--seed", "-s", help="Random seed: the same seed gives the same people."),
         database: Optional[str] = DatabaseOption,
         reference_date: Optional[str] = typer.Option(
             None, "--reference-date",
             help="The day the population's histories lead up to (YYYY-MM-DD); default: today."),
         validate_every: int = typer.Option(
             100, "--validate-every", min=0, help="Validate every Nth resource written (0: none)."),
         ) -> None:
    """Seed a synthetic Norwegian population: households, GPs, hospitals, care histories and
    the fixed demo cast (docs/demo-cast.md). Synthetic numbers only (FNR month + 80)."""
    from ehelse.nobasis.seed import seed as run_seed

    try:
        day = date.fromisoformat(reference_date) if reference_date else date.today()
    except ValueError:
        fail(f"--reference-date must be YYYY-MM-DD, not {reference_date!r}")
    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        if hasattr(repo, "upgrade"):
            repo.upgrade()  # a fresh database gets its tables (idempotent)
        with Progress(TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TextColumn("patients"),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task("seed", total=patients)
            report = run_seed(repo, patients, seed, lambda done, total: bar.update(task, completed=done),
                              reference_date=day, validate_every=validate_every)
    table = Table(title=f"Seeded {report.patients:,} patients (seed {report.seed}, reference date {day})")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    table.add_column("per patient", justify="right")
    for type_, per_patient in report.per_patient().items():
        table.add_row(type_, f"{report.resources[type_]:,}", f"{per_patient:.1f}")
    table.add_row("[bold]total", f"[bold]{report.total:,}", f"[bold]{report.resources_per_patient:.1f}")
    console.print(table)
    size = f"{report.database_bytes / 1e6:,.1f} MB" if report.database_bytes else "unknown"
    console.print(f"{report.seconds:,.1f} s ({report.seconds_per_1000_patients:,.1f} s per 1,000 patients); "
                  f"database size {size}; validated {report.validated:,} sampled resources, "
                  f"{len(report.findings)} error(s)", highlight=False)
    for finding in report.findings[:20]:
        console.print(f"  [yellow]invalid[/yellow] {finding}", highlight=False)
    if report.findings:
        raise typer.Exit(2)  # written, but the sample found errors: scripts can tell
