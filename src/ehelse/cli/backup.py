"""`ehelse backup FILE` and `ehelse restore FILE`: thin commands over ehelse.storage.backup.

SQLite: the online backup API (https://www.sqlite.org/backup.html) copies a consistent
snapshot while servers keep running. PostgreSQL: pg_dump in its custom format and pg_restore
(both must be on PATH, at a version no older than the server). Restore goes into a fresh
database, or with --replace over the existing contents (stop the servers first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ehelse.cli.common import DatabaseOption, console, fail, settings_for


def backup(file: Path = typer.Argument(..., help="Where to write the backup."),
           database: Optional[str] = DatabaseOption) -> None:
    """Back up the database into FILE (SQLite: online backup; PostgreSQL: pg_dump)."""
    from ehelse.storage import backup as storage_backup

    url = settings_for(database).database_url
    try:
        _audit_journals_in(url)
        written = storage_backup.backup(url, file)
    except (OSError, ValueError, RuntimeError) as exc:
        fail(f"backup failed: {exc}")
    console.print(f"[green]backup written[/green]: {written} ({written.stat().st_size:,} bytes)", highlight=False)


def _audit_journals_in(url: str) -> None:
    """SQLite: the audit records still in the server processes' journals (audit/journal.py)
    go into the database first, so the backup holds every access recorded until now."""
    from ehelse.audit import journal, log
    from ehelse.storage import open_repository
    from ehelse.storage.sqlite.repository import sqlite_path

    if not url.startswith("sqlite:") or not sqlite_path(url).is_file() or not journal.pending(
            Path(f"{sqlite_path(url)}-audit")):
        return
    repo = open_repository(url, create=False)
    try:
        log.catch_up(repo)
    except Exception as exc:  # the backup is still worth having: say what it lacks
        console.print(f"[yellow]warning[/yellow]: audit records still in journals were not moved into the "
                      f"database first ({type(exc).__name__}: {exc}); the backup lacks them", highlight=False)
    finally:
        repo.close()


def restore(file: Path = typer.Argument(..., help="A backup made by `ehelse backup`."),
            replace: bool = typer.Option(False, "--replace",
                                         help="Replace the contents of a database that holds data."),
            database: Optional[str] = DatabaseOption) -> None:
    """Restore the backup in FILE into a fresh database (or, with --replace, over its contents)."""
    from ehelse.storage import backup as storage_backup

    if not file.is_file():
        fail(f"no backup file at {file}")
    url = settings_for(database).database_url
    try:
        storage_backup.restore(file, url, replace=replace)
    except (OSError, ValueError, RuntimeError) as exc:
        fail(f"restore failed: {exc}")
    console.print(f"[green]restored[/green] {file} into the database", highlight=False)
