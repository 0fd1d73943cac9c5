# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""The summary: who said it (third person), TextRank over the sentences, which
sentences make the summary."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from callscribe.minutes.analyzers.base import SPACE_RE
from callscribe.minutes.analyzers.local.reported import proper_names, reported
from callscribe.minutes.analyzers.local.text import (
    FILLER_START_RE,
    IN_CALL_OBJECTS,
    Sentence,
    capitalize,
    other_role,
    party_label,
    stem_of,
)
from callscribe.minutes.schemas import (
    AnalysisContext,
)

# third-person rewrite of a leading first-person clause ("I need" -> "needs")
_FIRST_PERSON = [
    (
        re.compile(
            r"^i(?:'m| am) (?=calling|trying|looking|having|going|not|unable|still|interested)",
            re.I,
        ),
        "is ",
    ),
    (re.compile(r"^i(?:'m| am) ", re.I), "is "),
    (
        re.compile(r"^i(?:'ve| have) (?=\w+ed\b|been|got|had|made|done|sent|seen|lost)", re.I),
        "has ",
    ),
    (re.compile(r"^i(?:'ve| have) ", re.I), "has "),
    (re.compile(r"^i(?:'d| would) like ", re.I), "would like "),
    (re.compile(r"^i(?:'ll| will) ", re.I), "will "),
    (re.compile(r"^i(?:'d| would) ", re.I), "would "),
    (
        re.compile(
            r"^i (can(?:'t|not)?|could(?:n't)?|was|did(?:n't)?|got|just|also|should|must|might|may)\b ?",
            re.I,
        ),
        r"\1 ",
    ),
    (
        re.compile(
            r"^i (lost|had|made|sent|saw|forgot|received|bought|ordered|paid|called|tried|noticed|went|left|found|spoke|talked|never|already|(?!need\b|feed\b|proceed\b|exceed\b|succeed\b)\w+ed)\b ?",
            re.I,
        ),
        r"\1 ",
    ),
    (re.compile(r"^(?:i )?(just (?:wanted|needed|called))\b ?", re.I), r"\1 "),
    (re.compile(r"^i don't ", re.I), "doesn't "),
    (re.compile(r"^i do not ", re.I), "does not "),
    (
        re.compile(
            r"^i (need|want|think|have|see|know|understand|believe|hope|guess|wonder|feel|agree|live|work|use|mean|like|recommend|suggest)\b ?",
            re.I,
        ),
        None,
    ),
]


_THIRD_S = {"have": "has"}


def _second_to_third(text: str, listener: str) -> str:
    """Address to the other party ("you", "your") in the third person."""
    for phrase, verb in (
        ("you're", "is"),
        ("you are", "is"),
        ("you were", "was"),
        ("you've", "has"),
        ("you have", "has"),
        ("you'll", "will"),
        ("you'd", "would"),
    ):
        text = re.sub(rf"\b{phrase}\b", f"{listener} {verb}", text, flags=re.I)
    text = re.sub(r"\byourself\b", listener, text, flags=re.I)
    text = re.sub(r"\byour\b", f"{listener}'s", text, flags=re.I)
    return re.sub(r"\byou\b", listener, text, flags=re.I)


def _third_person(text: str, label: str, listener: str | None = None) -> str | None:
    body = FILLER_START_RE.sub("", text).strip()
    for pattern, replacement in _FIRST_PERSON:
        m = pattern.match(body)
        if not m:
            continue
        if replacement is None:
            verb = m.group(1).lower()
            verb = _THIRD_S.get(verb, verb + ("es" if verb.endswith(("sh", "ch", "ss")) else "s"))
            rest = body[m.end() :]
        else:
            verb = m.expand(replacement).strip()
            rest = body[m.end() :]
        rest = re.split(r",\s*(?:can|could|would) you\b", rest, maxsplit=1, flags=re.I)[0]
        rest = re.sub(r"\bmy\b", "their", rest, flags=re.I)
        rest = re.sub(r"\bmyself\b", "themselves", rest, flags=re.I)
        rest = re.sub(r"\bmine\b", "theirs", rest, flags=re.I)
        rest = re.sub(r"\bme\b", "them", rest, flags=re.I)
        rest = re.sub(r"\bI'm\b", "they are", rest)
        rest = re.sub(r"\bI\b", "they", rest)
        if listener:
            rest = _second_to_third(rest, listener)
        out = f"{label} {verb} {rest}".strip()
        out = SPACE_RE.sub(" ", out)
        return out if out.endswith((".", "!", "?")) else out + "."
    return None


def summary_sentence(sent: Sentence, context: AnalysisContext) -> str:
    label = party_label(sent.role, sent.speaker, context)
    other = other_role(sent.role)
    listener = None
    if other:
        listener = party_label(other, None, context)
        listener = listener[0].lower() + listener[1:] if listener.startswith("The ") else listener
    rewritten = _third_person(sent.text, label, listener)
    if rewritten:
        return capitalize(rewritten)
    body = sent.text.strip()
    if not body.endswith((".", "!", "?")):
        body += "."
    return (
        f"{label}: {capitalize(body)}"
        if not label.startswith("The ")
        else f"{label.replace('The ', '', 1).capitalize()}: {capitalize(body)}"
    )


TWO_SENTENCES_UP_TO = 12  # sentences in the call; longer calls get 3, then 4
_TEXTRANK_MAX_SENTENCES = 1500  # ~1.5 hours of speech; beyond, the n x n graph costs too much


def _centroid_scores(rows: list[Counter[str]], n: int) -> np.ndarray:
    """Very long calls: cosine similarity of each sentence to the document centroid,
    sparse, O(n) memory instead of an n x n graph (and a dense n x vocabulary matrix)."""
    df: Counter[str] = Counter()
    for counts in rows:
        df.update(counts.keys())
    idf = {t: math.log((1.0 + n) / (1.0 + d)) + 1.0 for t, d in df.items()}
    vectors: list[dict[str, float]] = []
    centroid: dict[str, float] = {}
    for counts in rows:
        vec = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vec = {t: v / norm for t, v in vec.items()}
        vectors.append(vec)
        for t, v in vec.items():
            centroid[t] = centroid.get(t, 0.0) + v
    cnorm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    return np.array([sum(v * centroid[t] for t, v in vec.items()) / cnorm for vec in vectors]) / n


def textrank(sentences: list[Sentence]) -> np.ndarray:
    """Centrality of each sentence in the TF-IDF cosine-similarity graph."""
    n = len(sentences)
    if n == 0:
        return np.zeros(0)
    vocab: dict[str, int] = {}
    rows: list[Counter[str]] = []
    for s in sentences:
        counts = Counter(stem_of(w) for w in s.content)
        rows.append(counts)
        for term in counts:
            vocab.setdefault(term, len(vocab))
    if not vocab:
        return np.ones(n) / n
    if n > _TEXTRANK_MAX_SENTENCES:
        return _centroid_scores(rows, n)
    tf = np.zeros((n, len(vocab)))
    for i, counts in enumerate(rows):
        for term, c in counts.items():
            tf[i, vocab[term]] = 1.0 + math.log(c)
    df = (tf > 0).sum(axis=0)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    mat = tf * idf
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    mat = mat / norms
    sim = mat @ mat.T
    np.fill_diagonal(sim, 0.0)
    row_sums = sim.sum(axis=1, keepdims=True)
    row_sums[row_sums == 0] = 1.0
    trans = sim / row_sums
    scores = np.ones(n) / n
    damping = 0.85
    for _ in range(50):
        new = (1 - damping) / n + damping * (trans.T @ scores)
        if np.abs(new - scores).sum() < 1e-7:
            scores = new
            break
        scores = new
    return scores


def word_similarity(a: list[str], b: list[str]) -> float:
    sa, sb = {stem_of(w) for w in a}, {stem_of(w) for w in b}
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / math.sqrt(len(sa) * len(sb))


SMALL_TALK_RE = re.compile(
    r"\b(?:my name is|this is \w+ (?:from|at|with|speaking)|thank(?:s| you) for (?:calling|contacting|holding|waiting|your patience)|"
    r"how (?:can|may) i (?:help|assist)|have a (?:nice|great|good|wonderful) (?:day|one|evening|weekend)|"
    r"anything else|is there something else|you're welcome|one moment|bear with me|welcome to)\b",
    re.I,
)


_IDENTITY_CHECK_RE = re.compile(
    r"\b(?:order id|e-?mail(?: address)?|username|user name|account (?:id|number)|zip code|"
    r"full name|phone number|membership level|date of birth|security question|pin|"
    r"verify|verification|spell)\b",
    re.I,
)


ID_RE = re.compile(r"\S+@\S+|\b[a-z]*\d{3,}[a-z\d]*\b", re.I)


def pick_summary(
    sentences: list[Sentence], rank: np.ndarray, request: Sentence | None
) -> list[Sentence]:
    n = len(sentences)
    k = 2 if n <= TWO_SENTENCES_UP_TO else 3 if n <= 60 else 4
    scores = []
    for s, r in zip(sentences, rank, strict=True):
        length = len(s.content)
        length_factor = (
            0.0 if length < 2 else min(1.0, length / 6) * (1.0 if len(s.words) <= 45 else 0.7)
        )
        role_factor = 1.2 if s.role == "customer" else 1.0
        score = r * n * length_factor * role_factor
        if request is not None and s.index == request.index:
            score = score * 1.5 + 1.0
        if "?" in s.text and s.role == "agent":
            score *= 0.4
        if SMALL_TALK_RE.search(s.text) or IN_CALL_OBJECTS.search(s.text):
            score *= 0.3
        elif s.role == "agent" and _IDENTITY_CHECK_RE.search(s.text):
            score *= 0.4
        if ID_RE.search(s.text) and len(s.content) < 5:
            score *= 0.3
        scores.append(score)
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    chosen: list[Sentence] = []
    for i in order:
        if len(chosen) >= 2 and (scores[i] <= 0 or scores[i] < 0.2 * scores[order[0]]):
            break
        cand = sentences[i]
        if any(word_similarity(cand.content, c.content) > 0.6 for c in chosen):
            continue
        chosen.append(cand)
        if len(chosen) >= k:
            break
    if not chosen:
        chosen = [max(sentences, key=lambda s: (len(s.words), -s.index))]
    return sorted(chosen, key=lambda s: s.index)


_CLAUSE_CUT_RE = re.compile(
    r",\s+(?:but|and|so|because|which|as|if|or)\b|;\s+|\s+(?:but|because|so that)\s+", re.I
)

SUMMARY_BUDGET_WORDS = 30  # words in all (twice that past 60 sentences)
PROTECT_REQUEST_FROM = 20  # sentences; in shorter calls the request is usually first anyway
SUMMARY_MAX_WORDS = 18  # per sentence; DialogSum's human summaries run ~20 words in all


def _trim(sentence: str, max_words: int) -> str:
    """A long reported sentence keeps its first clause(s) up to max_words."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    body = sentence.rstrip(".")
    best = None
    for m in _CLAUSE_CUT_RE.finditer(body):
        n = len(body[: m.start()].split())
        if n > max_words:
            break
        if n >= 10:  # the speaker, the verb and a clause of substance
            best = m.start()
    if best is not None:
        return body[:best].rstrip(" ,;") + "."
    return sentence


_YES_RE = re.compile(
    r"^(?:yes|yeah|yep|sure|certainly|of course|ok|okay|all right|no problem|definitely|absolutely|"
    r"with pleasure|my pleasure|right away)\b",
    re.I,
)
_NO_RE = re.compile(
    r"^(?:no|nope|i'm afraid not|sorry,? (?:no|we don't|we can't))\b(?!\s+problem)", re.I
)


def _with_answer(line: str, question: Sentence, sentences: list[Sentence], listener: str) -> str:
    """A question and the other party's yes or no in one sentence ("... asks the agent to
    book a room, and the agent agrees")."""
    if not question.text.rstrip().endswith("?") or question.index + 1 >= len(sentences):
        return line
    answer = sentences[question.index + 1]
    if answer.role == question.role or answer.turn == question.turn:
        return line
    head = line.rstrip(".")
    if not re.search(r"\b(?:asks|suggests)\b", head):  # "I need X, can you help?" is a statement
        return line
    if _YES_RE.match(answer.text.strip()):
        request = re.search(
            r"\b(?:asks (?:\S+ )?to|asks for|suggests|asks whether \S+ wants)\b", head
        )
        return f"{head}, and {listener} {'agrees' if request else 'says yes'}."
    if _NO_RE.match(answer.text.strip()):
        return f"{head}, but {listener} says no."
    return line


def compose_summary(
    picked: list[Sentence],
    all_sentences: list[Sentence],
    context: AnalysisContext,
    request: Sentence | None = None,
) -> str:
    """The picked sentences in reported speech, speaker named, trimmed, in call order;
    over the word budget, the longest sentences go first (in long calls never the
    customer's request)."""
    long_call = len(all_sentences) > 60
    budget = SUMMARY_BUDGET_WORDS * (3 if long_call else 1)
    max_words = SUMMARY_MAX_WORDS * (2 if long_call else 1)
    keep = request if len(all_sentences) > PROTECT_REQUEST_FROM else None
    out: list[tuple[Sentence, str]] = []
    names = proper_names(s.text for s in all_sentences)
    speakers = {s.role: s.speaker for s in all_sentences if s.speaker}
    for sent in picked:
        label = party_label(sent.role, sent.speaker, context)
        other = other_role(sent.role)
        listener = party_label(other, speakers.get(other), context) if other else "the other party"
        if listener.startswith("The "):
            listener = "the " + listener[4:]
        line = reported(sent.text, label, listener, addressed=other is not None, names=names)
        if line:
            line = _with_answer(line, sent, all_sentences, listener)
        if line:
            out.append((sent, _trim(capitalize(line), max_words)))
    if not out:
        return " ".join(summary_sentence(s, context) for s in picked)
    while len(out) > 1 and sum(len(line.split()) for _, line in out) > budget:
        candidates = [i for i in range(len(out)) if out[i][0] is not keep] or [len(out) - 1]
        drop = max(candidates, key=lambda i: (len(out[i][1].split()), i))  # the longest
        out.pop(drop)
    return " ".join(line for _, line in out)
