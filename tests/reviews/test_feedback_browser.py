"""The journey's Feedback panel in Chromium: a turn selected, a tag saved on it, the
form picked for customer turns remembered after a reload, people's and the AI's reviews
drawn apart, `incorrect` feedback on the AI's review, a dispute and its rejection."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_feedback_panel_tags_a_turn_remembers_the_form_and_shows_ai_reviews(
    api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from callscribe.db import session_scope
    from callscribe.reviews.models import AutoReviewModel, Review

    create_user(company.id, "mia@acme.test", "manager")
    with api_server.client(headers=company.headers) as api:
        answer = api.post(
            "/api/tickets",
            json={
                "channel": "chat",
                "external_id": "chat-1",
                "customer": {"name": "Pat Doe", "email": "pat@example.com"},
                "messages": [
                    {"role": "customer", "text": "My new card still has not arrived."},
                    {"role": "agent", "text": "Sorry to hear that, let me check."},
                    {"role": "customer", "text": "Also, what is the exchange rate today?"},
                ],
            },
        )
        assert answer.status_code == 201, answer.text
        chat = answer.json()["call_id"]
        tag_id = api.post(
            "/api/tags",
            json={"name": "Card arrival", "polarity": "negative", "levels": ["customer_turn"]},
        ).json()["id"]
        question = api.post("/api/questions", json={"text": "Polite?", "kind": "binary"}).json()
        form_id = api.post(
            "/api/forms",
            json={
                "name": "Turn check",
                "levels": ["customer_turn", "engagement"],
                "sections": [{"title": "All", "question_ids": [question["id"]]}],
            },
        ).json()["id"]
    from sqlalchemy import select

    from callscribe.calls.models import Engagement, Turn

    with session_scope() as s:
        engagement = s.get(Engagement, uuid.UUID(chat))
        assert engagement is not None
        customer_id = engagement.customer_id
        first, _reply, second = s.scalars(
            select(Turn.id).where(Turn.engagement_id == engagement.id).order_by(Turn.seq)
        ).all()
        model = AutoReviewModel(
            company_id=company.id,
            tag_id=uuid.UUID(tag_id),
            version=1,
            examples=5,
            negatives=50,
            precision=0.9,
            recall=0.8,
            f1=0.85,
            threshold=0.5,
            embedder="local",
            classifier={"coef": [0.0] * 384, "intercept": 0.0},
        )
        s.add(model)
        s.flush()
        s.add(
            Review(
                company_id=company.id,
                engagement_id=engagement.id,
                turn_id=second,
                tag_id=uuid.UUID(tag_id),
                reviewer_kind="ai",
                reviewer_name="AI",
                confidence=0.72,
                model_id=model.id,
                status="flagged",
            )
        )
    context = chromium.new_context(viewport={"width": 1400, "height": 850})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "mia@acme.test", land_on_calls=False)
        page.goto(f"{api_server.url}/customers/{customer_id}/journey?engagement={chat}")
        page.locator(f"#turn-{first}").click()
        expect(page.get_by_test_id("feedback-target")).to_contain_text(f"Turn #{first}")
        reviews = page.get_by_test_id("engagement-reviews")
        ai = reviews.locator(".review-ai")
        expect(ai).to_have_count(1)
        expect(ai).to_contain_text("confidence 72%")
        page.get_by_test_id("feedback-tag").select_option(label="Card arrival")
        page.get_by_test_id("feedback-form-select").select_option(label="Turn check")
        expect(page.get_by_test_id("feedback-questions")).to_contain_text("Polite?")
        page.get_by_test_id("feedback-questions").get_by_label("yes").check()
        page.get_by_test_id("feedback-submit").click()
        human = reviews.locator(".review-human")
        expect(human).to_have_count(1)
        expect(human).to_contain_text("Card arrival")
        expect(human).to_contain_text("100")
        assert ai.evaluate("el => getComputedStyle(el).borderLeftColor") != human.evaluate(
            "el => getComputedStyle(el).borderLeftColor"
        )
        ai.get_by_role("button", name="Incorrect").click()
        expect(reviews.locator(".review-ai")).to_contain_text("marked incorrect")
        # a manager disputes (the reason is asked for) and then rejects the dispute
        page.once("dialog", lambda dialog: dialog.accept("The tag is on the wrong turn."))
        human.get_by_role("button", name="Dispute").click()
        expect(human).to_contain_text("disputed")
        human.get_by_role("button", name="Reject").click()
        expect(human).to_contain_text("rejected")
        expect(human.get_by_role("button")).to_have_count(0)  # frozen: nothing left to do
        # the form picked for customer turns is remembered after a reload
        page.reload()
        page.locator(f"#turn-{second}").click()
        expect(page.get_by_test_id("feedback-form-select")).to_have_value(form_id)
    finally:
        context.close()
    with api_server.client(headers=company.headers) as api:
        items = api.get(f"/api/reviews?engagement_id={chat}").json()["items"]
    kinds = sorted((r["reviewer"]["kind"], r["turn_id"], r["verdict"]) for r in items)
    assert kinds == [("ai", second, "incorrect"), ("human", first, None)]
