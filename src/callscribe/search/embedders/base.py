"""What an embedder is: texts in, one L2-normalised float32 vector per text out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

# the dimension of the index's vectors (pgvector column `vector(384)`, the SQLite matrix):
# all-MiniLM-L6-v2's; an OpenAI-compatible endpoint is asked for this many dimensions
INDEX_DIM = 384


@runtime_checkable
class Embedder(Protocol):
    name: str  # stored with each entry: vectors of different embedders do not compare
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised; an empty text gives a
        vector too (of whatever the model makes of nothing), never an error."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
