"""The local analyzer on real dialogues (ABCD chats, a Harper Valley bank call, QMSum
meetings) and on small handcrafted calls that pin down one behaviour each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callscribe.errors import CallscribeError
from callscribe.minutes.analyzers import AnalyzerConfig, AnalyzerKeyMissing, get_analyzer
from callscribe.minutes.analyzers.local import LocalAnalyzer
from callscribe.minutes.schemas import DEFAULT_OUTCOME_LABELS, AnalysisContext, MinutesDraft, TurnIn

from .conftest import abcd_dialogues, all_dialogues, harper_valley_calls, qmsum_meetings

TUESDAY = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)  # a Tuesday


def agent(text: str) -> TurnIn:
    return TurnIn(role="agent", text=text)


def customer(text: str) -> TurnIn:
    return TurnIn(role="customer", text=text)


def analyze(turns: list[TurnIn], **context: object) -> MinutesDraft:
    return LocalAnalyzer().analyze(turns, AnalysisContext(**context))


# --------------------------------------------------------------------------- real dialogues


@pytest.mark.parametrize("name,turns", all_dialogues(), ids=[n for n, _ in all_dialogues()])
def test_real_dialogue_gives_complete_valid_minutes(name: str, turns: list[TurnIn]) -> None:
    draft = analyze(turns)
    assert draft.summary.strip()
    assert draft.subject.strip() and len(draft.subject) <= 80
    assert draft.sentiment in ("positive", "neutral", "negative", "mixed")
    assert draft.outcome in DEFAULT_OUTCOME_LABELS
    assert 1 <= len(draft.tags) <= 8
    assert len({t.lower() for t in draft.tags}) == len(draft.tags)
    assert all(len(item.title) <= 120 for item in draft.action_items)
    assert len({(i.title, i.owner) for i in draft.action_items}) == len(draft.action_items)
    assert draft.sections and all(s.bullets for s in draft.sections)


@pytest.mark.parametrize("name,turns", all_dialogues(), ids=[n for n, _ in all_dialogues()])
def test_same_transcript_gives_same_minutes(name: str, turns: list[TurnIn]) -> None:
    context = AnalysisContext(started_at=TUESDAY)
    first = LocalAnalyzer().analyze(turns, context)
    second = LocalAnalyzer().analyze(list(turns), context)
    assert first.model_dump() == second.model_dump()


def test_abcd_return_chat_subject_names_the_request() -> None:
    name, turns = abcd_dialogues()[0]  # "I need to return an item"
    draft = analyze(turns)
    assert "return" in draft.subject.lower()
    assert "return" in draft.summary.lower()


def test_harper_valley_lost_card_call_is_about_the_card() -> None:
    _, turns = harper_valley_calls()[0]
    draft = analyze(turns)
    assert "card" in draft.subject.lower()
    assert "card" in draft.summary.lower()
    assert any("card" in tag for tag in draft.tags)


def test_meeting_without_customer_gets_topic_subject_and_no_customer_section() -> None:
    _, turns = qmsum_meetings()[0]
    draft = analyze(turns, channel="meeting")
    assert "remote" in (draft.subject + " ".join(draft.tags)).lower()
    assert not any(s.heading == "Customer request" for s in draft.sections)


def test_ten_minute_call_gives_the_same_minutes_every_time() -> None:
    # ~10 minutes of speech: about 1,500 words in 150 turns (speed: bench/eval_minutes.py)
    _, meeting = qmsum_meetings()[0]
    turns = [
        TurnIn(role=("agent", "customer")[i % 2], text=t.text) for i, t in enumerate(meeting[:150])
    ]
    analyzer = LocalAnalyzer()
    first = analyzer.analyze(turns, AnalysisContext(started_at=TUESDAY))
    assert first.summary
    assert analyzer.analyze(turns, AnalysisContext(started_at=TUESDAY)) == first


# --------------------------------------------------------------------------- empty


@pytest.mark.parametrize("turns", [[], [agent("   "), customer("")], [customer("{vocalsound}")]])
def test_empty_transcript_gives_empty_call_minutes(turns: list[TurnIn]) -> None:
    draft = analyze(turns)
    assert draft.subject == "Empty call"
    assert draft.summary and "nothing" in draft.summary.lower()
    assert draft.sentiment == "neutral"
    assert draft.outcome == "unresolved"
    assert draft.action_items == []


def test_empty_transcript_outcome_is_closest_configured_label() -> None:
    draft = analyze([], outcome_labels=["won", "lost", "open"])
    assert draft.outcome in ("won", "lost", "open")
    assert draft.outcome == "open"


# --------------------------------------------------------------------------- action items


def test_agent_commitment_by_friday_gets_owner_and_friday_date() -> None:
    turns = [
        customer("Hi, I was charged twice for my order and I want my money back."),
        agent("I'm sorry about that. I've issued the refund for the duplicate charge."),
        agent("I'll email you the refund confirmation by Friday."),
        customer("Great, thank you."),
    ]
    draft = analyze(turns, started_at=TUESDAY)
    items = [i for i in draft.action_items if "refund confirmation" in i.title.lower()]
    assert len(items) == 1
    item = items[0]
    assert item.owner == "agent"
    assert item.due == "2026-11-20"  # the Friday after Tuesday 17 November 2026
    assert item.title.lower().startswith("email")
    assert "friday" not in item.title.lower()
    assert item.status == "open"


def test_due_phrase_is_kept_when_call_date_is_unknown() -> None:
    draft = analyze([agent("I'll email you the refund confirmation by Friday.")])
    assert draft.action_items[0].due == "by Friday"


@pytest.mark.parametrize(
    "sentence,due",
    [
        ("I will send you the contract tomorrow.", "2026-11-18"),
        ("We'll ship the replacement within 24 hours.", "2026-11-18"),
        ("I'm going to call you back next week.", "2026-11-23"),
        ("I will send the invoice on March 3.", "2027-03-03"),
        ("We will process the refund within 5 business days.", "2026-11-24"),
        ("I'll send you the form today.", "2026-11-17"),
        ("I'll schedule the technician visit for next Friday.", "2026-11-27"),
    ],
)
def test_due_phrases_resolve_against_the_call_date(sentence: str, due: str) -> None:
    draft = analyze(
        [customer("Hello, I need help with my account."), agent(sentence)], started_at=TUESDAY
    )
    assert [i.due for i in draft.action_items] == [due]


def test_urgent_request_is_high_priority_and_owned_by_the_other_party() -> None:
    draft = analyze(
        [
            customer("My card was stolen. Can you please send me a new card asap?"),
            agent("Of course."),
        ],
        started_at=TUESDAY,
    )
    assert len(draft.action_items) == 1
    item = draft.action_items[0]
    assert item.owner == "agent"
    assert item.priority == "high"
    assert "new card" in item.title.lower()
    assert "the customer" in item.title.lower()


def test_no_rush_commitment_is_low_priority() -> None:
    draft = analyze([agent("I'll send you the brochure, no rush on your side, whenever suits.")])
    assert [i.priority for i in draft.action_items] == ["low"]


def test_repeated_commitment_gives_one_action_item() -> None:
    draft = analyze(
        [
            agent("I will send you the replacement form today."),
            customer("Okay."),
            agent("So again, I'll send you the replacement form today."),
        ],
        started_at=TUESDAY,
    )
    assert len(draft.action_items) == 1
    assert draft.action_items[0].priority == "high"  # due today


def test_owner_uses_names_from_context() -> None:
    draft = analyze(
        [agent("I'll call you back tomorrow with the test results.")],
        agent_name="Dana",
        customer_name="Mr. Patel",
        started_at=TUESDAY,
    )
    item = draft.action_items[0]
    assert item.owner == "Dana"
    assert "Mr. Patel" in item.title


def test_in_call_questions_are_not_action_items() -> None:
    draft = analyze(
        [
            agent("Hello, how can I help you?"),
            customer("I want to update my address."),
            agent("Sure, can you give me your full name please?"),
            customer("Jane Doe."),
            agent("Let me check your account. Could you confirm your email address?"),
            customer("jane@example.com"),
            agent("Done, your address has been updated."),
        ]
    )
    assert draft.action_items == []


# --------------------------------------------------------------------------- sentiment


def test_furious_customer_is_negative() -> None:
    draft = analyze(
        [
            agent("Thank you for calling, how can I help?"),
            customer(
                "My internet has been down for three days. This is unacceptable, I'm furious."
            ),
            agent("I'm sorry to hear that."),
        ]
    )
    assert draft.sentiment == "negative"


def test_grateful_customer_is_positive() -> None:
    draft = analyze(
        [
            customer("I couldn't log in to the app."),
            agent("I've reset your password, please try again."),
            customer("It works now, thank you so much! You've been really helpful, this is great."),
        ]
    )
    assert draft.sentiment == "positive"


def test_negation_flips_sentiment() -> None:
    assert (
        analyze([customer("I am not happy with this service at all, it is not good.")]).sentiment
        == "negative"
    )
    assert (
        analyze([customer("The delivery was not bad, no problem at all.")]).sentiment != "negative"
    )


def test_strong_praise_and_strong_anger_is_mixed() -> None:
    draft = analyze(
        [
            customer("The product itself is excellent, I love it, the design is amazing."),
            customer(
                "But the delivery was terrible, the courier was rude and I'm really angry about it."
            ),
            agent("I understand."),
        ]
    )
    assert draft.sentiment == "mixed"


def test_factual_call_is_neutral() -> None:
    draft = analyze(
        [
            customer("What time does the branch on Main Street open on Saturday?"),
            agent("It opens at 9 am on Saturdays and closes at 1 pm."),
            customer("Okay."),
        ]
    )
    assert draft.sentiment == "neutral"


# --------------------------------------------------------------------------- outcome


def test_transfer_to_supervisor_is_escalated() -> None:
    draft = analyze(
        [
            customer("I have been charged a late fee three times and nobody fixes it."),
            agent("I understand. I'm not able to remove the fee myself."),
            agent("Let me transfer you to my supervisor who can review the charges."),
            customer("Fine."),
        ]
    )
    assert draft.outcome == "escalated"


def test_fixed_problem_is_resolved() -> None:
    draft = analyze(
        [
            customer("My router keeps dropping the connection."),
            agent("I've pushed a firmware update to it, can you restart it now?"),
            customer("Yes, it works now. That fixed it, thanks. That's all I needed."),
            agent("Glad to hear it, have a great day."),
        ]
    )
    assert draft.outcome == "resolved"


def test_purchase_is_sale() -> None:
    draft = analyze(
        [
            agent("The premium plan is 30 dollars a month and includes unlimited data."),
            customer("Sounds good, sign me up. I'll take it."),
            agent("Great, I've placed your order, your order is confirmed."),
        ]
    )
    assert draft.outcome == "sale"
    assert any("30 dollars" in note for note in draft.notes)


def test_promise_to_call_back_is_follow_up() -> None:
    draft = analyze(
        [
            customer("My replacement part has not arrived yet."),
            agent(
                "I need to check with the warehouse. I'll call you back tomorrow with an update."
            ),
            customer("Okay."),
        ],
        started_at=TUESDAY,
    )
    assert draft.outcome == "follow-up needed"
    assert draft.action_items and draft.action_items[0].due == "2026-11-18"


def test_voicemail_greeting_is_voicemail() -> None:
    draft = analyze(
        [
            TurnIn(
                role="unknown",
                text="Hi, you've reached Sam. I'm not available to take your call, "
                "please leave a message after the tone.",
            )
        ]
    )
    assert draft.outcome == "voicemail"


def test_outcome_maps_onto_custom_labels() -> None:
    turns = [customer("I'll take it, please place the order."), agent("Your order is confirmed.")]
    draft = analyze(turns, outcome_labels=["Won", "Lost", "Callback"])
    assert draft.outcome == "Won"
    draft = analyze([customer("Hello?")], outcome_labels=["Won", "Lost", "Callback"])
    assert draft.outcome in ("Won", "Lost", "Callback")


# --------------------------------------------------------------------------- subject, summary


def test_subject_comes_from_the_customer_request() -> None:
    draft = analyze(
        [
            agent("Good morning, Acme Bank, how can I help you?"),
            customer("Hi, I need a new debit card because mine was stolen yesterday."),
            agent("I'm sorry to hear that. I've blocked the old card and ordered a new one."),
        ]
    )
    assert "debit card" in draft.subject.lower()
    assert len(draft.subject) <= 80
    assert draft.summary.startswith("The customer needs a new debit card")


def test_summary_is_short_for_a_short_call_and_grows_with_length() -> None:
    short = analyze(
        [customer("I want to cancel my subscription."), agent("Done, it is cancelled.")]
    )
    _, meeting = qmsum_meetings()[0]
    long = analyze(meeting)
    assert 1 <= short.summary.count(".") <= 3
    assert len(long.summary) > len(short.summary)


def test_amounts_and_dates_are_noted() -> None:
    draft = analyze(
        [
            customer(
                "I was billed $129.99 on October 5th instead of the usual 15% discount price."
            ),
            agent("I see it, the refund will arrive within 3 business days."),
        ]
    )
    joined = " ".join(draft.notes)
    assert "$129.99" in joined and "October 5th" in joined and "15%" in joined
    assert "within 3 business days" in joined


# --------------------------------------------------------------------------- registry


def test_registry_gives_local_analyzer_by_default() -> None:
    analyzer = get_analyzer(AnalyzerConfig())
    assert analyzer.name == "local"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(CallscribeError) as info:
        get_analyzer(AnalyzerConfig(engine="telepathy"))
    assert info.value.code == "analyzer_unknown"


@pytest.mark.parametrize("key", [None, "", "   "])
def test_llm_engine_without_key_is_key_missing(key: str | None) -> None:
    with pytest.raises(AnalyzerKeyMissing) as info:
        get_analyzer(AnalyzerConfig(engine="openai", api_key=key))
    assert info.value.code == "ai_key_missing"


def test_config_repr_hides_the_key() -> None:
    assert "sk-secret-123" not in repr(AnalyzerConfig(engine="openai", api_key="sk-secret-123"))


def test_config_from_settings_takes_ai_timeout_and_retries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CALLSCRIBE_AI_TIMEOUT_S", "7.5")
    monkeypatch.setenv("CALLSCRIBE_AI_MAX_RETRIES", "4")
    reset_settings()
    try:
        config = AnalyzerConfig.from_settings(engine="openai", api_key="k")
    finally:
        reset_settings()
    assert (config.timeout_s, config.max_retries, config.engine) == (7.5, 4, "openai")


def test_hours_long_meeting_is_still_summarized() -> None:
    # all twelve QMSum meetings back to back: about 8 hours, 6,000 turns
    turns = [turn for _, meeting in qmsum_meetings() for turn in meeting]
    draft = analyze(turns)
    assert draft.summary and 2 <= len(draft.sections[0].bullets) <= 5
    assert "remote" in (draft.subject + " ".join(draft.tags)).lower()


# --------------------------------------------------------------- text fixes (issue 18)


def test_a_time_written_with_a_dot_stays_whole_in_the_notes() -> None:
    draft = analyze(
        [
            agent("Thanks for calling, how can I help?"),
            customer("Can you call me back at 3.30 pm tomorrow about my order?"),
            agent("Sure, I will call you at 4:15 p.m. then."),
        ]
    )
    times = [n for n in draft.notes if n.startswith("Time")]
    assert any(": 3.30 pm —" in n for n in times), draft.notes
    assert any(": 4:15 p.m. —" in n for n in times), draft.notes
    assert not any(": 30 pm" in n for n in times), draft.notes


def test_the_subject_keeps_the_capitals_of_names_in_the_transcript() -> None:
    """GIVEN a meeting whose topics are a place name ("New Jersey") WHEN the subject is
    built from its (lowercased) tags THEN the place keeps its capitals."""
    draft = analyze(
        [
            agent("Welcome everyone, today we review the New Jersey office move."),
            agent("The New Jersey lease ends in March and the New Jersey team needs desks."),
            agent("We also discuss the budget for the New Jersey office."),
        ],
        channel="meeting",
    )
    assert "New Jersey" in draft.subject, draft.subject
    assert "jersey" not in draft.subject


def test_the_outcome_is_the_company_label_as_written() -> None:
    draft = analyze(
        [
            agent("Thanks for calling, how can I help?"),
            customer("My router keeps dropping the connection."),
            agent("I will send a technician on Monday and call you back after that."),
        ],
        outcome_labels=["Fixed", "Follow-up needed", "Sent to tier 2"],
    )
    assert draft.outcome == "Follow-up needed"
