"""Search over every turn: hybrid (keyword BM25 + semantic vectors) with reciprocal rank
fusion, behind an embedder registry (`embedders/`) and an index with two backends
(`index/`: SQLite FTS5 + a memory-mapped matrix, PostgreSQL tsvector + pgvector)."""
