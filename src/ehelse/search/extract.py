"""Index extraction from the SearchParameter registry (work in progress: identifiers only)."""

from ehelse.storage.index import identifier_indexer as index_rows  # noqa: F401
