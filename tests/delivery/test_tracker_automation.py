"""`tracker.matched`: recorded with the matches by the Trackers step, delivered by the
existing outbox to the automations that subscribe to it (and only to those)."""

from __future__ import annotations

from tests.conftest import CompanyCtx
from tests.delivery.conftest import Receiver, add_automation, deliveries_of, processed_call


def test_a_tracker_match_reaches_a_subscribed_webhook(
    company: CompanyCtx, receiver: Receiver
) -> None:
    from sqlalchemy import select

    from callscribe.calls import trackers
    from callscribe.db import session_scope
    from callscribe.events import OutboxEvent

    with session_scope() as s:
        trackers.create_tracker(
            s, company.id, name="refunds", terms=["refund"], roles=["customer"], mode="stem"
        )
    on_match = add_automation(company, kind="webhook", url=receiver.url, events=["tracker.matched"])
    on_complete = add_automation(company, kind="webhook", url=receiver.url)
    call_id = processed_call(company)  # the customer asks for "a refund"
    matched = deliveries_of(on_match)
    assert [(d.engagement_id, d.event) for d in matched] == [(call_id, "tracker.matched")]
    assert [d.event for d in deliveries_of(on_complete)] == ["call.completed"]
    from callscribe.delivery import service

    assert service.attempt_delivery(str(matched[0].id)) is None  # sent, no retry
    (request,) = receiver.wait_for(1)
    tracked = request.json()
    assert tracked["event"] == "tracker.matched"
    assert tracked["trackers"] == [{"name": "refunds", "count": 1}]
    assert tracked["call"]["id"] == str(call_id)
    with session_scope() as s:
        events = list(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "tracker.matched")))
    assert len(events) == 1 and events[0].payload["call_id"] == str(call_id)


def test_no_match_no_event_and_bad_subscriptions_are_refused(
    company: CompanyCtx, receiver: Receiver
) -> None:
    import pytest

    from callscribe.calls import trackers
    from callscribe.db import session_scope
    from callscribe.delivery.schemas import AutomationIn
    from callscribe.errors import ValidationFailed

    with session_scope() as s:
        trackers.create_tracker(s, company.id, name="rivals", terms=["Globex"])
    on_match = add_automation(company, kind="webhook", url=receiver.url, events=["tracker.matched"])
    processed_call(company)
    assert deliveries_of(on_match) == []
    with pytest.raises(ValueError):
        AutomationIn(kind="webhook", name="x", url=receiver.url, events=["call.deleted"])  # type: ignore[list-item]
    from callscribe.delivery import service

    with session_scope() as s, pytest.raises(ValidationFailed):
        service.create_automation(
            s, company.id, AutomationIn(kind="webhook", name="x", url=receiver.url, events=[])
        )


def test_the_automation_forms_choose_the_events() -> None:
    from callscribe.delivery.views import automation_in

    url = "https://hooks.example.com/x"
    assert automation_in({"kind": "webhook", "url": url}).events == ["call.completed"]
    chosen = automation_in({"kind": "webhook", "url": url, "events": "both"})
    assert chosen.events == ["call.completed", "tracker.matched"]
    assert automation_in({"kind": "slack", "url": url, "events": "tracker.matched"}).events == [
        "tracker.matched"
    ]
