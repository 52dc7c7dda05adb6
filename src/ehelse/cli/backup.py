"""`ehelse backup FILE` and `ehelse restore FILE`.

SQLite: the online backup API (https://www.sqlite.org/backup.html) copies a consistent
snapshot page by page while servers keep running; restore copies a backup file back into
the database the same way (stop the servers first: restore replaces everything).
PostgreSQL: pg_dump in its custom format and pg_restore --clean (both must be on PATH, at a
version no older than the server).
"""

from __future__ import annotations

import shutil
from contextlib import closing
import sqlite3
import subprocess
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import typer

from ehelse.cli.common import DatabaseOption, console, fail, settings_for


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    path = url.split(":", 1)[1]
    path = path[3:] if path.startswith("///") else path.lstrip("/")
    return Path(path.split("?", 1)[0])


def backup(file: Path = typer.Argument(..., help="Where to write the backup."),
           database: Optional[str] = DatabaseOption) -> None:
    """Back up the database into FILE (SQLite: online backup; PostgreSQL: pg_dump)."""
    url = settings_for(database).database_url
    if url.startswith("sqlite:"):
        source = sqlite_path(url)
        if not source.exists():
            fail(f"no database at {source}")
        file.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, file)
    elif url.startswith(("postgresql:", "postgres:")):
        _run(["pg_dump", "--format=custom", "--no-owner", *_pg_schema(url), "--file", str(file),
              "--dbname", _pg_url(url)])
    else:
        fail(f"cannot back up {url}")
    console.print(f"[green]backup written[/green]: {file} ({file.stat().st_size:,} bytes)", highlight=False)


def restore(file: Path = typer.Argument(..., help="A backup made by `ehelse backup`."),
            database: Optional[str] = DatabaseOption) -> None:
    """Replace the database's contents with the backup in FILE. Stop the servers first."""
    if not file.is_file():
        fail(f"no backup file at {file}")
    url = settings_for(database).database_url
    if url.startswith("sqlite:"):
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(file, target)
    elif url.startswith(("postgresql:", "postgres:")):
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", _pg_url(url), str(file)])
    else:
        fail(f"cannot restore into {url}")
    console.print(f"[green]restored[/green] {file} into the database", highlight=False)


def _copy(source: Path, target: Path) -> None:
    # In steps of 4096 pages, so writers on a live source are not locked out for long.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst, pages=4096)


def _pg_schema(url: str) -> list[str]:
    """A database URL may pin a schema (`?options=-csearch_path%3Dname`, as test runs do):
    then only that schema is dumped."""
    from urllib.parse import parse_qs, unquote

    options = parse_qs(urlsplit(url).query).get("options", [])
    for option in options:
        for part in unquote(option).split():
            if part.startswith("-csearch_path="):
                return ["--schema", part.split("=", 1)[1].split(",")[0]]
    return []


def _pg_url(url: str) -> str:
    # libpq takes postgresql:// URIs as they are; "postgres://" is accepted too.
    return url


def _run(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        fail(f"{argv[0]} is not on PATH; install the PostgreSQL client tools")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"{argv[0]} failed: {done.stderr.strip()[-1000:]}")
