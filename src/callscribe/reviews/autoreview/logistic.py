"""The auto-review classifier: scikit-learn's logistic regression on turn embeddings,
class-balanced. Its flag threshold is chosen by cross-validation on the examples: the
probability that maximises F1 over the out-of-fold predictions (stratified k-fold, k =
min(5, positives)); the out-of-fold precision and recall at that threshold are what the
tag's page shows. Then it is refit on every example.

scikit-learn is imported where a training runs, not with the module: reviews are wired
into every process (serve, worker, CLI) and the import costs ~1.8 s of start-up, while
reviewing with a trained classifier needs NumPy only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from callscribe.reviews.autoreview.base import TrainedClassifier

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

MIN_POSITIVES = 5  # a tag needs this many examples before it can review by itself
C = 10.0  # inverse regularisation, on unit-length embeddings (bench/bench_autoreview.py)
MAX_FOLDS = 5


def _model(seed: int) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)


def best_threshold(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float, float]:
    """(threshold, precision, recall) maximising F1; ties go to the higher threshold
    (fewer flags)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    # precision/recall have one more entry than thresholds (the point recall=0)
    p, r = precision[:-1], recall[:-1]
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    best = int(np.flatnonzero(f1 >= f1.max() - 1e-12)[-1])
    return float(thresholds[best]), float(p[best]), float(r[best])


def train(
    positives: np.ndarray,
    negatives: np.ndarray,
    *,
    negative_weights: np.ndarray | None = None,
    seed: int = 0,
) -> TrainedClassifier:
    """A classifier of positives against negatives (rows: L2-normalised embeddings).
    `negative_weights` (default 1 each) lets confirmed negatives (a person said the AI's
    flag was incorrect) count more than sampled ones."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n_pos, n_neg = len(positives), len(negatives)
    if n_pos < MIN_POSITIVES:
        raise ValueError(f"at least {MIN_POSITIVES} positive examples are needed, got {n_pos}")
    if n_neg < 2:
        raise ValueError("at least 2 negative examples are needed")
    x = np.vstack([positives, negatives]).astype(np.float32)
    y = np.concatenate([np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)])
    weights = np.concatenate(
        [
            np.ones(n_pos),
            np.ones(n_neg) if negative_weights is None else np.asarray(negative_weights, float),
        ]
    )
    folds = StratifiedKFold(n_splits=min(MAX_FOLDS, n_pos, n_neg), shuffle=True, random_state=seed)
    oof = cross_val_predict(
        _model(seed), x, y, cv=folds, method="predict_proba", params={"sample_weight": weights}
    )[:, 1]
    fold = np.zeros(len(y), dtype=int)
    for number, (_train, test) in enumerate(folds.split(x, y)):  # the same split again
        fold[test] = number
    threshold, precision, recall = best_threshold(y, oof)
    fitted = _model(seed).fit(x, y, sample_weight=weights)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TrainedClassifier(
        coef=fitted.coef_[0].astype(np.float32),
        intercept=float(fitted.intercept_[0]),
        threshold=threshold,
        precision=precision,
        recall=recall,
        f1=f1,
        positives=n_pos,
        negatives=n_neg,
        oof=oof,
        fold=fold,
    )
