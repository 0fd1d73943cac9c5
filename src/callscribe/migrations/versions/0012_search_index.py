"""search index: entries, matrix state, settings; FTS5 (SQLite) or tsvector + pgvector
with BM25 term statistics (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the PostgreSQL statistics BM25 needs, kept by the database itself so that nothing that
# adds or deletes entries (a cascade included) can leave them behind
PG_STATS_TRIGGER = """
CREATE FUNCTION search_entries_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO search_terms (term, df)
      SELECT lexeme, 1 FROM unnest(NEW.tsv) ORDER BY lexeme
      ON CONFLICT (term) DO UPDATE SET df = search_terms.df + 1;
    UPDATE search_corpus SET n_docs = n_docs + 1, total_len = total_len + NEW.doc_len
      WHERE id = 1;
    RETURN NEW;
  END IF;
  UPDATE search_terms SET df = df - 1
    WHERE term IN (SELECT lexeme FROM unnest(OLD.tsv));
  UPDATE search_corpus SET n_docs = n_docs - 1, total_len = total_len - OLD.doc_len
    WHERE id = 1;
  RETURN OLD;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("turn_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=False),
        sa.Column("doc_len", sa.Integer(), nullable=False),
        sa.Column("vec_row", sa.Integer(), nullable=True),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_search_entries_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("turn_id", name=op.f("pk_search_entries")),
    )
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_entries_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_entries_engagement_id"), ["engagement_id"], unique=False
        )
    op.create_table(
        "search_matrices",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("live_rows", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_search_matrices_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_search_matrices")),
    )
    op.create_table(
        "search_settings",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("embedder", sa.String(length=40), nullable=False),
        sa.Column("embedding_base_url", sa.String(length=500), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("embedding_api_key_enc", sa.Text(), nullable=True),
        sa.Column("embedding_api_key_last4", sa.String(length=8), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_search_settings_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_search_settings")),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # words: FTS5 with the unicode61 tokenizer (search/tokenize.py mirrors it); rowid is
        # the turn id. Its row goes with its entry, a cascade from the engagement included.
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(text, tokenize = 'unicode61')")
        op.execute(
            "CREATE TRIGGER search_entries_fts_delete AFTER DELETE ON search_entries "
            "BEGIN DELETE FROM search_fts WHERE rowid = OLD.turn_id; END"
        )
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute("ALTER TABLE search_entries ADD COLUMN tsv tsvector")
        op.execute("ALTER TABLE search_entries ADD COLUMN embedding vector(384)")
        op.execute("CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (tsv)")
        op.execute(
            "CREATE INDEX ix_search_entries_embedding ON search_entries "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        op.execute("CREATE TABLE search_terms (term text PRIMARY KEY, df integer NOT NULL)")
        op.execute(
            "CREATE TABLE search_corpus (id integer PRIMARY KEY CHECK (id = 1), "
            "n_docs bigint NOT NULL, total_len bigint NOT NULL)"
        )
        op.execute("INSERT INTO search_corpus (id, n_docs, total_len) VALUES (1, 0, 0)")
        op.execute(PG_STATS_TRIGGER)
        op.execute(
            "CREATE TRIGGER search_entries_stats AFTER INSERT OR DELETE ON search_entries "
            "FOR EACH ROW EXECUTE FUNCTION search_entries_stats()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_entries_fts_delete")
        op.execute("DROP TABLE IF EXISTS search_fts")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS search_entries_stats ON search_entries")
        op.execute("DROP FUNCTION IF EXISTS search_entries_stats()")
        op.execute("DROP TABLE IF EXISTS search_terms")
        op.execute("DROP TABLE IF EXISTS search_corpus")
    op.drop_table("search_settings")
    op.drop_table("search_matrices")
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_entries_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_search_entries_company_id"))
    op.drop_table("search_entries")
