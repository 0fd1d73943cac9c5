"""PII detection: recall per kind, precision and ms per turn of `privacy.detectors` on
tests/data/pii/turns.jsonl, next to the regexes it replaced (`OLD_PATTERNS`, the
redaction of main before issue 11), measured in the same run.

    PYTHONPATH=src python bench/bench_pii.py

A labelled value counts as found when a span of its kind overlaps it; a span counts as
right when it overlaps a labelled value of its kind. Targets (issue 11): recall >= 0.99
card, CVV, SSN; >= 0.98 phone, email; precision >= 0.9; <= 5 ms per turn.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from callscribe.privacy.detectors import detect, detect_turns

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii" / "turns.jsonl"

# the write-time redaction of main before this issue (privacy/redaction.py), as it was
OLD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), "card"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "ssn"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "email"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b"), "phone"),
)

Found = list[tuple[str, int, int]]


def old_detect(text: str, previous: str) -> Found:
    found: Found = []
    for pattern, kind in OLD_PATTERNS:
        for m in pattern.finditer(text):
            if not any(m.start() < b and a < m.end() for _, a, b in found):
                found.append((kind, m.start(), m.end()))
    return found


def new_detect(text: str, previous: str) -> Found:
    return [(s.kind.value, s.start, s.end) for s in detect(text, previous=previous)]


def score(rows: list[dict], detector: Callable[[str, str], Found]) -> dict[str, object]:
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    right = wrong = 0
    started = time.perf_counter()
    results = [detector(r["text"], r["prev"]) for r in rows]
    elapsed = time.perf_counter() - started
    misses: list[str] = []
    for row, found in zip(rows, results, strict=True):
        gold = []
        for item in row["pii"]:
            start = row["text"].index(item["value"])
            gold.append((item["kind"], start, start + len(item["value"])))
        for kind, a, b in gold:
            hits[kind][1] += 1
            if any(k == kind and s < b and a < e for k, s, e in found):
                hits[kind][0] += 1
            else:
                misses.append(f"{row['id']} {kind}: {row['text'][a:b]!r}")
        for kind, s, e in found:
            if any(k == kind and s < b and a < e for k, a, b in gold):
                right += 1
            else:
                wrong += 1
                misses.append(f"{row['id']} false {kind}: {row['text'][s:e]!r}")
    return {
        "recall": {k: v[0] / v[1] for k, v in sorted(hits.items())},
        "precision": right / (right + wrong) if right + wrong else 1.0,
        "ms_per_turn": elapsed * 1000 / len(rows),
        "misses": misses,
    }


def real_transcripts() -> None:
    """What the detectors find in the real dialogues of tests/data (ABCD chats, a Harper
    Valley call): unlabelled, printed so a reader can judge each finding."""
    data = FIXTURE.parent.parent / "transcripts"
    dialogues: list[list[str]] = []
    for conv in json.loads((data / "abcd" / "abcd_sample.json").read_text()):
        dialogues.append([t[1] for t in conv.get("original", []) if t[0] != "action"])
    for path in (data / "harper_valley").glob("*.transcript.json"):
        segments = sorted(json.loads(path.read_text()), key=lambda s: s["start_ms"])
        dialogues.append([s["human_transcript"] for s in segments])
    turns = sum(len(d) for d in dialogues)
    print(f"real dialogues (tests/data/transcripts): {len(dialogues)}, {turns} turns; found:")
    for texts in dialogues:
        for text, spans in zip(texts, detect_turns(texts), strict=True):
            for span in spans:
                print(f"   {span.kind.value:6} {text[span.start : span.end]!r}  in {text[:70]!r}")


def main() -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    labelled = sum(len(r["pii"]) for r in rows)
    clean = sum(1 for r in rows if not r["pii"])
    print(f"fixture: {len(rows)} turns, {labelled} labelled values, {clean} turns without PII")
    new_detect("warm up 4111 1111 1111 1111", "")
    results = {"old regexes": score(rows, old_detect), "privacy.detect": score(rows, new_detect)}
    kinds = sorted({item["kind"] for r in rows for item in r["pii"]})
    header = f"{'':16}" + "".join(f"{k:>8}" for k in kinds) + f"{'prec':>8}{'ms/turn':>9}"
    print(header)
    for name, r in results.items():
        recall = r["recall"]
        assert isinstance(recall, dict)
        cells = "".join(f"{recall.get(k, 0.0):8.3f}" for k in kinds)
        print(f"{name:16}{cells}{r['precision']:8.3f}{r['ms_per_turn']:9.3f}")
    misses = results["privacy.detect"]["misses"]
    assert isinstance(misses, list)
    print(f"privacy.detect misses and false findings ({len(misses)}):")
    for line in misses[:40]:
        print("  ", line)
    real_transcripts()


if __name__ == "__main__":
    main()
