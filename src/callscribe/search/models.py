"""The search index's tables.

`search_entries` has one row per indexed turn on both databases. What differs by
database is created by the migration (0012) for that dialect only and is not in these
models (autogenerate skips it, see DIALECT_OBJECTS):

* SQLite: the FTS5 table `search_fts` (rowid = turn id) and its shadow tables, and a
  trigger that drops a turn's FTS row with its entry (engagement deletes cascade here);
  vectors live in memory-mapped block files per company (`index/matrix.py`),
  `vec_row` is the entry's row in it.
* PostgreSQL: columns `tsv tsvector` (GIN) and `embedding vector(384)` (HNSW, cosine)
  on `search_entries`; `search_terms` (document frequency per term) and `search_corpus`
  (document count and total length), kept by a trigger on `search_entries`, from which
  the keyword arm computes BM25.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from callscribe.db import Base, UTCDateTime, utcnow

# created per dialect by the migration; autogenerate (alembic check) leaves them alone
DIALECT_TABLES = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_content",
        "search_fts_docsize",
        "search_fts_config",
        "search_terms",
        "search_corpus",
    }
)
DIALECT_COLUMNS = frozenset({("search_entries", "tsv"), ("search_entries", "embedding")})
DIALECT_INDEXES = frozenset({"ix_search_entries_tsv", "ix_search_entries_embedding"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """For migrations/env.py: leave the per-dialect objects above out of autogenerate."""
    if type_ == "table" and name in DIALECT_TABLES:
        return False
    if type_ == "column":
        table = getattr(getattr(obj, "table", None), "name", None)
        if (table, name) in DIALECT_COLUMNS:
            return False
    return not (type_ == "index" and name in DIALECT_INDEXES)


class SearchEntry(Base):
    """One indexed turn. No foreign key to the turn: when a call is re-processed its turns
    are replaced, and the old entries stay (found by nobody: searches join the live turn
    on id *and* engagement) until the Index step replaces them, so the statistics the
    keyword arm ranks by are updated by the index, never behind its back."""

    __tablename__ = "search_entries"

    turn_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    embedder: Mapped[str] = mapped_column(String(80))  # vectors of another embedder do not compare
    doc_len: Mapped[int] = mapped_column(Integer, default=0)  # unicode61 tokens, for BM25
    vec_row: Mapped[int | None] = mapped_column(Integer)  # SQLite: row in the company's matrix
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchMatrix(Base):
    """SQLite: the state of a company's vector matrix file. Rows are allocated from
    `next_row` inside the indexing transaction (SQLite has one writer), so a rolled-back
    transaction's rows are simply written over by the next one; a row is live while an
    entry points at it (a tombstone is the absence of one). `generation` changes with
    every write, so readers know their cached view is stale."""

    __tablename__ = "search_matrices"

    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    next_row: Mapped[int] = mapped_column(Integer, default=0)
    live_rows: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class SearchSettings(Base):
    """A company's embedder: the bundled local one, or an OpenAI-compatible
    `/v1/embeddings` endpoint (base URL ends before /embeddings; key Fernet-encrypted,
    as the AI settings keep theirs)."""

    __tablename__ = "search_settings"

    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    embedder: Mapped[str] = mapped_column(String(40), default="local")  # local | openai
    embedding_base_url: Mapped[str | None] = mapped_column(String(500))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_api_key_enc: Mapped[str | None] = mapped_column(Text)
    embedding_api_key_last4: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
