"""POST /api/engagements/{id}/ask: the LLM engine against a local OpenAI-protocol server
when the company has an AI endpoint, else the local extractive engine."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.journey.conftest import T0, chat_messages, customer, ticket
from tests.minutes.conftest import ChatServer, Reply, completion


@pytest.fixture
def chat_server():  # type: ignore[no-untyped-def]
    server = ChatServer().start()
    try:
        yield server
    finally:
        server.stop()


def _chat(client) -> str:  # type: ignore[no-untyped-def]
    return ticket(
        client,
        {
            "channel": "chat",
            "external_id": "abcd-3592",
            "agent": {"email": "sam@example.com", "name": "Sam Agent"},
            "customer": customer(),
            "messages": chat_messages(0, T0),
        },
    )


def _turns(call_id: str) -> dict[int, str]:
    import uuid

    from callscribe.calls import service
    from callscribe.db import session_scope

    with session_scope() as s:
        return {t.id: t.text for t in service.list_turns(s, uuid.UUID(call_id))}


def test_local_engine_answers_extractively_from_the_engagements_own_turns(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    with api_server.client(headers=company.headers) as client:
        call_id = _chat(client)
        turns = _turns(call_id)
        r = client.post(
            f"/api/engagements/{call_id}/ask",
            json={"prompt": "What is the order ID?", "detail": "concise"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["engine"] == "local"
        assert "extractive" in body["answer"].lower()
        assert 1 <= len(body["sources"]) <= 2 and set(body["sources"]) <= set(turns)
        assert any("Order ID: 3348917502" in turns[i] for i in body["sources"])
        assert "Order ID: 3348917502" in body["answer"]
        broad = "What about the return, the order and the size?"
        concise = client.post(f"/api/engagements/{call_id}/ask", json={"prompt": broad}).json()
        detailed = client.post(
            f"/api/engagements/{call_id}/ask", json={"prompt": broad, "detail": "detailed"}
        ).json()
        assert len(concise["sources"]) == 2 and len(detailed["sources"]) == 5
        assert detailed["sources"] == sorted(detailed["sources"])  # in the order said
        nothing = client.post(
            f"/api/engagements/{call_id}/ask", json={"prompt": "zebra xylophone"}
        ).json()
        assert nothing["sources"] == [] and "no turn" in nothing["answer"].lower()
        # bad input: 4xx with a message
        assert (
            client.post(f"/api/engagements/{call_id}/ask", json={"prompt": ""}).status_code == 422
        )
        assert (
            client.post(
                f"/api/engagements/{call_id}/ask", json={"prompt": "x", "detail": "long"}
            ).status_code
            == 422
        )
        assert client.post("/api/engagements/nope/ask", json={"prompt": "x"}).status_code == 404
        assert client.post(f"/api/engagements/{call_id}/ask", content=b"{").status_code in (
            400,
            422,
        )


def test_llm_engine_answers_through_the_companys_endpoint(
    api_server: LiveServer, company: CompanyCtx, chat_server: ChatServer
) -> None:
    """GIVEN the company's AI endpoint is a local OpenAI-protocol server
    THEN the question and the transcript (turn ids, participants) go to it, the answer
    comes back with engine llm, and only sources that are turns of this engagement."""
    with api_server.client(headers=company.headers) as client:
        call_id = _chat(client)
        turns = _turns(call_id)
        order_turn = next(i for i, t in turns.items() if "3348917502" in t)
        chat_server.responder = lambda body, n: Reply(
            200,
            completion(
                json.dumps(
                    {"answer": "The order ID is 3348917502.", "sources": [order_turn, 999999]}
                )
            ),
        )
        r = client.put(
            "/api/settings/ai",
            json={
                "ai_engine": "openai",
                "ai_provider": "custom",
                "ai_base_url": chat_server.base_url,
                "ai_model": "test-model",
                "ai_api_key": "sk-test-journey-secret",
            },
        )
        assert r.status_code == 200, r.text
        r = client.post(
            f"/api/engagements/{call_id}/ask",
            json={"prompt": "What is the order ID?", "detail": "detailed"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "answer": "The order ID is 3348917502.",
            "engine": "llm",
            "sources": [order_turn],
        }
        (request,) = chat_server.requests
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer sk-test-journey-secret"
        user = request.body["messages"][-1]["content"]
        assert "Question: What is the order ID?" in user and "in detail" in user
        assert f"[{order_turn}] Customer: Order ID: 3348917502" in user
        assert "Crystal" not in user.split("Transcript:")[1].split(":")[0]
        assert request.body["response_format"]["type"] == "json_schema"
        # the endpoint failing: a 502 with a message, no key in it
        chat_server.responder = lambda body, n: Reply(500, {"error": "down"})
        failed = client.post(f"/api/engagements/{call_id}/ask", json={"prompt": "Why?"})
        assert failed.status_code == 502
        assert "sk-test" not in failed.text and failed.json()["error"]["message"]
