"""The embedded SQLite backend (the default); see repository.py."""

from ehelse.storage.sqlite.repository import SqliteRepository, sqlite_path

__all__ = ["SqliteRepository", "sqlite_path"]
