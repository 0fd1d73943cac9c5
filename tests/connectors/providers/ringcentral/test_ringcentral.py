"""What is particular to RingCentral: the JWT bearer token (cached, fetched again once
on a 401), call-log paging through navigation.nextPage, 429 with Retry-After, the
mapping of a call-log record, the bearer token only to RingCentral's own origin, the
telephony-session webhook (Validation-Token handshake, Verification-Token, Disconnected
parties only) and the Integrations page."""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of, connector_row
from tests.connectors.providers.ringcentral.kit import RingCentralKit, telephony_event
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401
from tests.web.conftest import create_user, sign_in


@pytest.fixture
def rc(tracks: Tracks, outbound_env: None) -> Iterator[RingCentralKit]:  # noqa: F811
    kit = RingCentralKit(tracks)
    yield kit
    kit.server.stop()


def test_the_token_is_kept_and_fetched_again_once_when_it_expires(rc: RingCentralKit) -> None:
    rc.add_call(1, 30)
    c = client(rc)
    assert len(all_refs(c)) == 1
    assert len(all_refs(c)) == 1
    assert rc.server.token_requests == 1  # one token for both listings
    rc.server.expire_tokens()  # revoked / expired at RingCentral: the API answers 401
    assert len(all_refs(c)) == 1
    assert rc.server.token_requests == 2
    token_posts = [h for m, p, _q, h in rc.server.requests if m == "POST"]
    assert all(h["Authorization"].startswith("Basic ") for h in token_posts)


def test_a_revoked_jwt_is_an_auth_error_naming_what_to_check(rc: RingCentralKit) -> None:
    from callscribe.connectors.base import ProviderAuthError

    creds = {**rc.credentials(), "jwt": "eyJrevoked"}
    from callscribe.connectors.ringcentral import RingCentralConnector

    with pytest.raises(ProviderAuthError) as err:
        RingCentralConnector(rc.server.base_url, creds).test_connection()
    assert "invalid_grant" in err.value.message and "JWT" in err.value.message
    assert (
        "eyJrevoked" not in err.value.message and rc.server.client_secret not in err.value.message
    )


def test_the_call_log_is_paged_through_next_page_and_handed_oldest_first(
    rc: RingCentralKit,
) -> None:
    ids = [rc.add_call(n, minutes_ago=600 - n) for n in range(260)]
    c = client(rc)
    refs = all_refs(c)
    assert [r.external_id for r in refs] == ids  # oldest first, every page
    pages = [
        q.get("page", ["1"])[0] for _m, p, q, _h in rc.server.requests if p.endswith("call-log")
    ]
    assert pages == ["1", "2"]
    first = next(q for _m, p, q, _h in rc.server.requests if p.endswith("call-log"))
    assert first["view"] == ["Detailed"] and first["recordingType"] == ["All"]


def test_a_rate_limited_listing_waits_for_retry_after_and_carries_on(rc: RingCentralKit) -> None:
    rc.add_call(1, 30)
    c = client(rc)
    c.test_connection()
    rc.server.rate_limit_next = 1
    begun = time.monotonic()
    assert len(all_refs(c)) == 1
    assert time.monotonic() - begun >= 0.9  # Retry-After: 1 honoured
    rc.server.rate_limit_next, rc.server.retry_after = 10, "0"  # still limited after retries
    from callscribe.connectors.base import ProviderError

    with pytest.raises(ProviderError) as err:
        all_refs(c)
    assert err.value.transient and err.value.code == "provider_rate_limited"


def test_an_outbound_call_maps_agent_customer_outcome_and_the_recording(
    rc: RingCentralKit, tracks: Tracks
) -> None:
    from callscribe.connectors.base import download

    rc.record(7, 20, direction="Outbound", result="Call connected", extension_name="Lee Closer")
    c = client(rc)
    call = c.fetch_call(all_refs(c)[0])
    assert call.direction == "outbound"
    assert call.customer_phone == "+15550123456"  # the other party of an outbound call
    assert call.agent is not None and call.agent.name == "Lee Closer"
    assert call.agent.external_id == "620114003008" and call.agent.extension_id == "102"
    assert call.columns["outcome"] == "Call connected"
    assert call.duration_s == 55 and not call.no_media
    (recording,) = call.recordings
    assert recording.headers["Authorization"].startswith("Bearer ")
    sink = io.BytesIO()
    download(recording, sink)
    assert sink.getvalue() == tracks.mixed


def test_the_token_goes_to_no_other_host(rc: RingCentralKit) -> None:
    from callscribe.connectors.base import CallRef, ProviderError

    rc.add_call(1, 30)
    c = client(rc)
    record = dict(all_refs(c)[0].data)
    record["recording"] = {**record["recording"], "contentUri": "https://evil.example/rec/1"}
    with pytest.raises(ProviderError) as err:
        c.fetch_call(CallRef(record["telephonySessionId"], None, record))
    assert not err.value.transient and "evil.example" in err.value.message


def test_a_webhook_call_is_looked_up_by_its_telephony_session(rc: RingCentralKit) -> None:
    from callscribe.connectors.base import WebhookRequest

    c = client(rc)
    secret = "cvwh_" + "s" * 32
    session = rc.add_call(1, 3)
    request = rc.delivery(session, url="http://x/hook", secret=secret)
    (ref,) = c.verify_webhook(request, secret).refs
    call = c.fetch_call(ref)
    assert call.external_id == session and call.recordings
    lookups = [q for _m, p, q, _h in rc.server.requests if p.endswith("call-log")]
    assert lookups[-1]["telephonySessionId"] == [session]
    # not in the call log yet (it is written a moment after the call): the sync has it
    from callscribe.connectors.base import CallRef

    late = c.fetch_call(CallRef("s-not-yet-in-the-log", None, {"eventTime": ref.data["eventTime"]}))
    assert late.complete is False
    # a missed call (no recording) comes in without audio, its outcome kept
    missed = rc.record(2, 2, audio=None, result="Missed")
    body = telephony_event(missed.telephony_session_id)
    missed_call = c.fetch_call(
        c.verify_webhook(
            WebhookRequest("http://x/hook", {"verification-token": secret}, httpx_json(body)),
            secret,
        ).refs[0]
    )
    assert missed_call.no_media and missed_call.columns["outcome"] == "Missed"
    # a conversation whose recording is not in the log yet waits for it (the sync)
    talked = rc.record(3, 2, audio=None, result="Accepted")
    body = telephony_event(talked.telephony_session_id)
    (talked_ref,) = c.verify_webhook(
        WebhookRequest("http://x/hook", {"verification-token": secret}, httpx_json(body)), secret
    ).refs
    assert c.fetch_call(talked_ref).complete is False


def httpx_json(value: object) -> bytes:
    import json

    return json.dumps(value).encode()


def test_events_of_a_call_still_going_are_ignored(rc: RingCentralKit) -> None:
    from callscribe.connectors.base import WebhookRequest

    c = client(rc)
    secret = "cvwh_" + "s" * 32
    for status in ("Setup", "Proceeding", "Answered"):
        body = httpx_json(telephony_event("s-abc", status=status))
        delivery = c.verify_webhook(
            WebhookRequest("http://x/hook", {"verification-token": secret}, body), secret
        )
        assert delivery.refs == [] and delivery.ignored == "the call has not ended"
    from callscribe.errors import BadRequest

    signed = {"verification-token": secret}
    other = {"uuid": "1", "event": "/restapi/v1.0/account/~/extension/~/message-store", "body": {}}
    delivery = c.verify_webhook(WebhookRequest("http://x/hook", signed, httpx_json(other)), secret)
    assert delivery.refs == [] and delivery.ignored == "not a telephony-session event"
    for body in (b"not json", b'{"event": "/telephony/sessions"}', b"[1, 2]"):
        with pytest.raises(BadRequest):
            c.verify_webhook(WebhookRequest("http://x/hook", signed, body), secret)
    no_id = telephony_event("s-x")
    no_id["body"].pop("telephonySessionId")
    with pytest.raises(BadRequest):
        c.verify_webhook(WebhookRequest("http://x/hook", signed, httpx_json(no_id)), secret)


def _cid(company: CompanyCtx, kit: RingCentralKit) -> uuid.UUID:
    return add_connector(company, kit.type, kit.server, credentials=kit.credentials())


@pytest.mark.slow  # a whole server: once, on SQLite
def test_the_subscription_handshake_echoes_the_validation_token(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    from callscribe.connectors import service

    kit = RingCentralKit(tracks)
    try:
        cid = _cid(company, kit)
        url = service.webhook_url(connector_row(cid))[len(api_server.url) :]
        with httpx.Client(base_url=api_server.url, timeout=30) as http:
            answer = http.post(url, headers={"Validation-Token": "a1b2c3-d4e5"})
            assert answer.status_code == 200, answer.text
            assert answer.headers["validation-token"] == "a1b2c3-d4e5"
            assert answer.json()["status"] == "ignored"
            bad = http.post(url, headers={"Validation-Token": "two words"})
            assert bad.status_code == 400
            no_token = http.post(url, content=httpx_json(telephony_event("s-1")))
            assert no_token.status_code == 401 and "Verification-Token" in no_token.text
        assert calls_of(company, kit.type) == []
    finally:
        kit.server.stop()


@pytest.mark.slow  # a whole server: once, on SQLite
def test_integrations_page_adds_and_tests_a_ringcentral_connector(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    kit = RingCentralKit(tracks)
    try:
        create_user(company.id, "mia@acme.test", "manager")
        web = sign_in(api_server.url, "mia@acme.test")
        page = web.client.get("/integrations")
        assert (
            "RingCentral" in page.text and 'value="https://platform.ringcentral.com"' in page.text
        )
        assert "cred_jwt" in page.text and "cred_client_id" in page.text
        web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        added = web.post_form(
            "/integrations",
            {
                "type": "ringcentral",
                "name": "Phones",
                "base_url": kit.server.base_url,
                **{f"cred_{k}": v for k, v in kit.credentials().items()},
                "poll_interval_min": "10",
            },
        )
        assert added.status_code == 303, added.text
        page = web.client.get("/integrations")
        cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)  # type: ignore[union-attr]
        assert f"/api/webhooks/ringcentral/{cid}" in page.text
        assert "Verification-Token" in page.text and "telephony/sessions" in page.text
        assert kit.server.client_secret not in page.text and kit.server.jwt not in page.text
        htmx = {"HX-Request": "true", "X-CSRF-Token": web.csrf}
        tested = web.client.post(f"/integrations/{cid}/test", headers=htmx)
        assert "Connected to RingCentral" in tested.text
    finally:
        kit.server.stop()
