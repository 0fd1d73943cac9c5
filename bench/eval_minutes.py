"""Evaluate the local minutes analyzer on DialogSum dialogues: ROUGE-1/2/L F1 of its
summary against the best of the human references (three, or one for some rows),
next to a lead-2 baseline (the first two turns), and the mean analysis time per dialogue.

    PYTHONPATH=src python bench/eval_minutes.py [--data DIR] [--show N]

Not a test: it prints figures. ROUGE is implemented here (no rouge-score package):
lowercased alphanumeric tokens, no stemming, no stop-word removal; ROUGE-L is the
LCS over the whole summary; each metric takes its best reference (max over the row's
references).
Speakers keep their DialogSum names (#Person1#, #Person2#) as TurnIn.speaker, so the
analyzer's third-person sentences read "#Person1# needs ..." like the references do.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callscribe.minutes.analyzers.local import LocalAnalyzer  # noqa: E402
from callscribe.minutes.schemas import AnalysisContext, TurnIn  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "testdata" / "transcripts" / "dialogsum"
TASK_DATA = ROOT.parent / "shared" / "testdata" / "transcripts"
FILES = ("dialogsum_test_150.jsonl", "dialogsum_service_subset.jsonl")

_TURN_RE = re.compile(r"^#(Person\d)#:\s*(.*)$")
# a speaker who offers help or answers with a business greeting is the agent
_AGENT_CUES = re.compile(
    r"\b(?:can|may|could) i help you|what can i do for you|how (?:can|may) i (?:help|assist)|"
    r"welcome to|thank you for calling|speaking\b|"
    r"this is [\w' .]+ (?:office|department|desk|service|hotel|bank|company)|"
    r"at your service|may i take your order|are you ready to order|sir\b|madam\b",
    re.I,
)


# --------------------------------------------------------------------------- data


def parse_dialogue(text: str) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _TURN_RE.match(line.strip())
        if m:
            turns.append((m.group(1), m.group(2).strip()))
        elif turns and line.strip():
            turns[-1] = (turns[-1][0], turns[-1][1] + " " + line.strip())
    return turns


def to_turns(pairs: list[tuple[str, str]]) -> list[TurnIn]:
    """Person -> role: the one using agent phrases is the agent (Person1 by default)."""
    cue_counts = Counter(person for person, text in pairs if _AGENT_CUES.search(text))
    people = sorted({p for p, _ in pairs})
    agent = max(people, key=lambda p: (cue_counts[p], p == "Person1")) if people else "Person1"
    turns = []
    for i, (person, text) in enumerate(pairs):
        role = "agent" if person == agent else "customer" if len(people) <= 2 else "unknown"
        turns.append(
            TurnIn(
                role=role,
                speaker=f"#{person}#",
                text=text,
                start_ms=i * 5000,
                end_ms=i * 5000 + 4000,
            )
        )
    return turns


# --------------------------------------------------------------------------- ROUGE


def tokens(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _f1(overlap: float, n_cand: int, n_ref: int) -> float:
    if n_cand == 0 or n_ref == 0 or overlap == 0:
        return 0.0
    p, r = overlap / n_cand, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(cand: list[str], ref: list[str], n: int) -> float:
    c = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
    r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    return _f1(sum((c & r).values()), sum(c.values()), sum(r.values()))


def lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(cand: list[str], ref: list[str]) -> float:
    return _f1(lcs(cand, ref), len(cand), len(ref))


def best_rouge(candidate: str, references: list[str]) -> tuple[float, float, float]:
    cand = tokens(candidate)
    refs = [tokens(r) for r in references if r and r.strip()]
    return (
        max(rouge_n(cand, r, 1) for r in refs),
        max(rouge_n(cand, r, 2) for r in refs),
        max(rouge_l(cand, r) for r in refs),
    )


# --------------------------------------------------------------------------- run


def evaluate(path: Path, show: int) -> dict[str, object]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    analyzer = LocalAnalyzer()
    context = AnalysisContext(channel="voice")
    scores: dict[str, list[tuple[float, float, float]]] = {"analyzer": [], "lead-2": []}
    timings: list[float] = []
    lengths: list[int] = []
    outcomes: Counter[str] = Counter()
    sentiments: Counter[str] = Counter()
    for k, row in enumerate(rows):
        pairs = parse_dialogue(row["dialogue"])
        turns = to_turns(pairs)
        refs = [row[k] for k in ("summary", "summary1", "summary2", "summary3") if row.get(k)]
        start = time.perf_counter()
        draft = analyzer.analyze(turns, context)
        timings.append(time.perf_counter() - start)
        lengths.append(len(tokens(draft.summary)))
        outcomes[draft.outcome] += 1
        sentiments[draft.sentiment] += 1
        scores["analyzer"].append(best_rouge(draft.summary, refs))
        lead = " ".join(f"#{p}#: {t}" for p, t in pairs[:2])
        scores["lead-2"].append(best_rouge(lead, refs))
        if k < show:
            print(
                f"\n[{row['fname']}] subject: {draft.subject}\n"
                f"  ours: {draft.summary}\n  ref1: {refs[0]}"
            )
    return {
        "name": path.name,
        "n": len(rows),
        "scores": {
            k: tuple(100 * statistics.fmean(x[i] for x in v) for i in range(3))
            for k, v in scores.items()
        },
        "mean_ms": 1000 * statistics.fmean(timings),
        "p95_ms": 1000 * sorted(timings)[int(0.95 * (len(timings) - 1))],
        "mean_words": statistics.fmean(lengths),
        "outcomes": dict(outcomes.most_common()),
        "sentiments": dict(sentiments.most_common()),
    }


# --------------------------------------------------------------------------- tasks


def _stems(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in tokens(text)}


def _task_row(name: str, turns: list[TurnIn], task_words: set[str], escalated: bool) -> str:
    """Subject and summary name the task; the outcome and action items fit what the
    agent did (the manager notified: escalated or follow-up with an agent action item;
    otherwise the request was handled: resolved or informational)."""
    draft = LocalAnalyzer().analyze(turns, AnalysisContext(channel="voice"))
    named = sorted(task_words & _stems(draft.subject + " " + draft.summary))
    want = {"escalated", "follow-up needed"} if escalated else {"resolved", "informational"}
    agent_items = [a for a in draft.action_items if a.owner == "agent"]
    items_ok = bool(agent_items) if escalated else True
    ok = bool(named) and draft.outcome in want and items_ok
    items = [f"{a.owner}: {a.title}" for a in draft.action_items]
    return (
        f"  {'ok  ' if ok else 'MISS'} {name}: task words {sorted(task_words)} named {named}; "
        f"outcome {draft.outcome!r} (want {'/'.join(sorted(want))}); "
        f"action items {items}\n"
        f"       subject: {draft.subject}\n       summary: {draft.summary}"
    )


def task_checks(root: Path) -> list[str]:
    """Harper Valley's task metadata and ABCD's flows against the minutes."""
    rows: list[str] = []
    for meta_path in sorted((root / "harper_valley").glob("*.metadata.json")):
        meta = json.loads(meta_path.read_text())
        data = next((r["data"] for r in meta["agent"]["responses"] if r.get("data")), {})
        words = _stems(" ".join(str(v) for v in data.values())) - {"type"}
        segs = json.loads(meta_path.with_name(meta["sid"] + ".transcript.json").read_text())
        segs.sort(key=lambda seg: seg["start_ms"])
        turns = [
            TurnIn(
                role="customer" if seg["speaker_role"] == "caller" else seg["speaker_role"],
                text=seg["transcript"],
                start_ms=seg["start_ms"],
                end_ms=seg["start_ms"] + seg["duration_ms"],
            )
            for seg in segs
        ]
        rows.append(_task_row(f"harper {meta['sid']}", turns, words, escalated=False))
    abcd = root / "abcd" / "abcd_sample.json"
    for convo in json.loads(abcd.read_text()) if abcd.exists() else []:
        scenario = convo["scenario"]
        words = _stems(scenario["subflow"].replace("_", " ")) - {"status", "size"}
        words = {w for w in words if not w.isdigit()}
        actions = " ".join(t for r, t in convo["original"] if r == "action").lower()
        turns = [TurnIn(role=r, text=t) for r, t in convo["original"] if r in ("agent", "customer")]
        rows.append(
            _task_row(
                f"abcd {convo['convo_id']} {scenario['flow']}/{scenario['subflow']}",
                turns,
                words,
                escalated="manager has been notified" in actions,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--show", type=int, default=0, help="print the first N summaries next to a reference"
    )
    args = parser.parse_args()
    results = [
        evaluate(args.data / name, args.show) for name in FILES if (args.data / name).exists()
    ]
    if not results:
        sys.exit(f"no DialogSum files under {args.data}")
    print("\nROUGE F1 (x100) against the best reference; own implementation, no stemming")
    print(f"{'file':34} {'n':>4} {'system':9} {'R-1':>6} {'R-2':>6} {'R-L':>6}")
    for res in results:
        for system, (r1, r2, rl) in res["scores"].items():  # type: ignore[union-attr]
            print(f"{res['name']:34} {res['n']:>4} {system:9} {r1:6.2f} {r2:6.2f} {rl:6.2f}")
    print()
    for res in results:
        print(
            f"{res['name']}: analyzer {res['mean_ms']:.2f} ms/dialogue mean, "
            f"{res['p95_ms']:.2f} ms p95; "
            f"summary {res['mean_words']:.1f} words mean"
        )
        print(f"  outcomes {res['outcomes']}\n  sentiments {res['sentiments']}")
    checks = task_checks(TASK_DATA)
    if checks:
        print("\nTasks (Harper Valley metadata, ABCD flows) against subject, summary, outcome:")
        print("\n".join(checks))


if __name__ == "__main__":
    main()
