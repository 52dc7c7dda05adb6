"""Storage: the Repository protocol and its backends.

`open_repository(url)` picks the backend from the database URL (DESIGN.md contract):
`sqlite:///path` (embedded default), `postgresql://...` (production), `memory://` (unit
tests only).
"""

from __future__ import annotations

from ehelse.storage.protocol import Page, Repository, ResourceVersion, SearchParam, SearchQuery

__all__ = ["open_repository", "Page", "Repository", "ResourceVersion", "SearchParam", "SearchQuery"]


def open_repository(url: str, **options) -> Repository:
    if url.startswith("sqlite:"):
        from ehelse.storage.sqlite import SqliteRepository

        return SqliteRepository(url, **options)
    if url.startswith(("postgresql:", "postgres:")):
        from ehelse.storage.postgres import PostgresRepository

        return PostgresRepository(url, **options)
    if url.startswith("memory:"):
        from ehelse.storage.memory import MemoryRepository

        return MemoryRepository()
    raise ValueError(f"Unknown database URL {url!r}: use sqlite:///path or postgresql://...")
