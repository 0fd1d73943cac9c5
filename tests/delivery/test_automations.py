"""Which calls an automation takes, and the automations API: hidden credentials,
Send test with the result at once, the delivery log, redelivery."""

from __future__ import annotations

import time

import pytest

from tests.conftest import CompanyCtx, LiveServer, make_company
from tests.delivery.conftest import (
    Receiver,
    Reply,
    add_automation,
    deliveries_of,
    make_agent,
    processed_call,
)


def test_disabled_automations_and_internal_calls_send_nothing(
    company: CompanyCtx, receiver: Receiver
) -> None:
    """GIVEN a disabled automation, a default one (external only) and one that also
    takes internal calls
    WHEN an internal call and an external call complete
    THEN only the enabled ones deliver, and internal calls only where asked for."""
    disabled = add_automation(company, kind="webhook", url=receiver.url, enabled=False)
    external_only = add_automation(company, kind="webhook", url=receiver.url)
    with_internal = add_automation(company, kind="webhook", url=receiver.url, include_internal=True)
    internal_call = processed_call(company, direction="internal")
    external_call = processed_call(company, direction="inbound")
    assert deliveries_of(disabled) == []
    assert [d.engagement_id for d in deliveries_of(external_only)] == [external_call]
    assert {d.engagement_id for d in deliveries_of(with_internal)} == {
        internal_call,
        external_call,
    }


def test_agent_and_direction_filters(company: CompanyCtx, receiver: Receiver) -> None:
    dana, lee = make_agent(company, "Dana"), make_agent(company, "Lee", email=None)
    for_dana = add_automation(company, kind="webhook", url=receiver.url, agent_id=dana)
    outbound = add_automation(company, kind="webhook", url=receiver.url, direction="outbound")
    dana_in = processed_call(company, agent_id=dana, direction="inbound")
    lee_out = processed_call(company, agent_id=lee, direction="outbound")
    unknown = processed_call(company, agent_id=lee, direction=None)  # counts as external
    assert [d.engagement_id for d in deliveries_of(for_dana)] == [dana_in]
    assert [d.engagement_id for d in deliveries_of(outbound)] == [lee_out]
    assert unknown not in {d.engagement_id for d in deliveries_of(outbound)}


def test_another_companys_calls_never_reach_an_automation(
    company: CompanyCtx, receiver: Receiver
) -> None:
    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    processed_call(make_company("Other Co"))
    assert deliveries_of(automation_id) == []


@pytest.mark.slow
def test_automations_api_hides_credentials_and_sends_a_test_at_once(
    live_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    hook = receiver.url + "?key=topsecret-7Q2z"
    with live_server.client(headers=company.headers) as api:
        created = api.post(
            "/api/automations",
            json={
                "kind": "webhook",
                "name": "CRM",
                "url": hook,
                "secret": "signing-abcd",
                "method": "PUT",
                "timeout_s": 3,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["target"] == "127.0.0.1 …7Q2z"
        assert body["secret_last4"] == "abcd" and body["secret_set"] is True
        assert body["standard_webhooks_secret"].startswith("whsec_")
        assert body["include_internal"] is False and body["enabled"] is True
        automation_id = body["id"]

        listed = api.get("/api/automations")
        assert "topsecret" not in listed.text and "signing-abcd" not in listed.text
        assert listed.json()[0]["standard_webhooks_secret"] is None

        started = time.monotonic()
        tested = api.post(f"/api/automations/{automation_id}/test")
        assert tested.status_code == 200, tested.text
        result = tested.json()
        assert time.monotonic() - started < 5
        assert result["event"] == "test" and result["status"] == "succeeded"
        assert result["attempt_log"][0]["http_status"] == 200
        (request,) = receiver.requests
        assert request.method == "PUT" and request.headers["X-Callscribe-Test"] == "true"

        log = api.get(f"/api/automations/{automation_id}/deliveries").json()
        assert log["total"] == 1 and log["deliveries"][0]["id"] == result["id"]
        one = api.get(f"/api/automations/{automation_id}").json()
        assert one["last_delivery"]["status"] == "succeeded"

        redelivered = api.post(f"/api/deliveries/{result['id']}/redeliver")
        assert redelivered.status_code == 202
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == request.headers["webhook-id"]
        assert second.body == request.body

        patched = api.patch(
            f"/api/automations/{automation_id}", json={"enabled": False, "secret": ""}
        ).json()
        assert patched["enabled"] is False and patched["secret_set"] is False
        assert patched["target"] == "127.0.0.1 …7Q2z"  # the URL is kept when not sent

        assert api.delete(f"/api/automations/{automation_id}").status_code == 204
        assert api.get(f"/api/automations/{automation_id}").status_code == 404


def test_send_test_reports_a_failure_at_once(api_server: LiveServer, company: CompanyCtx) -> None:
    receiver = Receiver([Reply(status=500, body=b"nope")])
    try:
        with api_server.client(headers=company.headers) as api:
            created = api.post(
                "/api/automations", json={"kind": "slack", "name": "S", "url": receiver.url}
            ).json()
            result = api.post(f"/api/automations/{created['id']}/test").json()
        # one attempt, no retry for a test, and the automation's failure count untouched
        assert result["status"] == "failed" and result["attempts"] == 1
        assert result["attempt_log"][0]["http_status"] == 500
        assert result["attempt_log"][0]["response"] == "nope"
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "webhook", "name": "x"}, 422),  # no URL
        ({"kind": "webhook", "name": "x", "url": "ftp://example.com/x"}, 400),
        ({"kind": "webhook", "name": "x", "url": "https://e.com", "timeout_s": 30}, 422),
        ({"kind": "webhook", "name": "x", "url": "https://e.com", "method": "GET"}, 422),
        ({"kind": "email", "name": "x", "recipients": ["not-an-address"]}, 422),
        ({"kind": "email", "name": "x", "send_to_agent": False}, 422),
        ({"kind": "fax", "name": "x"}, 422),
    ],
)
def test_bad_automations_are_refused_with_a_message(
    api_server: LiveServer, company: CompanyCtx, body: dict, status: int
) -> None:
    with api_server.client(headers=company.headers) as api:
        answer = api.post("/api/automations", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["success"] is False and answer.json()["error"]["message"]


def test_automations_are_scoped_to_the_company(
    api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    other = make_company("Other Co")
    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    with api_server.client(headers=other.headers) as api:
        assert api.get("/api/automations").json() == []
        assert api.get(f"/api/automations/{automation_id}").status_code == 404
        assert api.post(f"/api/automations/{automation_id}/test").status_code == 404
    with api_server.client() as anonymous:
        assert anonymous.get("/api/automations").status_code == 401


def test_sweep_finds_deliveries_whose_job_was_lost_and_finishes_them(
    company: CompanyCtx, receiver: Receiver
) -> None:
    """GIVEN one delivery due an hour ago (its job lost with a flushed queue), one whose
    attempt died mid-way an hour ago, and one just created
    WHEN the sweep looks
    THEN it picks the first two, and each is then delivered once."""
    from datetime import timedelta

    from callscribe.db import session_scope, utcnow
    from callscribe.delivery import service
    from callscribe.delivery.models import Delivery

    automation_id = add_automation(company, kind="webhook", url=receiver.url)
    for _ in range(3):
        processed_call(company)
    lost, died, fresh = deliveries_of(automation_id)
    hour_ago = utcnow() - timedelta(hours=1)
    with session_scope() as s:
        s.get(Delivery, lost.id).next_attempt_at = hour_ago
        dead = s.get(Delivery, died.id)
        dead.status, dead.locked_at, dead.attempts = "sending", hour_ago, 1
    with session_scope() as s:
        assert set(service.find_stalled_deliveries(s)) == {lost.id, died.id}
    assert service.attempt_delivery(lost.id) is None
    assert service.attempt_delivery(died.id) is None
    assert service.attempt_delivery(died.id) is None  # a duplicate job finds it done
    assert {d.status for d in deliveries_of(automation_id)[:2]} == {"succeeded"}
    assert len(receiver.requests) == 2
    with session_scope() as s:
        assert service.find_stalled_deliveries(s) == []
        assert s.get(Delivery, fresh.id).status == "pending"
