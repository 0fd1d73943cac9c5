"""The index behind a Protocol (`base.SearchIndex`), one implementation per database:
`embedded` (SQLite FTS5 + a memory-mapped matrix) and `scaled` (PostgreSQL tsvector +
pgvector). The session's database picks it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from callscribe.search.index.base import Doc, Scope, SearchIndex

__all__ = ["Doc", "Scope", "SearchIndex", "index_for"]


def index_for(session: Session) -> SearchIndex:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from callscribe.search.index.postgres import PostgresIndex

        return PostgresIndex()
    if dialect == "sqlite":
        from callscribe.search.index.embedded import EmbeddedIndex

        return EmbeddedIndex()
    raise NotImplementedError(f"No search index for {dialect}")
