"""One contract, every analyzer in the registry: what the pipeline relies on,
whichever engine a company configured (the openai engine talks to a local
chat-completions server that answers within the schema it is sent)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from callscribe.minutes.analyzers import ANALYZERS, Analyzer, AnalyzerConfig, get_analyzer
from callscribe.minutes.schemas import AnalysisContext, MinutesDraft, TurnIn

from .conftest import ChatServer, Reply, abcd_dialogues, completion


def schema_following_answer(body: dict[str, Any], n: int) -> Reply:
    """A provider that fills the JSON schema it was sent, echoing the transcript's start."""
    schema = body["response_format"]["json_schema"]["schema"]
    labels = schema["properties"]["outcome"]["enum"]
    first_line = body["messages"][1]["content"].splitlines()[1][:70]
    answer = {
        "subject": first_line,
        "summary": f"The conversation starts with: {first_line}",
        "overview": "",
        "sentiment": "neutral",
        "outcome": labels[-1],
        "sections": [{"heading": "Discussion", "bullets": [first_line]}],
        "action_items": [
            {
                "title": "Follow up",
                "priority": "medium",
                "status": "open",
                "owner": "agent",
                "due": None,
            }
        ],
        "notes": [],
        "tags": ["call"],
    }
    return Reply(body=completion(json.dumps(answer)))


@pytest.fixture(params=sorted(ANALYZERS))
def analyzer(request: pytest.FixtureRequest) -> Iterator[Analyzer]:
    if request.param == "local":
        yield get_analyzer(AnalyzerConfig(engine="local"))
        return
    server = ChatServer().start()
    server.responder = schema_following_answer
    try:
        yield get_analyzer(
            AnalyzerConfig(
                engine=request.param, base_url=server.base_url, api_key="sk-contract", timeout_s=5
            )
        )
    finally:
        server.stop()


class TestAnalyzerContract:
    def test_has_its_registry_name(self, analyzer: Analyzer) -> None:
        assert analyzer.name in ANALYZERS

    def test_real_chat_gives_valid_minutes(self, analyzer: Analyzer) -> None:
        _, turns = abcd_dialogues()[0]
        draft = analyzer.analyze(turns, AnalysisContext())
        assert isinstance(draft, MinutesDraft)
        assert draft.subject and len(draft.subject) <= 80
        assert draft.summary
        assert draft.outcome in AnalysisContext().outcome_labels
        assert len(draft.tags) <= 8

    def test_outcome_is_one_of_custom_labels(self, analyzer: Analyzer) -> None:
        _, turns = abcd_dialogues()[1]
        labels = ["handled", "callback", "lost"]
        assert analyzer.analyze(turns, AnalysisContext(outcome_labels=labels)).outcome in labels

    def test_empty_transcript_is_an_empty_call(self, analyzer: Analyzer) -> None:
        draft = analyzer.analyze([TurnIn(role="agent", text="  ")], AnalysisContext())
        assert draft.subject == "Empty call"
        assert draft.sentiment == "neutral"
        assert draft.outcome == "unresolved"

    def test_same_input_gives_same_minutes(self, analyzer: Analyzer) -> None:
        _, turns = abcd_dialogues()[2]
        context = AnalysisContext(started_at=datetime(2026, 11, 21, tzinfo=UTC))
        assert analyzer.analyze(turns, context) == analyzer.analyze(turns, context)
