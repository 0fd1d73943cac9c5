"""Write-time PII redaction: the patterns, the pipeline's Redact step, and a call of a
company with `redact_pii` on that ends with no PII in its turns or its minutes."""

from __future__ import annotations

import json
import uuid

import pytest

from callscribe.privacy.redaction import redact_text
from tests.conftest import CompanyCtx, insert_text_engagement

CARD = "4111 1111 1111 1111"  # Luhn-valid test card
NOT_LUHN = "4111 1111 1111 1112"  # 16 digits failing the Luhn check
PHONE = "+1 (415) 555-0142"
EMAIL = "pat.customer+billing@example.co.uk"
SSN = "078-05-1120"
PII = (CARD, NOT_LUHN, PHONE, EMAIL, SSN, "4111", "0142", "@", "1120")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my card is {CARD} thanks", "my card is [card] thanks"),
        ("card 4111-1111-1111-1111 ok", "card [card] ok"),
        ("4111111111111111", "[card]"),
        ("amex 378282246310005", "amex [card]"),  # 15 digits
        # no Luhn check: a misread or mistyped card number is still one the caller said
        (f"or {NOT_LUHN}", "or [card]"),
        (f"ssn {SSN}.", "ssn [ssn]."),
        (f"write to {EMAIL} please", "write to [email] please"),
        (f"call me on {PHONE} tomorrow", "call me on [phone] tomorrow"),
        ("or 415.555.0142", "or [phone]"),
        ("extension 0142 and order 12345", "extension 0142 and order 12345"),
        ("refund of 49 dollars on March 3rd", "refund of 49 dollars on March 3rd"),
    ],
)
def test_redact_text_replaces_each_kind_of_pii_by_its_label(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redacting_redacted_text_changes_nothing() -> None:
    once = redact_text(f"{CARD}, {SSN}, {EMAIL}, {PHONE}")
    assert once == "[card], [ssn], [email], [phone]"
    assert redact_text(once) == once


TURNS = [
    ("agent", "Thank you for calling Northwind billing, this is Dana. How can I help?"),
    ("customer", f"I was charged twice. My card number is {CARD}."),
    ("agent", "I'm sorry. Can I have your email and a phone number to reach you?"),
    ("customer", f"Sure, it's {EMAIL} and my phone is {PHONE}."),
    ("agent", f"Thanks. For verification, is your social security number {SSN}?"),
    ("customer", f"Yes. Also my old card {NOT_LUHN} was cancelled last month."),
    ("agent", "I will refund the duplicate charge and send you a confirmation email today."),
    ("customer", "Perfect, thank you so much for your help, goodbye."),
]


def _text_call(company: CompanyCtx, *, redact_pii: bool) -> uuid.UUID:
    """A text engagement in `received` with its turns stored as they came (a transcript
    written before the company turned redaction on, or a retried call)."""
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    with session_scope() as s:
        accounts.get_company_settings(s, company.id).redact_pii = redact_pii
    return insert_text_engagement(company.id, TURNS, turn_ms=4000)


def _stored(call_id: uuid.UUID) -> tuple[list[str], str]:
    """The call's turn texts and its minutes and action items, as one JSON text."""
    from sqlalchemy import select

    from callscribe.calls.models import ActionItem, Minutes, Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        turns = [
            t.text
            for t in s.scalars(select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.seq))
        ]
        minutes = s.get(Minutes, call_id)
        assert minutes is not None
        items = s.scalars(select(ActionItem).where(ActionItem.engagement_id == call_id))
        produced = {
            "subject": minutes.subject,
            "summary": minutes.summary,
            "overview": minutes.overview,
            "sections": minutes.sections,
            "notes": minutes.notes,
            "tags": minutes.tags,
            "items": [[i.title, i.owner, i.due] for i in items],
        }
    return turns, json.dumps(produced)


def test_redact_step_replaces_the_text_of_the_turns(company: CompanyCtx) -> None:
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.steps import Redact

    call_id = _text_call(company, redact_pii=True)
    ctx = load_context(call_id)
    step = Redact()
    assert step.applies(ctx)
    step.run(ctx)
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        stored = [
            t.text
            for t in s.scalars(select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.seq))
        ]
    assert stored == [redact_text(text) for _, text in TURNS]
    assert stored[1] == "I was charged twice. My card number is [card]."
    assert stored[3] == "Sure, it's [email] and my phone is [phone]."
    assert [t.text for t in ctx.turns or []] == stored  # the context holds the new text


def test_call_of_a_company_with_redact_pii_ends_with_no_pii_in_turns_or_minutes(
    company: CompanyCtx,
) -> None:
    from callscribe.pipeline.runner import process_call

    call_id = _text_call(company, redact_pii=True)
    assert process_call(call_id) == "completed"
    turns, minutes = _stored(call_id)
    assert len(turns) == len(TURNS)
    for value in PII:
        assert not any(value in text for text in turns), value
        assert value not in minutes, value
    assert "[card]" in turns[1] and "[ssn]" in turns[4]
    assert "refund" in minutes.lower()  # the minutes were made, from the redacted text


def test_without_redact_pii_the_turns_are_kept_as_they_came_with_their_spans(
    company: CompanyCtx,
) -> None:
    """GIVEN a company without write-time redaction THEN the text is stored as it came,
    and the PII found in it is stored beside it for read-time masking."""
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from callscribe.privacy.masking import mask_text, spans_from_json

    call_id = _text_call(company, redact_pii=False)
    assert process_call(call_id) == "completed"
    turns, _ = _stored(call_id)
    assert turns == [text for _, text in TURNS]
    with session_scope() as s:
        rows = list(s.scalars(select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.seq)))
        masked = [mask_text(t.text, spans_from_json(t.pii_spans, t.text)) for t in rows]
    assert masked[1] == "I was charged twice. My card number is [card]."
    assert masked[3] == "Sure, it's [email] and my phone is [phone]."


def test_a_chat_of_a_redacting_company_is_stored_masked_at_ingest(
    api_server, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a company with redact_pii on and no worker running
    WHEN a chat arrives through POST /api/tickets
    THEN its turns are stored masked at once, before any pipeline step ran."""
    from sqlalchemy import select

    from callscribe.accounts import service as accounts
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        accounts.get_company_settings(s, company.id).redact_pii = True
    with api_server.client(headers=company.headers) as api:
        answer = api.post(
            "/api/tickets",
            json={
                "channel": "chat",
                "external_id": "chat-redact-1",
                "messages": [
                    {"role": "agent", "text": "What is the security code?"},
                    {"role": "customer", "text": f"737. The card is {CARD}, mail {EMAIL}."},
                ],
            },
        )
    assert answer.status_code == 201, answer.text
    with session_scope() as s:
        call = s.get(Engagement, uuid.UUID(answer.json()["call_id"]))
        assert call is not None and call.status == "received"
        texts = [
            t.text
            for t in s.scalars(select(Turn).where(Turn.engagement_id == call.id).order_by(Turn.seq))
        ]
    assert texts[1] == "[cvv]. The card is [card], mail [email]."
