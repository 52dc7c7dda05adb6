"""`ehelse strategy import FILE.csv` and `ehelse strategy show`: the strategy's plan
(goals, sub-goals, activities, indicators) behind /strategi (portals/strategy/plan.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, friendly_errors, open_repo, settings_for

app = typer.Typer(help="The strategy's plan and indicators shown at /strategi.", no_args_is_help=True)


@app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                        help="CSV with the columns code, kind, parent, title, owner, status, start, end, "
                                             "baseline, baseline_year, target, target_year, unit, computed."),
            database: Optional[str] = DatabaseOption) -> None:
    """Add or replace plan items from CSV (by code); a bad row stops the import before anything is written."""
    from ehelse.portals.strategy.plan import PlanStore, read_csv

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        items = read_csv(file.read_text(encoding="utf-8-sig"))
        store = PlanStore(repo)
        store.ensure_seeded()
        count = store.save(items)
    console.print(f"imported {count} plan items from {file}")


@app.command("show")
def show(database: Optional[str] = DatabaseOption) -> None:
    """List the plan items."""
    from ehelse.portals.strategy.plan import PlanStore

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        store = PlanStore(repo)
        store.ensure_seeded()
        items = store.items()
    table = Table(title="Strategy plan")
    for column in ("code", "kind", "parent", "title"):
        table.add_column(column)
    for item in items:
        table.add_row(item.code, item.kind, item.parent, item.title)
    console.print(table)
