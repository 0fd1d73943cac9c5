"""The local analyzer's summary reads like a person wrote it: reported speech in the
third person, the parties named by role, no quoted fragments, 1-3 short sentences, and a
subject that names the topic. Properties over the real dialogues in tests/data, not
fixed strings."""

from __future__ import annotations

import re

import pytest

from callscribe.minutes.analyzers.local import LocalAnalyzer
from callscribe.minutes.analyzers.local.reported import reported
from callscribe.minutes.analyzers.local.text import content_words, stem_of
from callscribe.minutes.schemas import AnalysisContext, TurnIn

from .conftest import abcd_dialogues, harper_valley_calls

FIRST_OR_SECOND_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|me|my|mine|you|your|yours)\b", re.I)
QUOTES = re.compile(r"[\"“”]|\b\w+:\s")  # quotation marks or a "Speaker: ..." fragment

CALLS = abcd_dialogues() + harper_valley_calls()


def analyze(turns: list[TurnIn]):  # type: ignore[no-untyped-def]
    return LocalAnalyzer().analyze(turns, AnalysisContext(channel="voice"))


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip()) if s]


@pytest.mark.parametrize(("name", "turns"), CALLS, ids=[n for n, _ in CALLS])
def test_real_call_summary_is_reported_speech_naming_the_roles(
    name: str, turns: list[TurnIn]
) -> None:
    summary = analyze(turns).summary
    assert not FIRST_OR_SECOND_PERSON.search(summary), summary
    assert not QUOTES.search(summary), summary
    assert re.search(r"\bthe (?:customer|agent)\b", summary, re.I), summary
    assert 1 <= len(sentences(summary)) <= 3, summary
    assert 5 <= len(summary.split()) <= 60, summary
    for sentence in sentences(summary):  # each one starts with who did it
        assert re.match(r"(?:The customer|The agent|A speaker)\b", sentence), sentence


@pytest.mark.parametrize(("name", "turns"), CALLS, ids=[n for n, _ in CALLS])
def test_real_call_subject_names_a_topic_of_the_customer(name: str, turns: list[TurnIn]) -> None:
    subject = analyze(turns).subject
    asking = [t for t in turns if t.role == "customer"] or turns  # roles unknown: anyone
    said = {stem_of(w) for t in asking for w in content_words(t.text)}
    topic = {stem_of(w) for w in content_words(subject)}
    assert topic & said, (subject, sorted(said)[:20])
    assert not QUOTES.search(subject)
    assert len(subject) <= 80


def test_speaker_names_are_used_when_the_turns_carry_them() -> None:
    turns = [
        TurnIn(role="agent", speaker="#Person1#", text="Good morning, how can I help you?"),
        TurnIn(
            role="customer",
            speaker="#Person2#",
            text="I'd like to rent a car for three days, please.",
        ),
        TurnIn(role="agent", speaker="#Person1#", text="We have a silver Toyota available."),
        TurnIn(role="customer", speaker="#Person2#", text="Great, I'll take the Toyota."),
    ]
    summary = analyze(turns).summary
    assert summary.startswith("#Person2#")
    assert "car" in summary
    assert not FIRST_OR_SECOND_PERSON.search(summary), summary
    assert "#Person2#:" not in summary and "#Person1#:" not in summary


@pytest.mark.parametrize(
    ("text", "role_word", "verb"),
    [
        ("Can you book me on tomorrow's flight?", "customer", "asks"),
        ("Could you please send me a new debit card?", "customer", "asks"),
        ("Do you have a room for two nights?", "customer", "asks"),
        ("What time does the flight leave?", "customer", "asks"),
        ("I lost my debit card yesterday.", "customer", "lost"),
        ("I'd like to cancel my subscription.", "customer", "wants"),
        ("Please fill in this form.", "agent", "asks"),
        ("You should bring your receipt next time.", "agent", "tells"),
        ("We offer a discount for students.", "agent", "offers"),
        ("The parcel will arrive in five days.", "agent", "tells"),
    ],
)
def test_a_sentence_becomes_third_person_reported_speech(
    text: str, role_word: str, verb: str
) -> None:
    label = f"The {role_word}"
    listener = "the agent" if role_word == "customer" else "the customer"
    out = reported(text, label, listener)
    assert out is not None
    assert out.startswith(f"{label} ")
    assert verb in out.split()[:4], out
    assert not FIRST_OR_SECOND_PERSON.search(out), out
    assert not QUOTES.search(out) and "?" not in out, out
    assert out.endswith(".")
    kept = {w for w in content_words(text) if w not in ("please",)}
    assert kept & set(content_words(out)), out  # the content survives the rewrite


@pytest.mark.parametrize("text", ["Okay.", "Thank you!", "Uh, yes, sure."])
def test_fillers_give_no_reported_sentence(text: str) -> None:
    assert reported(text, "The customer", "the agent") is None


@pytest.mark.parametrize(
    ("request_text", "topic"),
    [
        ("Can you give me a fragile label for my suitcase?", "label"),
        ("Sorry, could I see the wine list?", "wine"),
        ("I've just heard an announcement that my flight has been delayed.", "flight"),
    ],
)
def test_the_subject_names_the_topic_not_the_asking(request_text: str, topic: str) -> None:
    draft = analyze(
        [
            TurnIn(role="agent", text="Good evening, how can I help you?"),
            TurnIn(role="customer", text=request_text),
            TurnIn(role="agent", text="Of course, here you are."),
        ]
    )
    assert topic in draft.subject.lower()
    assert not FIRST_OR_SECOND_PERSON.search(draft.subject), draft.subject
    assert not draft.subject.endswith(("?", "…"))


def test_a_question_and_its_answer_make_one_sentence() -> None:
    turns = [
        TurnIn(role="agent", text="Thank you for calling, how may I help you?"),
        TurnIn(role="customer", text="Could you move my dental appointment to Friday morning?"),
        TurnIn(role="agent", text="Sure, Friday at nine is free."),
    ]
    summary = analyze(turns).summary
    merged = next(s for s in sentences(summary) if "appointment" in s)
    assert merged.startswith("The customer asks the agent")
    assert re.search(r"\bthe agent (?:agrees|says yes)\b", merged), merged
    assert not FIRST_OR_SECOND_PERSON.search(summary), summary


def test_a_statement_with_a_tag_question_is_not_answered() -> None:
    name, turns = abcd_dialogues()[0]  # "i need to return an item, can you help me with that?"
    first = sentences(analyze(turns).summary)[0]
    assert "return" in first
    assert not re.search(r"\b(?:agrees|says yes)\b", first), first
