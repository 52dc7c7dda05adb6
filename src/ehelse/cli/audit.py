"""`ehelse audit ...`: check the audit trail and report on it (audit/verify.py, audit/report.py)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, open_repo, settings_for

app = typer.Typer(help="The audit trail: verify its hash chains, report for the privacy officer.",
                  no_args_is_help=True)


@app.command("verify")
def verify(database: Optional[str] = DatabaseOption) -> None:
    """Check every hash chain (one per server process); exit 1 and name each break."""
    from ehelse.audit.verify import verify as run

    with open_repo(settings_for(database)) as repo:
        result = run(repo)
    for chain, count in result.chains.items():
        console.print(f"chain {chain[:12]}: {count} records", highlight=False)
    if result.ok:
        console.print(f"[green]audit trail intact[/green]: {result.records} records in {len(result.chains)} chains")
        return
    for problem in result.breaks:
        console.print(f"[red]break[/red] {problem}", highlight=False)
    console.print(f"[red]{len(result.breaks)} break(s)[/red]")
    raise typer.Exit(1)


@app.command("report")
def report(since: str = typer.Option(..., "--since", help="From this date or instant, e.g. 2026-11-01."),
           until: Optional[str] = typer.Option(None, "--until", help="Up to the end of this date or instant."),
           database: Optional[str] = DatabaseOption) -> None:
    """For the privacy officer: emergency accesses, accesses without a care relationship,
    denied attempts and unusual patterns since a date."""
    from ehelse.audit.report import UNUSUAL_PATIENTS, report as run
    from ehelse.errors import FhirError
    from ehelse.cli.common import fail

    with open_repo(settings_for(database)) as repo:
        try:
            result = run(repo, since, until)
        except FhirError as exc:
            fail(str(exc))
    grants = Table(title=f"Emergency access grants: {len(result.grants)}")
    for column in ("when", "who", "organisation", "patient", "purpose", "reason", "until"):
        grants.add_column(column)
    for a in result.grants[:200]:
        grants.add_row(a.when, a.who, a.organization or "", a.patient, a.purpose or "", a.reason or "", a.what)
    console.print(grants)
    for title, items in (("Emergency access (ETREAT/BTG)", result.emergency),
                         ("Access without a care relationship", result.without_care),
                         ("Denied attempts", result.denied)):
        table = Table(title=f"{title}: {len(items)}")
        for column in ("when", "who", "organisation", "patient", "action", "purpose", "reason"):
            table.add_column(column)
        for a in items[:200]:
            table.add_row(a.when, a.who, a.organization or "", a.patient, a.action, a.purpose or "", a.reason or "")
        console.print(table)
    console.print(f"Unusual patterns (>= {UNUSUAL_PATIENTS} patients outside care relationships):")
    for hpr, count in result.unusual:
        console.print(f"  HPR {hpr}: {count} patients", highlight=False)
    if not result.unusual:
        console.print("  none")
    logins = Table(title=f"Logins: {sum(not a.denied for a in result.logins)} succeeded, "
                         f"{sum(a.denied for a in result.logins)} failed")
    for column in ("when", "kind", "who", "organisation", "outcome"):
        logins.add_column(column)
    for a in result.logins[-200:]:
        logins.add_row(a.when, a.kind, a.who, a.organization or "", "failed" if a.denied else "ok")
    console.print(logins)
