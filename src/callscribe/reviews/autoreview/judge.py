"""The optional LLM judge of a tag's auto review: the classifier's candidates are shown
to the company's LLM with the tag's name, description and people's examples, and only
those it confirms are flagged. Cross-validated like the classifier: at training, each
fold's candidates are judged with the examples of the other folds only, so the judge's
precision and recall are out-of-fold figures too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from callscribe.ai.llm import ChatClient, InvalidAnswer

BATCH = 20  # candidates per request
MAX_EXAMPLES = 10
MAX_CHARS = 600  # of one turn's text in the prompt

SYSTEM = (
    "You check the candidates of an automatic classifier for one quality-assurance tag of "
    "a contact center. A candidate matches when a careful reviewer would put the tag on "
    "that turn, judging by the tag's name, its description and the examples people tagged. "
    'Answer with JSON: {"matches": [the numbers of the matching candidates]}.'
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"matches": {"type": "array", "items": {"type": "integer"}}},
    "required": ["matches"],
    "additionalProperties": False,
}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


@dataclass(frozen=True)
class TagBrief:
    """What the judge is told of the tag."""

    name: str
    description: str


def confirm(
    client: ChatClient,
    tag: TagBrief,
    *,
    examples: list[str],
    candidates: list[str],
) -> set[int]:
    """Indices into `candidates` the LLM confirms. Raises LLMFailed when the endpoint
    cannot answer (the caller decides what a missing judge means)."""
    confirmed: set[int] = set()
    shown = "\n".join(f"- {_clip(e)}" for e in examples[:MAX_EXAMPLES]) or "(none)"
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        lines = "\n".join(f"{n + 1}. {_clip(text)}" for n, text in enumerate(batch))
        user = (
            f"Tag: {tag.name}\nDescription: {tag.description or '(none)'}\n"
            f"Examples people tagged:\n{shown}\n\nCandidates:\n{lines}"
        )

        def parse(content: str, size: int = len(batch)) -> set[int]:
            try:
                data = json.loads(content)
            except ValueError as exc:
                raise InvalidAnswer(f"not JSON ({exc})") from exc
            matches = data.get("matches") if isinstance(data, dict) else None
            if not isinstance(matches, list) or not all(
                isinstance(m, int) and not isinstance(m, bool) for m in matches
            ):
                raise InvalidAnswer('"matches" must be a list of candidate numbers')
            wrong = [m for m in matches if not 1 <= m <= size]
            if wrong:
                raise InvalidAnswer(f"no candidate numbered {wrong[0]}: they go from 1 to {size}")
            return {m - 1 for m in matches}

        picked = client.complete_json(
            SYSTEM, user, schema=SCHEMA, schema_name="tag_matches", parse=parse
        )
        confirmed |= {start + i for i in picked}
    return confirmed


@dataclass(frozen=True)
class JudgedFigures:
    precision: float
    recall: float


def cross_validated(
    client: ChatClient,
    tag: TagBrief,
    *,
    texts: list[str],
    labels: np.ndarray,
    oof: np.ndarray,
    fold: np.ndarray,
    threshold: float,
) -> JudgedFigures:
    """The judge's out-of-fold precision and recall: in each fold, the rows the
    classifier flagged out of fold are judged with only the other folds' positives as
    examples. `texts`/`labels` are the training rows (1 = a person's example)."""
    confirmed_pos = confirmed_all = 0
    for number in sorted(set(fold.tolist())):
        rows = np.flatnonzero((fold == number) & (oof >= threshold))
        if len(rows) == 0:
            continue
        examples = [texts[i] for i in np.flatnonzero((fold != number) & (labels == 1))]
        picked = confirm(
            client,
            tag,
            examples=examples,
            candidates=[texts[i] for i in rows],
        )
        confirmed_all += len(picked)
        confirmed_pos += sum(int(labels[rows[i]] == 1) for i in picked)
    positives = int((labels == 1).sum())
    return JudgedFigures(
        precision=confirmed_pos / confirmed_all if confirmed_all else 0.0,
        recall=confirmed_pos / positives if positives else 0.0,
    )
