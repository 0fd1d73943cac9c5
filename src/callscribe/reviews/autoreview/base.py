"""What a trained auto-review classifier is: a linear scorer over L2-normalised turn
embeddings, its flag threshold, and its cross-validated figures. Stored as plain numbers
(JSON), so loading one never unpickles anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# of a random sample of other turns, drop this share most like the examples before
# using the rest as negatives: some unlabelled turns are positives nobody tagged yet
DROP_NEAREST_SHARE = 0.2


@dataclass(frozen=True)
class TrainedClassifier:
    coef: np.ndarray  # (dim,) float32
    intercept: float
    threshold: float  # flag when the probability is at least this
    precision: float  # out-of-fold, at the threshold
    recall: float
    f1: float
    positives: int
    negatives: int

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float64)
        z = np.asarray(vectors, dtype=np.float64) @ self.coef.astype(np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {"coef": [float(x) for x in self.coef], "intercept": float(self.intercept)}

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, threshold: float, precision: float = 0.0, recall: float = 0.0
    ) -> TrainedClassifier:
        coef = np.asarray(data["coef"], dtype=np.float32)
        if coef.ndim != 1:
            raise ValueError("coef must be one vector")
        return cls(
            coef=coef,
            intercept=float(data["intercept"]),
            threshold=threshold,
            precision=precision,
            recall=recall,
            f1=0.0,
            positives=0,
            negatives=0,
        )


def reliable_negatives(
    positives: np.ndarray, sample: np.ndarray, drop_share: float = DROP_NEAREST_SHARE
) -> np.ndarray:
    """Indices into `sample` (random other turns) kept as negatives: all but the
    `drop_share` most similar (max cosine) to any positive example."""
    if len(sample) == 0 or len(positives) == 0:
        return np.arange(len(sample))
    nearest = (np.asarray(sample) @ np.asarray(positives).T).max(axis=1)
    keep = len(sample) - int(round(len(sample) * drop_share))
    return np.sort(np.argsort(nearest, kind="stable")[:keep])
