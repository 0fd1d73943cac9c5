"""Slack: the Block Kit message a real local receiver accepts under Slack's documented
limits, for an ordinary call and for one far over every limit."""

from __future__ import annotations

import json
import uuid

import pytest

from callscribe.delivery import slack
from callscribe.delivery.senders import Message, Target
from callscribe.delivery.webhook import encode_body
from tests.delivery.conftest import (
    Receiver,
    Recorded,
    Reply,
    add_automation,
    attempts_of,
    deliveries_of,
    processed_call,
)
from tests.delivery.slack_validator import check_request, validate


def slack_receiver() -> Receiver:
    def check(request: Recorded) -> Reply:
        status, body, errors = check_request(request.body)
        request.errors = errors  # type: ignore[attr-defined]
        return Reply(status=status, body=body)

    return Receiver(check=check)


def huge_body() -> dict:
    words = ("refund invoice duplicate <charge> & settings " * 600)[:20_000]
    return {
        "event": "call.completed",
        "call": {
            "id": str(uuid.uuid4()),
            "agent_name": "A" * 500,
            "direction": "inbound",
            "duration_sec": 3725,
            "status": "completed",
        },
        "minutes": {
            "subject": "Very long subject about a billing dispute " * 10,
            "summary": words,
            "sentiment": "negative",
            "outcome": "escalated",
            "sections": [],
        },
        "action_items": [
            {"title": f"Follow up on item {n}: " + "x" * 250, "priority": "high", "status": "open"}
            for n in range(60)
        ],
    }


def test_limits_hold_for_60_action_items_and_a_20000_char_summary() -> None:
    body = huge_body()
    assert len(body["minutes"]["summary"]) == 20_000
    message = slack.build_message(body, {"call_url": "https://cs.example.com/calls/1"})
    assert validate(message) == []
    header = message["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    summary = next(b for b in message["blocks"] if "Summary" in b.get("text", {}).get("text", ""))
    assert summary["text"]["text"].endswith("…")
    assert "&lt;charge&gt; &amp;" in summary["text"]["text"]
    shown = sum(
        b["text"]["text"].count("• [")
        for b in message["blocks"]
        if b["type"] == "section" and "text" in b
    )
    more = [b for b in message["blocks"] if b["type"] == "context"]
    left = int(more[0]["elements"][0]["text"].split()[1]) if more else 0
    assert shown + left == 60 and shown > 0


def test_huge_call_is_accepted_by_a_slack_like_receiver(private_urls: None) -> None:
    receiver = slack_receiver()
    try:
        target = Target(kind="slack", name="s", url=receiver.url)
        message = Message(uuid.uuid4(), "call.completed", encode_body(huge_body()))
        result = slack.SlackSender().send(target, message)
        (request,) = receiver.requests
        assert request.errors == []  # type: ignore[attr-defined]
        assert result.ok and result.http_status == 200 and result.response == "ok"
    finally:
        receiver.close()


def test_the_validator_catches_what_slack_refuses() -> None:
    assert validate(
        {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}
    )
    assert validate(
        {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}
    )
    assert validate({"blocks": [{"type": "divider"}] * 51})
    fields = [{"type": "mrkdwn", "text": "f"}] * 11
    assert validate({"blocks": [{"type": "section", "fields": fields}]})


@pytest.mark.parametrize("text", ["a & b <c>", "x" * 3100, "word " * 700, "&" * 3000])
def test_fit_escapes_and_cuts_within_the_limit(text: str) -> None:
    out = slack.fit(text, 3000)
    assert len(out) <= 3000
    assert "<" not in out and ">" not in out


def test_real_call_delivered_to_slack_receiver(app_env: dict[str, str], company) -> None:  # type: ignore[no-untyped-def]
    from callscribe.delivery import service

    receiver = slack_receiver()
    try:
        automation_id = add_automation(company, kind="slack", url=receiver.url)
        call_id = processed_call(company)
        (delivery,) = deliveries_of(automation_id)
        assert service.attempt_delivery(delivery.id) is None
        (request,) = receiver.requests
        assert request.errors == []  # type: ignore[attr-defined]
        payload = json.loads(request.body)
        text = json.dumps(payload)
        assert f"/calls/{call_id}" in text
        assert "Pat Customer" in text
        assert attempts_of(delivery.id)[0].response == "ok"
    finally:
        receiver.close()


def test_call_with_60_action_items_and_20000_char_summary_passes_slack_limits(
    app_env: dict[str, str],
    company,  # type: ignore[no-untyped-def]
) -> None:
    """GIVEN a processed call whose Minutes grew to a 20,000-character summary and 60
    action items
    WHEN it is delivered to a Slack automation
    THEN the Slack-like receiver accepts the message: every limit holds."""
    from sqlalchemy import delete

    from callscribe.calls.models import ActionItem, Minutes
    from callscribe.db import session_scope
    from callscribe.delivery import service

    call_id = processed_call(company)
    with session_scope() as s:
        minutes = s.get(Minutes, call_id)
        minutes.summary = ("The customer disputed a charge & asked <why>. " * 500)[:20_000]
        minutes.subject = "Subject " * 37  # the column holds 300; the header takes 150
        s.execute(delete(ActionItem).where(ActionItem.engagement_id == call_id))
        for n in range(60):
            s.add(
                ActionItem(
                    company_id=company.id,
                    engagement_id=call_id,
                    seq=n,
                    title=f"Action {n}: " + "call back about the refund " * 10,
                    priority=("high", "medium", "low")[n % 3],
                )
            )
    receiver = slack_receiver()
    try:
        automation_id = add_automation(company, kind="slack", url=receiver.url)
        with session_scope() as s:
            (delivery_id,) = service.create_deliveries_for_call(s, call_id)
        assert service.attempt_delivery(delivery_id) is None
        (request,) = receiver.requests
        assert request.errors == []  # type: ignore[attr-defined]
        assert deliveries_of(automation_id)[0].status == "succeeded"
        payload = json.loads(request.body)
        assert "Action items (60)" in json.dumps(payload)
        assert len(payload["blocks"]) <= 50
    finally:
        receiver.close()


def test_markup_in_a_subject_and_fields_arrives_escaped_exactly_once(private_urls: None) -> None:
    """Issue 17 #19: Slack fields were escaped twice, so `&lt;b&gt;` showed literally.
    GIVEN a subject, an agent, an outcome and a customer containing `<b>&`
    WHEN the message reaches the Slack-like receiver (which refuses unescaped mrkdwn)
    THEN every mrkdwn text renders the original characters: escaped once, not twice."""
    from tests.delivery.slack_validator import render_mrkdwn

    raw = "<b>&"
    body = huge_body()
    body["call"]["agent_name"] = f"Dana {raw}"
    body["minutes"].update(subject=f"Refund {raw} invoice", outcome=f"resolved {raw}")
    body["minutes"]["summary"] = f"Summary with {raw} inside."
    body["action_items"] = [{"title": f"Send {raw}", "priority": "high", "status": "open"}]
    receiver = slack_receiver()
    try:
        target = Target(kind="slack", name="s", url=receiver.url)
        context = {"customer_name": f"Pat {raw}", "call_url": "https://cs.example.com/c/1"}
        message = Message(uuid.uuid4(), "call.completed", encode_body(body), context=context)
        assert slack.SlackSender().send(target, message).ok
        (request,) = receiver.requests
        assert request.errors == []  # type: ignore[attr-defined]
        payload = request.json()
    finally:
        receiver.close()
    assert "&amp;lt;" not in request.body.decode() and "&amp;amp;" not in request.body.decode()
    header, fields = payload["blocks"][0], payload["blocks"][1]["fields"]
    assert header["text"] == {"type": "plain_text", "text": f"Refund {raw} invoice"}
    shown = [render_mrkdwn(f["text"]) for f in fields]
    assert f"*Agent*\nDana {raw}" in shown
    assert f"*Outcome*\nresolved {raw}" in shown
    assert f"*Customer*\nPat {raw}" in shown
    assert render_mrkdwn(payload["text"]).startswith(f"Refund {raw} invoice")
    texts = [render_mrkdwn(b["text"]["text"]) for b in payload["blocks"] if "text" in b]
    assert f"*Summary*\nSummary with {raw} inside." in texts
    assert any(f"Send {raw}" in t for t in texts)
