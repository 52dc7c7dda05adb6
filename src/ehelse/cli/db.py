"""`ehelse db ...`: the database schema."""

from __future__ import annotations

from typing import Optional

import typer

from ehelse.cli.common import DatabaseOption, console, fail, open_repo, settings_for

app = typer.Typer(help="Database schema: create or upgrade it.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(database: Optional[str] = DatabaseOption) -> None:
    """Create the schema, or bring it up to this version's migrations. Safe to run again."""
    settings = settings_for(database)
    with open_repo(settings) as repo:
        upgrade_schema = getattr(repo, "upgrade", None)
        if upgrade_schema is not None:
            try:
                upgrade_schema()
            except Exception as exc:
                fail(f"upgrade failed: {exc}")
        if not repo.migrations_current():
            fail("schema is still not current after the upgrade")
    console.print(f"[green]database is current[/green]: {_redacted(settings.database_url)}", highlight=False)


def _redacted(url: str) -> str:
    """The URL without a password, for output."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url
