"""What a trained auto-review classifier is: a linear scorer over L2-normalised turn
embeddings, its flag threshold, and its cross-validated figures. Stored as plain numbers
(JSON), so loading one never unpickles anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# of a random sample of other turns, drop this share most like the examples before
# using the rest as negatives: some unlabelled turns are positives nobody tagged yet
DROP_NEAREST_SHARE = 0.05  # bench/bench_autoreview.py: 0.05 > 0.1 > 0.2 > 0 on BANKING77
MAX_DROP_SHARE = 0.3


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
    # of the training only (not stored): each row's out-of-fold probability and fold,
    # rows ordered positives then negatives, for the LLM judge's cross-validated figures
    oof: np.ndarray | None = None
    fold: np.ndarray | None = None

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
    positives: np.ndarray,
    sample: np.ndarray,
    drop_share: float = DROP_NEAREST_SHARE,
    max_drop_share: float = MAX_DROP_SHARE,
) -> np.ndarray:
    """Indices into `sample` (random other turns) kept as negatives. Dropped: every turn
    as close to an example (max cosine) as the two closest-knit examples are to each
    other's nearest (the smallest leave-one-out nearest-example similarity), since such a
    turn is likely a positive nobody tagged yet; at least `drop_share` and at most
    `max_drop_share` of the sample, the nearest first."""
    n = len(sample)
    if n == 0 or len(positives) == 0:
        return np.arange(n)
    pos = np.asarray(positives)
    nearest = (np.asarray(sample) @ pos.T).max(axis=1)
    if len(pos) > 1:
        sims = pos @ pos.T
        np.fill_diagonal(sims, -np.inf)
        tau = float(sims.max(axis=1).min())
        like = int((nearest >= tau).sum())
    else:
        like = 0
    drop = min(max(like, int(round(n * drop_share))), int(round(n * max_drop_share)))
    return np.sort(np.argsort(-nearest, kind="stable")[drop:])
