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
        console.print(f"  [yellow]rejected[/yellow] {rejection.where}: {rejection.reason}", highlight=False, soft_wrap=True)
    if len(summary.rejected) > show_rejected:
        console.print(f"  ... and {len(summary.rejected) - show_rejected} more", highlight=False)
    if summary.rejected:
        raise typer.Exit(2)  # partial success: scripts can tell


def export(folder: Path = typer.Argument(..., help="Folder to write <Type>.ndjson files into."),
           types: Optional[List[str]] = typer.Option(None, "--type", "-t", help="Only this resource type (repeatable, or comma separated)."),
           since: Optional[str] = typer.Option(None, "--since", help="Only resources changed after this instant (e.g. 2024-01-01T00:00:00Z); deletions go to deleted.ndjson."),
           database: Optional[str] = DatabaseOption) -> None:
    """Export current resources as NDJSON, one file per resource type (the Bulk Data engine of $export)."""
    from ehelse.access.actor import SYSTEM
    from ehelse.bulk.engine import ExportRun, secured
    from ehelse.bulk.request import parse
    from ehelse.storage.stamp import now_instant

    settings = settings_for(database)
    query = [("_type", t) for t in types or []] + ([("_since", since)] if since else [])
    with open_repo(settings) as repo, friendly_errors():
        request = parse("system", "ehelse export", query, None)
        with Progress(TextColumn("exporting"), TextColumn("{task.fields[what]}"),
                      TextColumn("{task.completed:,} resources"), console=console, transient=True) as bar:
            task = bar.add_task("export", total=None, what="")

            def progress(text: str, written: int) -> bool:
                bar.update(task, completed=written, what=text.split(":")[0])
                return True

            run = ExportRun(secured(repo, SYSTEM), request, now_instant(), folder, settings, progress)
            result = run.run()
    if not result.output and not result.deleted:
        fail("nothing to export", code=0) if not types else fail("no such resources")
    table = Table(title=f"Exported to {folder}")
    table.add_column("file")
    table.add_column("resources", justify="right")
    for _, name, count in result.output:
        table.add_row(name, f"{count:,}")
    for name, count in result.deleted + result.error:
        table.add_row(name, f"{count:,}")
    console.print(table)
