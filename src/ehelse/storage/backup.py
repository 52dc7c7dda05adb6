"""Backup of a database to one file, and restore of that file into a fresh database.

SQLite: the online backup API (https://www.sqlite.org/backup.html, sqlite3
`Connection.backup`) copies a consistent snapshot while the server keeps serving; the
backup is itself a SQLite database file.

PostgreSQL: `pg_dump --format=custom` and `pg_restore` (client tools of the server's major
version or newer must be on PATH). A URL whose search_path names a schema
(`?options=-csearch_path%3Dname`) dumps only that schema; restoring it into a URL naming
another schema restores it and renames it to that name. Restore runs in one transaction:
it either completes or leaves the target as it was.

Restore refuses a target that already holds ehelse data: it is for fresh databases, never a
merge. Both directions keep every resource, every version and the signing keys.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from ehelse.storage.sqlite.repository import sqlite_path


def backup(url: str, path: str | os.PathLike) -> Path:
    """Write a backup of the database at `url` to `path` (replaced if it exists)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    if url.startswith("sqlite:"):
        _sqlite_copy(sqlite_path(url), partial)
    elif url.startswith(("postgresql:", "postgres:")):
        _pg_dump(url, partial)
    else:
        raise ValueError(f"Cannot back up {url!r}: use a sqlite:/// or postgresql:// URL")
    partial.replace(target)  # a backup file is complete or absent, never half-written
    return target


def restore(path: str | os.PathLike, url: str, *, replace: bool = False) -> None:
    """Restore a backup made by `backup()` into the database at `url`: a fresh one, or with
    `replace` one whose contents the backup replaces (stop the servers first)."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"No backup at {source}")
    if url.startswith("sqlite:"):
        target = sqlite_path(url)
        if not replace and target.exists() and _sqlite_has_tables(target):
            raise ValueError(f"{target} is not empty: restore needs a fresh database (or replace)")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, target)  # the backup API overwrites every page of the target
    elif url.startswith(("postgresql:", "postgres:")):
        if replace:
            _pg_restore_replacing(source, url)
        else:
            _pg_restore(source, url)
    else:
        raise ValueError(f"Cannot restore into {url!r}: use a sqlite:/// or postgresql:// URL")


# -- SQLite -------------------------------------------------------------------------------------
def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise FileNotFoundError(f"No SQLite database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        # All pages in one step (the default, pages=-1): one read transaction, so a consistent
        # snapshot; in WAL mode writers go on meanwhile. Copying in steps would restart
        # whenever another connection writes, and might never finish on a busy server.
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _sqlite_has_tables(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    finally:
        conn.close()


# -- PostgreSQL ---------------------------------------------------------------------------------
def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not on PATH: install the PostgreSQL client tools")
    return found


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _pg_dump(url: str, target: Path) -> None:
    from ehelse.storage.postgres import url_schema

    args = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    schema = url_schema(url)
    if schema:
        args.append(f"--schema={schema}")
    _run([*args, f"--dbname={url}"])


def _dump_schema(source: Path) -> str | None:
    """The schema a custom-format dump creates, from its table of contents."""
    for line in _run([_tool("pg_restore"), "--list", str(source)]).splitlines():
        # e.g. "5; 2615 16385 SCHEMA - ehelse_a postgres"
        parts = line.split()
        if not line.startswith(";") and "SCHEMA" in parts:
            index = parts.index("SCHEMA")
            if parts[index + 1] == "-":
                return parts[index + 2]
    return None


def _pg_restore(source: Path, url: str) -> None:
    import psycopg
    from psycopg import sql

    from ehelse.storage.postgres import url_schema

    dumped_schema = _dump_schema(source) or "public"
    # A URL naming a schema gets the backup under that name; otherwise it keeps its own.
    target_schema = url_schema(url) or dumped_schema
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s",
                              (target_schema,)).fetchone()[0]
        if tables:
            raise ValueError(f"Schema {target_schema} is not empty: restore needs a fresh database")
        if dumped_schema != target_schema and conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (dumped_schema,)).fetchone():
            raise ValueError(f"The backup's schema {dumped_schema} exists in the target database;"
                             " restore into another database")
    _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={url}", str(source)])
    if dumped_schema != target_schema:
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            # The target schema holds no tables (checked above): the restored one takes its place.
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target_schema)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(dumped_schema), sql.Identifier(target_schema)))


def _pg_restore_replacing(source: Path, url: str) -> None:
    """Restore over existing data without a window where neither copy exists: the current
    schema is renamed aside, the backup restored, and the old schema dropped only on success
    (renamed back on failure)."""
    import time

    import psycopg
    from psycopg import sql

    from ehelse.storage.postgres import url_schema

    target_schema = url_schema(url) or _dump_schema(source) or "public"
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s",
                              (target_schema,)).fetchone()[0]
    if not tables:
        _pg_restore(source, url)
        return
    aside = f"{target_schema}_replaced_{int(time.time())}"[:63]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(target_schema),
                                                                   sql.Identifier(aside)))
    try:
        _pg_restore(source, url)
    except BaseException:
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target_schema)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(aside),
                                                                       sql.Identifier(target_schema)))
        raise
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(aside)))
