"""Auto review on BANKING77 (train split, ../shared/testdata; CC BY 4.0): for 10 intents,
k examples each (5, then 10), the pool is every other utterance of those intents and of
20 other intents. Each intent is one tag; auto review (the bundled MiniLM embedder, the
reviews.autoreview classifier with its cross-validated threshold, negatives = a random
sample of the pool minus the share most like the examples, as reviews.service does) flags
pool utterances; per-tag precision, recall and F1, macro-averaged, next to a TF-IDF
nearest-centroid baseline that flags the same number of utterances per tag. Then the
AutoReview step's throughput on a real database: turns per second per enabled tag.

    PYTHONPATH=src python bench/bench_autoreview.py [--intents 10] [--others 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from callscribe.reviews import service
from callscribe.reviews.autoreview import reliable_negatives, train
from callscribe.search.embedders.minilm import MiniLMEmbedder

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "transcripts"
BANKING = DATA / "banking77" / "train.csv"


def load() -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with BANKING.open(newline="") as fh:
        for row in csv.DictReader(fh):
            by_intent[row["category"]].append(row["text"])
    return by_intent


def prf(flagged: set[int], truth: set[int]) -> tuple[float, float, float]:
    tp = len(flagged & truth)
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(truth) if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(
    k: int,
    intents: list[str],
    texts: list[str],
    labels: list[str],
    vectors: np.ndarray,
    tfidf: np.ndarray,
    seed: int,
) -> None:
    rng = random.Random(seed)
    ours, base = [], []
    for intent in intents:
        idx = [i for i, label in enumerate(labels) if label == intent]
        examples = rng.sample(idx, k)
        ex = set(examples)
        pool = [i for i in range(len(texts)) if i not in ex]
        sample = rng.sample(pool, min(service.NEGATIVE_SAMPLE, len(pool)))
        pos = vectors[examples]
        keep = reliable_negatives(pos, vectors[sample])
        neg = vectors[[sample[i] for i in keep]]
        clf = train(pos, neg, seed=seed)
        probs = clf.probabilities(vectors[pool])
        flagged = {pool[i] for i in np.flatnonzero(probs >= clf.threshold)}
        truth = {i for i in pool if labels[i] == intent}
        ours.append(prf(flagged, truth))
        # baseline: TF-IDF centroid of the examples, the same number of flags
        centroid = tfidf[examples].mean(axis=0)
        sims = tfidf[pool] @ centroid
        top = np.argsort(-sims, kind="stable")[: len(flagged)]
        base.append(prf({pool[i] for i in top}, truth))
        print(
            f"  {intent:40s} flags {len(flagged):4d} truth {len(truth):4d}  "
            f"P {ours[-1][0]:.2f} R {ours[-1][1]:.2f} F1 {ours[-1][2]:.2f}  "
            f"(cv P {clf.precision:.2f} R {clf.recall:.2f})  baseline F1 {base[-1][2]:.2f}"
        )
    o, b = np.mean(ours, axis=0), np.mean(base, axis=0)
    print(
        f"k={k}: auto review macro P {o[0]:.3f} R {o[1]:.3f} F1 {o[2]:.3f} | "
        f"TF-IDF centroid (same flags) P {b[0]:.3f} R {b[1]:.3f} F1 {b[2]:.3f} | "
        f"ratio {o[2] / max(b[2], 1e-9):.2f}x"
    )


def throughput(texts: list[str], tags: int, embedder_name: str) -> None:
    """The AutoReview step over engagements of 10 turns on a fresh SQLite install."""
    import os
    import uuid

    from callscribe import db
    from callscribe.settings import reset_settings

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CALLSCRIBE_DATA_DIR"] = tmp
        os.environ["CALLSCRIBE_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        reset_settings()
        db.migrate()
        from callscribe.accounts import service as accounts
        from callscribe.calls.models import Engagement, Turn
        from callscribe.reviews.models import AutoReviewModel, Tag

        with db.session_scope() as s:
            company = accounts.create_company(s, "Bench")
            cid = company.id
            ids = []
            for e in range(20):
                eid = uuid.uuid4()
                ids.append(eid)
                s.add(Engagement(id=eid, company_id=cid, channel="chat", status="completed"))
                s.flush()
                for seq in range(10):
                    s.add(
                        Turn(
                            company_id=cid,
                            engagement_id=eid,
                            seq=seq,
                            role="customer",
                            text=texts[(e * 10 + seq) % len(texts)],
                        )
                    )
            s.flush()
            rng = np.random.default_rng(0)
            for t in range(tags):
                tag = Tag(
                    company_id=cid,
                    name=f"tag {t}",
                    levels=["customer_turn"],
                    auto_enabled=True,
                    auto_status="ready",
                )
                s.add(tag)
                s.flush()
                # a classifier's cost does not depend on its numbers: random ones will do
                s.add(
                    AutoReviewModel(
                        company_id=cid,
                        tag_id=tag.id,
                        version=1,
                        examples=5,
                        negatives=100,
                        precision=1.0,
                        recall=1.0,
                        f1=1.0,
                        threshold=0.5,
                        embedder=embedder_name,
                        classifier={"coef": rng.normal(size=384).tolist(), "intercept": 0.0},
                    )
                )
        start = time.perf_counter()
        turns = 0
        for eid in ids:
            with db.session_scope() as s:
                turns += service.auto_review_engagement(s, eid)
        elapsed = time.perf_counter() - start
        db.dispose_engines()
    print(
        f"AutoReview step, {tags} enabled tag(s): {turns} turns in {elapsed:.2f} s = "
        f"{turns / elapsed:.0f} turns/s ({turns * tags / elapsed:.0f} turn-tags/s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--intents", type=int, default=10)
    ap.add_argument("--others", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-throughput", action="store_true")
    args = ap.parse_args()
    by_intent = load()
    rng = random.Random(args.seed)
    chosen = rng.sample(sorted(by_intent), args.intents + args.others)
    intents = chosen[: args.intents]
    texts, labels = [], []
    for intent in chosen:
        for text in by_intent[intent]:
            texts.append(text)
            labels.append(intent)
    print(f"{len(texts)} utterances of {len(chosen)} intents; tags: {args.intents}")
    t0 = time.perf_counter()
    vectors = MiniLMEmbedder().embed(texts)
    print(f"embedded in {time.perf_counter() - t0:.1f} s")
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    tfidf_dense = np.asarray(tfidf.todense())
    for k in (5, 10):
        run(k, intents, texts, labels, vectors, tfidf_dense, args.seed)
    if not args.no_throughput:
        for tags in (1, 5):
            throughput(texts, tags, MiniLMEmbedder().name)


if __name__ == "__main__":
    main()
