"""What the `ehelse` commands share: the `--database` option, opening the repository, and
turning an ehelse error into a clean message and exit code instead of a traceback."""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import typer
from rich.console import Console

from ehelse.errors import FhirError
from ehelse.settings import Settings, get_settings

console = Console(stderr=True)  # progress and summaries; stdout stays for data (tokens, NDJSON)

DatabaseOption = typer.Option(None, "--database", "-d", envvar="EHELSE_DATABASE_URL", show_envvar=True,
                              help="Database URL: sqlite:///path or postgresql://user@host:port/db.")


def settings_for(database: Optional[str], **overrides) -> Settings:
    return get_settings(database_url=database, **overrides)


@contextlib.contextmanager
def open_repo(settings: Settings) -> Iterator:
    """The repository of `settings.database_url`, closed afterwards. Errors end the command
    with exit code 1 and a one-line message."""
    from ehelse.storage import open_repository

    try:
        repo = open_repository(settings.database_url, db_pool_size=min(settings.db_pool_size, 4),
                               sqlite_readers=min(settings.sqlite_readers, 2))
    except Exception as exc:
        fail(f"cannot open database {settings.database_url}: {exc}")
    if repo.migrations_current():
        from ehelse.fhir.ig import load_installed

        load_installed(repo)  # profiles installed with `ehelse ig install` apply here too
    try:
        yield repo
    finally:
        repo.close()


def fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    try:
        yield
    except FhirError as exc:
        fail(str(exc))
    except typer.Exit:
        raise
    except Exception as exc:  # a database or file problem: a message, not a traceback
        fail(f"{type(exc).__name__}: {exc}")
