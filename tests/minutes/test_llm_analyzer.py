"""The OpenAI-compatible analyzer against a real HTTP server on 127.0.0.1 that speaks
the chat-completions protocol (tests/minutes/conftest.py: ChatServer)."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from callscribe.minutes.analyzers import (
    PRESETS,
    AnalyzerConfig,
    AnalyzerFailed,
    AnalyzerKeyRefused,
    get_analyzer,
)
from callscribe.minutes.analyzers.openai import OpenAIAnalyzer, minutes_json_schema
from callscribe.minutes.schemas import AnalysisContext, MinutesDraft, TurnIn

from .conftest import ChatServer, Reply, completion

KEY = "sk-test-Zq8v3Kp1secretvalue"

VALID: dict[str, Any] = {
    "subject": "Replacement debit card",
    "summary": "The customer lost their debit card. The agent ordered a replacement.",
    "overview": "Bank call between an agent and a customer.",
    "sentiment": "positive",
    "outcome": "resolved",
    "sections": [{"heading": "Customer request", "bullets": ["Lost debit card"]}],
    "action_items": [
        {
            "title": "Mail the new card",
            "priority": "medium",
            "status": "open",
            "owner": "agent",
            "due": "2026-11-20",
        }
    ],
    "notes": ["Card ending 4421"],
    "tags": ["debit card", "replacement"],
}

SMALL: dict[str, Any] = dict(
    VALID, summary="Part.", overview="", sections=[], action_items=[], tags=[]
)

TURNS = [
    TurnIn(role="agent", text="Harper Valley bank, how can I help?", start_ms=1200),
    TurnIn(role="customer", text="I lost my debit card and need a new one.", start_ms=65000),
    TurnIn(
        role="agent", text="I've ordered a replacement; I'll mail it by Friday.", start_ms=71000
    ),
]


def analyzer(server: ChatServer, **overrides: Any) -> OpenAIAnalyzer:
    config = AnalyzerConfig(
        engine="openai",
        base_url=server.base_url,
        model="test-model",
        api_key=KEY,
        timeout_s=overrides.pop("timeout_s", 5),
        max_retries=overrides.pop("max_retries", 2),
        **overrides,
    )
    built = get_analyzer(config)
    assert isinstance(built, OpenAIAnalyzer)
    built.backoff_cap_s = 0.05  # keep retry waits short in tests
    return built


def user_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def test_valid_structured_answer_becomes_minutes(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(body=completion(json.dumps(VALID)))
    context = AnalysisContext(
        started_at=datetime(2026, 11, 17, 9, 0, tzinfo=UTC), agent_name="Elizabeth"
    )
    draft = analyzer(chat_server).analyze(TURNS, context)

    assert isinstance(draft, MinutesDraft)
    assert draft.model_dump() == MinutesDraft.model_validate(VALID).model_dump()
    assert len(chat_server.requests) == 1
    request = chat_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "minutes" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(MinutesDraft.model_fields) == set(schema["properties"])
    assert schema["properties"]["outcome"]["enum"] == context.outcome_labels
    item_schema = schema["properties"]["action_items"]["items"]
    assert (
        set(item_schema["required"]) == set(item_schema["properties"])
        and item_schema["additionalProperties"] is False
    )
    assert body["messages"][0]["role"] == "system"
    assert (
        "2026-11-17" in body["messages"][0]["content"]
        and "Elizabeth" in body["messages"][0]["content"]
    )
    text = user_text(body)
    assert "[00:01] Agent: Harper Valley bank, how can I help?" in text
    assert "[01:05] Customer: I lost my debit card and need a new one." in text


def test_schema_sent_to_the_model_accepts_exactly_minutes_drafts() -> None:
    schema = minutes_json_schema(["resolved"])
    # every field of every object is required and nothing else is allowed (strict mode rules)
    for obj in (
        schema,
        schema["properties"]["sections"]["items"],
        schema["properties"]["action_items"]["items"],
    ):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    MinutesDraft.model_validate(VALID)


def test_malformed_then_valid_answer_succeeds_with_two_requests(chat_server: ChatServer) -> None:
    answers = [completion('{"subject": "Cut off'), completion(json.dumps(VALID))]
    chat_server.responder = lambda body, n: Reply(body=answers[min(n, 2) - 1])
    draft = analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert draft.subject == "Replacement debit card"
    assert len(chat_server.requests) == 2
    retry_messages = chat_server.requests[1].body["messages"]
    assert retry_messages[-2] == {"role": "assistant", "content": '{"subject": "Cut off'}
    assert "not valid" in retry_messages[-1]["content"]


def test_schema_violation_is_sent_back_to_the_model(chat_server: ChatServer) -> None:
    wrong = dict(VALID, sentiment="ecstatic")
    answers = [completion(json.dumps(wrong)), completion(json.dumps(VALID))]
    chat_server.responder = lambda body, n: Reply(body=answers[min(n, 2) - 1])
    analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert "sentiment" in chat_server.requests[1].body["messages"][-1]["content"]


def test_always_malformed_answer_fails_after_max_retries_plus_one(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(
        body=completion("Sure! Here are the minutes: ...")
    )
    with pytest.raises(AnalyzerFailed) as info:
        analyzer(chat_server, max_retries=2).analyze(TURNS, AnalysisContext())
    assert len(chat_server.requests) == 3
    assert info.value.code == "analysis_failed"
    assert "3 attempts" in info.value.message
    assert KEY not in str(info.value)


def test_slow_endpoint_fails_with_timeout_message(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(body=completion(json.dumps(VALID)), delay_s=1.5)
    with pytest.raises(AnalyzerFailed) as info:
        analyzer(chat_server, timeout_s=0.3, max_retries=1).analyze(TURNS, AnalysisContext())
    assert "timed out after 0.3 s" in info.value.message
    assert len(chat_server.requests) == 2


def test_refused_key_fails_at_once_without_showing_the_key(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {KEY}",
                "type": "invalid_request_error",
            }
        },
    )
    with pytest.raises(AnalyzerFailed) as info:
        analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert isinstance(info.value, AnalyzerKeyRefused)
    assert len(chat_server.requests) == 1  # no retry
    assert "key" in info.value.message.lower() and "401" in info.value.message
    assert KEY not in str(info.value) and KEY not in repr(info.value.to_dict())


def test_bad_request_body_is_reported_with_the_key_scrubbed(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(
        400, {"error": {"message": f"response_format unsupported for {KEY}"}}
    )
    with pytest.raises(AnalyzerFailed) as info:
        analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert "response_format unsupported" in info.value.message
    assert KEY not in info.value.message
    assert len(chat_server.requests) == 1


def test_rate_limit_is_retried_honouring_retry_after(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: (
        Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
        if n == 1
        else Reply(body=completion(json.dumps(VALID)))
    )
    draft = analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert draft.outcome == "resolved"
    assert len(chat_server.requests) == 2


def test_server_errors_fail_after_retries(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(503, {"error": {"message": "overloaded"}})
    with pytest.raises(AnalyzerFailed) as info:
        analyzer(chat_server, max_retries=1).analyze(TURNS, AnalysisContext())
    assert "HTTP 503" in info.value.message
    assert len(chat_server.requests) == 2


def test_unreachable_endpoint_fails_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = AnalyzerConfig(
        engine="openai", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0
    )
    with pytest.raises(AnalyzerFailed) as info:
        get_analyzer(config).analyze(TURNS, AnalysisContext())
    assert "unreachable" in info.value.message
    assert KEY not in info.value.message


def test_outcome_outside_the_labels_is_coerced_to_the_closest(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(
        body=completion(json.dumps(dict(VALID, outcome="Escalation")))
    )
    draft = analyzer(chat_server).analyze(TURNS, AnalysisContext())
    assert draft.outcome == "escalated"


def test_answer_in_code_fences_is_accepted(chat_server: ChatServer) -> None:
    chat_server.responder = lambda body, n: Reply(
        body=completion("```json\n" + json.dumps(VALID) + "\n```")
    )
    assert (
        analyzer(chat_server).analyze(TURNS, AnalysisContext()).subject == "Replacement debit card"
    )


def test_long_transcript_is_mapped_in_chunks_then_reduced_without_losing_text(
    chat_server: ChatServer,
) -> None:
    turns = [
        TurnIn(
            role=("agent", "customer")[i % 2],
            text=f"Marker M{i:03d} says the topic number {i} matters a lot to us.",
            start_ms=i * 4000,
        )
        for i in range(60)
    ]
    # one turn longer than a chunk on its own: it is split, not cut
    turns.append(
        TurnIn(role="customer", text=" ".join(f"W{j:04d}" for j in range(400)), start_ms=999000)
    )

    def respond(body: dict[str, Any], n: int) -> Reply:
        text = user_text(body)
        if "partial minutes" in text:
            return Reply(body=completion(json.dumps(dict(VALID, subject="Merged"))))
        return Reply(
            body=completion(json.dumps(dict(SMALL, subject=f"Part {n}", notes=[f"note {n}"])))
        )

    chat_server.responder = respond
    draft = analyzer(chat_server, max_chunk_chars=1000).analyze(turns, AnalysisContext())

    assert draft.subject == "Merged"
    maps = [r for r in chat_server.requests if "partial minutes" not in user_text(r.body)]
    reduces = [r for r in chat_server.requests if "partial minutes" in user_text(r.body)]
    assert len(maps) >= 5 and len(reduces) == 1
    assert chat_server.requests[-1] is reduces[0]
    map_text = "\n".join(user_text(r.body) for r in maps)
    for i in range(60):
        assert f"Marker M{i:03d} says the topic number {i} matters a lot to us." in map_text
    words = re.findall(r"W\d{4}", map_text)
    assert words == [f"W{j:04d}" for j in range(400)]
    for r in maps:  # chunks respect the budget (plus the fixed instruction text)
        transcript = user_text(r.body).split(":\n", 1)[1]
        assert len(transcript) <= 1000
    reduce_text = user_text(reduces[0].body)
    for n in range(1, len(maps) + 1):
        assert f'"subject":"Part {n}"' in reduce_text
    assert all(r.body["response_format"]["type"] == "json_schema" for r in chat_server.requests)


def test_many_large_partials_are_merged_in_rounds(chat_server: ChatServer) -> None:
    turns = [TurnIn(role="customer", text=f"Sentence {i} " + "x" * 180) for i in range(40)]
    big_notes = [f"fact {j} " + "y" * 60 for j in range(6)]

    def respond(body: dict[str, Any], n: int) -> Reply:
        if "partial minutes" in user_text(body):
            return Reply(
                body=completion(json.dumps(dict(VALID, subject=f"Merge {n}", notes=big_notes)))
            )
        return Reply(body=completion(json.dumps(dict(VALID, notes=big_notes))))

    chat_server.responder = respond
    draft = analyzer(chat_server, max_chunk_chars=600).analyze(turns, AnalysisContext())
    reduces = [r for r in chat_server.requests if "partial minutes" in user_text(r.body)]
    assert len(reduces) >= 2
    assert draft.subject == f"Merge {len(chat_server.requests)}"  # the last call merged the merges
    assert all(len(user_text(r.body)) < 2 * 600 + 2000 for r in reduces)


def test_empty_transcript_asks_nothing(chat_server: ChatServer) -> None:
    draft = analyzer(chat_server).analyze([], AnalysisContext())
    assert draft.subject == "Empty call"
    assert chat_server.requests == []


def test_presets_name_known_providers() -> None:
    built = OpenAIAnalyzer(AnalyzerConfig(engine="openai", base_url="mistral", api_key=KEY))
    assert built.base_url == PRESETS["mistral"]
    assert built.model == "mistral-small-latest"
    assert (
        OpenAIAnalyzer(AnalyzerConfig(engine="openai", api_key=KEY)).base_url == PRESETS["openai"]
    )


def test_the_prompt_sent_to_the_model_carries_masked_pii(chat_server: ChatServer) -> None:
    """GIVEN turns with a card number, a phone, an email and the customer's name
    THEN the request to the external model holds the labels, not the values."""
    chat_server.responder = lambda body, n: Reply(body=completion(json.dumps(VALID)))
    turns = [
        TurnIn(role="agent", text="Can I have the card number and a phone?", start_ms=0),
        TurnIn(
            role="customer",
            speaker="Pat Minh",
            text="4111 1111 1111 1111, and 415-555-0198, or pat.minh@example.com",
            start_ms=4000,
        ),
    ]
    context = AnalysisContext(agent_name="Elizabeth", customer_name="Pat Minh")
    analyzer(chat_server).analyze(turns, context)
    sent = json.dumps(chat_server.requests[0].body)
    for value in ("4111", "555-0198", "pat.minh", "example.com", "Pat Minh"):
        assert value not in sent, value
    text = user_text(chat_server.requests[0].body)
    assert "Customer: [card], and [phone], or [email]" in text
