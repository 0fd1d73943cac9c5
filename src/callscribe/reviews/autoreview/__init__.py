"""Auto review: a classifier per tag over turn embeddings, learned from people's tags.
`base` says what a trained classifier is; `logistic` trains one with scikit-learn."""

from callscribe.reviews.autoreview.base import TrainedClassifier, reliable_negatives
from callscribe.reviews.autoreview.logistic import train

__all__ = ["TrainedClassifier", "reliable_negatives", "train"]
