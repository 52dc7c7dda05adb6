"""The `ehelse` command (typer + rich). Every command takes `--database URL`
(or EHELSE_DATABASE_URL); docs/cli.md describes each one, and tests/test_docs.py fails when
a command is missing there."""

from __future__ import annotations

import typer
from rich.table import Table

from ehelse import __version__
from ehelse.cli import analytics, audit, backup, client, data, db, ig, keys, seed, serve, strategy, terminology, token
from ehelse.cli.common import console

app = typer.Typer(name="ehelse", help=f"ehelse {__version__}: an open FHIR R4 e-health platform.",
                  no_args_is_help=True, add_completion=False)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(ig.app, name="ig")
app.command("import")(data.import_)
app.command("export")(data.export)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.command("token")(token.token)
app.add_typer(client.app, name="client")
app.add_typer(keys.app, name="keys")
app.add_typer(analytics.app, name="analytics")
app.add_typer(strategy.app, name="strategy")
app.command("seed")(seed.seed)
app.add_typer(terminology.app, name="terminology")


@app.command("settings")
def settings_table() -> None:
    """List every setting: environment variable, default and what it does."""
    from ehelse.settings import SETTINGS

    table = Table(title="ehelse settings (environment variables)")
    table.add_column("variable", no_wrap=True)
    table.add_column("default")
    table.add_column("meaning")
    for setting in SETTINGS:
        table.add_row(setting.env, repr(setting.default), setting.help)
    console.print(table)


if __name__ == "__main__":
    app()
