"""`ehelse import` and `ehelse export`, with progress bars and summaries."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for


def import_(paths: List[Path] = typer.Argument(..., help="Files or folders: Bundles (.json) and NDJSON (.ndjson, .jsonl; also .gz)."),
            database: Optional[str] = DatabaseOption,
            show_rejected: int = typer.Option(20, "--show-rejected", help="How many rejections to list (all are counted).")) -> None:
    """Import FHIR Bundles and NDJSON files or folders, with a summary.

    Transaction bundles land whole or not at all; other resources are created or updated by id.
    Ends with what was created, updated and rejected (and why); exit code 2 when some were rejected."""
    from ehelse.importer import Importer, find_files, summary_rows

    settings = settings_for(database)
    with friendly_errors():
        files = find_files(paths)
    total = sum(f.stat().st_size for f in files)
    with open_repo(settings) as repo, friendly_errors():
        with Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("import", total=total)
            importer = Importer(repo, settings, progress=lambda n: bar.advance(task, n))
            summary = importer.run(files)
    table = Table(title=f"Imported {len(files)} file(s)")
    table.add_column("type")
    table.add_column("created", justify="right")
    table.add_column("updated", justify="right")
    for type_, created, updated in summary_rows(summary):
        table.add_row(type_, str(created), str(updated))
    table.add_row("[bold]total", f"[bold]{summary.total_created}", f"[bold]{summary.total_updated}")
    console.print(table)
    console.print(f"created {summary.total_created}, updated {summary.total_updated}, "
                  f"rejected {len(summary.rejected)}", highlight=False)
    for rejection in summary.rejected[:show_rejected]:
        console.print(f"  [yellow]rejected[/yellow] {rejection.where}: {rejection.reason}", highlight=False)
    if len(summary.rejected) > show_rejected:
        console.print(f"  ... and {len(summary.rejected) - show_rejected} more", highlight=False)
    if summary.rejected:
        raise typer.Exit(2)  # partial success: scripts can tell


def export(folder: Path = typer.Argument(..., help="Folder to write <Type>.ndjson files into."),
           types: Optional[List[str]] = typer.Option(None, "--type", "-t", help="Only this resource type (repeatable)."),
           database: Optional[str] = DatabaseOption) -> None:
    """Export every current resource as NDJSON, one file per resource type."""
    from ehelse.exporter import export_ndjson

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        with Progress(TextColumn("exporting {task.fields[type]}"), TextColumn("{task.completed:,} resources"),
                      console=console, transient=True) as bar:
            task = bar.add_task("export", total=None, type="")
            counts = export_ndjson(repo, folder, types,
                                   progress=lambda t, n: bar.update(task, advance=n, type=t))
    if not counts:
        fail("nothing to export", code=0) if types is None else fail("no such resources")
    table = Table(title=f"Exported to {folder}")
    table.add_column("file")
    table.add_column("resources", justify="right")
    for type_, count in counts.items():
        table.add_row(f"{type_}.ndjson", f"{count:,}")
    console.print(table)
