"""PII in a chat is masked on every surface that exists for a user without `pii.reveal`
(the call/chat page, the calls API, the action-items API, MD/DOCX/PDF exports, the
webhook body a real receiver gets, Slack and email bodies made from it); a user with
it reveals one value, and that reveal, without the value, is in the audit log that
admins read in the API and on a page."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import CompanyCtx, LiveServer, wait_for_status
from tests.delivery.conftest import Receiver
from tests.web.conftest import (
    WebClient,
    create_user,
    sign_in,
    sign_in_page,
)

CARD = "4111 1111 1111 1111"
PHONE = "415-555-0198"
EMAIL = "pat.minh@example.com"
# what must never show: pieces of each value
LEAKS = ("4111", "1111 1111", "555-0198", "0198", "pat.minh", "@example.com")
MESSAGES = [
    ("customer", "Hi, I want to pay my overdue invoice by card today."),
    ("agent", "Sure, please send me the card number and a way to reach you."),
    ("customer", f"It's {CARD}. Call me on {PHONE} or write to {EMAIL} if it fails."),
    ("agent", f"Thanks, I'll charge {CARD} and email you at {EMAIL} with the receipt today."),
    ("customer", "Great, thank you so much, bye."),
]


def assert_masked(text: str, where: str) -> None:
    for leak in LEAKS:
        assert leak not in text, (
            f"{leak!r} in {where}: {text[max(0, text.find(leak) - 300) : text.find(leak) + 80]!r}"
        )


@dataclass
class Chat:
    server: LiveServer
    company: CompanyCtx
    call_id: str
    webhook_body: dict
    reviewer: WebClient
    manager: WebClient
    admin: WebClient


@pytest.fixture
def chat(live_server: LiveServer, company: CompanyCtx) -> Iterator[Chat]:
    receiver = Receiver()
    for role in ("admin", "manager", "reviewer"):
        create_user(company.id, f"{role}@acme.test", role)
    with live_server.client(headers=company.headers) as api:
        created = api.post(
            "/api/automations", json={"kind": "webhook", "name": "CRM", "url": receiver.url}
        )
        assert created.status_code == 201, created.text
        answer = api.post(
            "/api/tickets",
            json={
                "channel": "chat",
                "external_id": "chat-pii-1",
                "customer": {"name": "Pat Minh", "email": EMAIL},
                "messages": [{"role": r, "text": t} for r, t in MESSAGES],
            },
        )
        assert answer.status_code == 201, answer.text
        call_id = answer.json()["call_id"]
        assert wait_for_status(api, call_id)["status"] == "completed"
        (request,) = receiver.wait_for(1)
    webs = {r: sign_in(live_server.url, f"{r}@acme.test") for r in ("admin", "manager", "reviewer")}
    yield Chat(
        live_server,
        company,
        call_id,
        json.loads(request.body),
        webs["reviewer"],
        webs["manager"],
        webs["admin"],
    )
    receiver.close()
    for web in webs.values():
        web.client.close()


def _turns(web: WebClient, call_id: str) -> list[dict]:
    answer = web.client.get(f"/api/calls/{call_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["turns"]


def test_pii_of_a_chat_is_masked_in_the_api_page_exports_and_deliveries(chat: Chat) -> None:
    from docx import Document
    from pypdf import PdfReader

    from callscribe.delivery.email import render_html, render_text
    from callscribe.delivery.slack import build_message

    # the calls API, for a session without pii.reveal and for the company's API key
    web = chat.reviewer
    call = web.client.get(f"/api/calls/{chat.call_id}")
    assert call.status_code == 200
    assert_masked(call.text, "GET /api/calls/{id} (reviewer)")
    with chat.server.client(headers=chat.company.headers) as api:
        assert_masked(api.get(f"/api/calls/{chat.call_id}").text, "GET /api/calls/{id} (key)")
        assert_masked(api.get("/api/calls").text, "GET /api/calls")
        assert_masked(api.get("/api/action-items").text, "GET /api/action-items")
    texts = [t["text"] for t in call.json()["turns"]]
    assert texts[2] == "It's [card]. Call me on [phone] or write to [email] if it fails."
    assert "[card]" in texts[3] and "[email]" in texts[3]

    # the chat's page and the action items page
    page = web.client.get(f"/calls/{chat.call_id}")
    assert page.status_code == 200
    assert_masked(page.text, "the call page")
    assert 'class="pii"' in page.text and "data-turn=" not in page.text  # not clickable
    assert_masked(web.client.get("/action-items").text, "the action items page")

    # exports
    md = web.client.get(f"/api/calls/{chat.call_id}/minutes.md")
    assert md.status_code == 200 and re.search(r"\\?\[card\\?\]", md.text)
    assert_masked(md.text, "the Markdown export")
    docx = web.client.get(f"/api/calls/{chat.call_id}/minutes.docx")
    document = Document(io.BytesIO(docx.content))
    assert_masked("\n".join(p.text for p in document.paragraphs), "the DOCX export")
    pdf = web.client.get(f"/api/calls/{chat.call_id}/minutes.pdf")
    reader = PdfReader(io.BytesIO(pdf.content))
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    assert "card]" in pdf_text
    assert_masked(pdf_text, "the PDF export")

    # the webhook a real receiver got, and the Slack and email bodies made from it
    assert_masked(json.dumps(chat.webhook_body), "the webhook body")
    context = {"call_url": "http://x/calls/1", "customer_name": None, "agent_email": None}
    assert_masked(json.dumps(build_message(chat.webhook_body, context)), "the Slack message")
    assert_masked(render_text(chat.webhook_body, context), "the email text")
    assert_masked(render_html(chat.webhook_body, context), "the email HTML")


def test_a_user_with_pii_reveal_reveals_one_value_and_the_reveal_is_audited(chat: Chat) -> None:
    turn = _turns(chat.manager, chat.call_id)[2]
    assert "[card]" in turn["text"]  # masked for them too, until they click

    # without the permission: refused, nothing logged
    refused = chat.reviewer.client.post(
        f"/api/turns/{turn['id']}/reveal",
        json={"index": 0},
        headers={"X-CSRF-Token": chat.reviewer.csrf},
    )
    assert refused.status_code == 403

    shown = chat.manager.client.post(
        f"/api/turns/{turn['id']}/reveal",
        json={"index": 0},
        headers={"X-CSRF-Token": chat.manager.csrf},
    )
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"kind": "card", "text": CARD}
    phone = chat.manager.client.post(
        f"/api/turns/{turn['id']}/reveal",
        json={"index": 1},
        headers={"X-CSRF-Token": chat.manager.csrf},
    )
    assert phone.json() == {"kind": "phone", "text": PHONE}

    # the log: admins (and the company's key) read it; it never holds the value
    with chat.server.client(headers=chat.company.headers) as api:
        log = api.get("/api/privacy/reveals")
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [(i["kind"], i["actor"], i["turn_id"]) for i in items] == [
        ("phone", "manager@acme.test", turn["id"]),
        ("card", "manager@acme.test", turn["id"]),
    ] or [(i["kind"], i["actor"]) for i in items] == [
        ("card", "manager@acme.test"),
        ("phone", "manager@acme.test"),
    ]
    assert all(i["engagement_id"] == chat.call_id for i in items)
    assert_masked(log.text, "the reveal log")
    assert chat.manager.client.get("/api/privacy/reveals").status_code == 403
    page = chat.admin.client.get("/settings/privacy/reveals")
    assert page.status_code == 200
    assert len(re.findall(r'data-testid="reveal-row"', page.text)) == 2
    assert "manager@acme.test" in page.text
    assert_masked(page.text, "the reveal log page")
    assert chat.reviewer.client.get("/settings/privacy/reveals").status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [({"index": 99}, 404), ({"index": -1}, 422), ({"index": "x"}, 422), ({"nope": 1}, 422)],
)
def test_a_bad_reveal_is_a_clear_4xx(chat: Chat, body: dict, status: int) -> None:
    turn = _turns(chat.manager, chat.call_id)[2]
    answer = chat.manager.client.post(
        f"/api/turns/{turn['id']}/reveal", json=body, headers={"X-CSRF-Token": chat.manager.csrf}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["success"] is False
    for turn_id in ("0", "99999999", "999999999999999", "abc"):
        answer = chat.manager.client.post(
            f"/api/turns/{turn_id}/reveal",
            json={"index": 0},
            headers={"X-CSRF-Token": chat.manager.csrf},
        )
        assert answer.status_code in (404, 422), (turn_id, answer.status_code)


def test_another_companys_turn_cannot_be_revealed(chat: Chat) -> None:
    from tests.conftest import make_company

    turn = _turns(chat.manager, chat.call_id)[2]
    other = make_company("Other Co")
    with chat.server.client(headers=other.headers) as api:
        answer = api.post(f"/api/turns/{turn['id']}/reveal", json={"index": 0})
    assert answer.status_code == 404
    with chat.server.client(headers=chat.company.headers) as api:
        assert api.get("/api/privacy/reveals").json()["total"] == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_the_browser_a_manager_clicks_a_masked_card_to_reveal_it(chat: Chat, chromium) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = chromium.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, chat.server.url, "reviewer@acme.test")
        page.goto(f"{chat.server.url}/calls/{chat.call_id}")
        expect(page.locator("span.pii[data-kind=card]").first).to_have_text("[card]")
        assert page.locator("button.pii").count() == 0
        context.clear_cookies()
        sign_in_page(page, chat.server.url, "manager@acme.test")
        page.goto(f"{chat.server.url}/calls/{chat.call_id}")
        card = page.locator("button.pii[data-kind=card]").first
        expect(card).to_have_text("[card]")
        card.click()
        expect(card).to_have_text(CARD)
        expect(page.locator("button.pii[data-kind=phone]").first).to_have_text("[phone]")
    finally:
        context.close()
    with chat.server.client(headers=chat.company.headers) as api:
        assert [i["kind"] for i in api.get("/api/privacy/reveals").json()["items"]] == ["card"]
