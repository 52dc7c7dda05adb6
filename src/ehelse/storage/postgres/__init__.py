"""The PostgreSQL backend (production); see repository.py."""

from ehelse.storage.postgres.repository import PostgresRepository, url_schema, with_schema

__all__ = ["PostgresRepository", "url_schema", "with_schema"]
