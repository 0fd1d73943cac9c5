"""What is particular to Aircall: missed calls and voicemails imported as such, signed
recording URLs that expire (the call read again for a fresh one, once), the webhook
token in the body, events that are not imported, paging by next_page_link, the 429, and
a connector made before the webhook (and its token) exists."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.aircall.kit import AGENT, AircallKit
from tests.connectors.providers.aircall.server import AircallCall
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401
from tests.web.conftest import create_user, sign_in

URL = "http://127.0.0.1:9/api/webhooks/aircall/x"


@pytest.fixture
def kit(tracks: Tracks, outbound_env: None) -> Iterator[AircallKit]:  # noqa: F811
    kit = AircallKit(tracks)
    yield kit
    kit.server.stop()


@pytest.fixture
def db_kit(tracks: Tracks) -> Iterator[AircallKit]:
    """For tests with the database (its app_env allows servers on 127.0.0.1)."""
    kit = AircallKit(tracks)
    yield kit
    kit.server.stop()


def _missed(kit: AircallKit, n: int, minutes_ago: int, **kw) -> AircallCall:  # type: ignore[no-untyped-def]
    start = int(kit.at(minutes_ago).timestamp())
    return kit.server.add(
        AircallCall(
            id=781000000 + n,
            started_at=start,
            ended_at=start + 17,
            missed_call_reason="agents_did_not_answer",
            raw_digits=f"+44 330 818 {n:04d}",
            **kw,
        )
    )


def test_missed_calls_and_voicemails_are_imported_as_such(db_kit, company: CompanyCtx) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an inbound call nobody answered and one where the caller left a voicemail
    WHEN they are synced THEN the missed call is an engagement without audio (outcome
    missed, the reason kept) that the pipeline completes, and the voicemail one is
    transcribed from the voicemail audio (outcome voicemail)."""
    from callscribe.connectors import sync
    from callscribe.pipeline.runner import process_call

    kit = db_kit
    missed = _missed(kit, 1, 60)
    voicemail = _missed(kit, 2, 50, voicemail=kit.tracks.user)
    cid = add_connector(company, "aircall", kit.server, credentials=kit.credentials())
    done = sync.sync_connector(cid)
    assert (done.status, done.imported, done.failed) == ("succeeded", 2, 0), done.error
    by_id = {c.external_id: c for c in calls_of(company, "aircall")}

    lost = by_id[str(missed.id)]
    assert lost.outcome == "missed" and lost.audio_key is None
    assert lost.attributes["missed_call_reason"] == "agents_did_not_answer"
    assert lost.meta["recording"] == "none" and lost.channel == "voice"
    assert lost.customer_phone == "+443308180001" and lost.direction == "inbound"
    assert lost.wait_s == 17 and lost.talk_s == 0
    assert process_call(lost.id) == "completed"

    left = by_id[str(voicemail.id)]
    assert left.outcome == "voicemail" and left.meta["voicemail"] is True
    assert left.audio_key is not None and left.meta["recording"] == "mixed"
    assert [p for p in kit.server.store.paths("/recordings/")] == [
        f"/recordings/call-{voicemail.id}-voicemail.mp3"
    ]


def test_an_expired_recording_url_is_fetched_again_from_a_fresh_read_of_the_call(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import download

    external_id = kit.add_call(1, 30)
    c = client(kit)
    (ref,) = all_refs(c)  # the listing's URL ...
    call = c.fetch_call(ref)
    kit.server.expire_urls()  # ... is stale by the time it is downloaded
    kit.server.requests.clear()
    sink = io.BytesIO()
    download(call.recordings[0], sink)
    assert sink.getvalue() == kit.tracks.mixed
    assert kit.server.paths("/v1/calls/") == [f"/v1/calls/{external_id}"]  # read once
    statuses = [p for p in kit.server.store.paths("/recordings/")]
    assert len(statuses) == 2  # the refused one, then the fresh one


def test_a_url_refused_again_after_the_re_read_fails_the_call_not_the_sync(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import ProviderError, download

    kit.add_call(1, 30)
    c = client(kit)
    call = c.fetch_call(all_refs(c)[0])
    kit.server.store.fail_paths["/recordings/"] = 403
    with pytest.raises(ProviderError) as err:
        download(call.recordings[0], io.BytesIO())
    assert not err.value.transient and "403" in err.value.message
    assert len(kit.server.paths("/v1/calls/")) == 1  # retried once, not forever
    assert kit.server.api_token not in err.value.message


def test_the_agent_and_the_customer_come_from_the_call(kit) -> None:  # type: ignore[no-untyped-def]
    start = int(kit.at(30).timestamp())
    kit.server.add(
        AircallCall(
            id=42,
            started_at=start,
            answered_at=start + 6,
            ended_at=start + 66,
            direction="outbound",
            user=dict(AGENT),
            raw_digits="+1 555-010-2030",
            recording=kit.tracks.mixed,
            contact={
                "id": 9,
                "first_name": "Maria",
                "last_name": "Lopez",
                "emails": [{"label": "work", "value": "maria@example.com"}],
            },
            tags=[{"id": 1, "name": "renewal"}],
        )
    )
    c = client(kit)
    call = c.fetch_call(all_refs(c)[0])
    assert call.direction == "outbound" and call.customer_phone == "+15550102030"
    assert (call.customer_name, call.customer_email) == ("Maria Lopez", "maria@example.com")
    assert call.agent is not None
    assert (call.agent.external_id, call.agent.name, call.agent.email) == (
        "736640",
        "Dana Agent",
        "dana@example.com",
    )
    assert call.columns["outcome"] == "answered" and call.columns["queue"] == "Support line"
    assert (call.columns["wait_s"], call.columns["talk_s"]) == (6, 60)
    assert call.columns["attributes"]["tags"] == "renewal"


def test_an_answered_call_waits_briefly_for_its_recording(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import CallRef

    start = int(kit.at(3).timestamp())
    recent = kit.server.add(
        AircallCall(id=7, started_at=start, answered_at=start + 2, ended_at=start + 30, user=AGENT)
    )
    c = client(kit)
    ref = CallRef(str(recent.id), data=kit.server.call_json(recent))
    assert c.fetch_call(ref).complete is False  # re-read: still no recording
    recent.recording = kit.tracks.mixed  # Aircall adds it (call.comm_assets_generated)
    ready = c.fetch_call(ref)
    assert ready.complete and ready.recordings and not ready.no_media
    old = int(kit.at(120).timestamp())
    kit.server.add(AircallCall(id=8, started_at=old, answered_at=old + 2, ended_at=old + 30))
    unrecorded = c.fetch_call(CallRef("8", data=kit.server.call_json(kit.server.calls[8])))
    assert unrecorded.no_media and unrecorded.meta["no_recording"] is True


def test_webhook_token_events_and_bodies(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.aircall import AircallConnector
    from callscribe.connectors.base import WebhookRequest
    from callscribe.errors import BadRequest, Unauthorized

    external_id = kit.add_call(1, 3)
    c = client(kit)
    for event in ("call.created", "call.ringing_on_agent", "call.answered", "call.tagged"):
        ignored = c.verify_webhook(kit.delivery(external_id, url=URL, event=event), "")
        assert ignored.refs == [] and event in (ignored.ignored or "")
    for event in ("call.ended", "call.voicemail_left", "call.comm_assets_generated"):
        (ref,) = c.verify_webhook(kit.delivery(external_id, url=URL, event=event), "").refs
        assert ref.external_id == external_id and "messages" not in ref.data["number"]
    wrong = kit.delivery(external_id, url=URL, valid=False)
    with pytest.raises(Unauthorized) as err:
        c.verify_webhook(wrong, "")  # an event of another webhook, or forged
    assert kit.server.webhook_token not in err.value.message
    tokenless = json.loads(kit.delivery(external_id, url=URL).body)
    del tokenless["token"]
    with pytest.raises(Unauthorized):
        c.verify_webhook(WebhookRequest(URL, {}, json.dumps(tokenless).encode()), "")
    with pytest.raises(BadRequest):
        c.verify_webhook(WebhookRequest(URL, {}, b"token=abc"), "")
    no_token_yet = AircallConnector(
        kit.server.base_url, {"api_id": kit.server.api_id, "api_token": kit.server.api_token}
    )
    with pytest.raises(Unauthorized) as err:
        no_token_yet.verify_webhook(kit.delivery(external_id, url=URL), "")
    assert "Webhook token" in err.value.message


def test_pages_follow_next_page_link_oldest_first(kit) -> None:  # type: ignore[no-untyped-def]
    ids = [kit.add_call(n, minutes_ago=500 - n) for n in range(1, 121)]
    refs = all_refs(client(kit))
    assert [r.external_id for r in refs] == ids
    listed = [q for _m, p, q, _h in kit.server.requests if p == "/v1/calls"]
    assert [q.get("page") for q in listed] == [["1"], ["2"], ["3"]]
    assert listed[0]["order"] == ["asc"] and listed[0]["per_page"] == ["50"]


def test_past_aircalls_window_the_listing_starts_again_from_the_last_call(  # type: ignore[no-untyped-def]
    kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.connectors import aircall

    monkeypatch.setattr(aircall, "MAX_PAGE", 1)  # as if a page were the 10,000th item
    ids = [kit.add_call(n, minutes_ago=500 - n) for n in range(1, 121)]
    refs = all_refs(client(kit))
    assert [r.external_id for r in refs] == ids  # no gap, no repeat
    listed = [q for _m, p, q, _h in kit.server.requests if p == "/v1/calls"]
    assert [q["page"] for q in listed] == [["1"]] * len(listed) and len(listed) == 3
    assert int(listed[1]["from"][0]) == int(kit.server.calls[int(ids[49])].started_at)


def test_a_call_ended_before_its_recording_is_imported_when_the_recording_comes(  # type: ignore[no-untyped-def]
    api_server: LiveServer, company: CompanyCtx, db_kit
) -> None:
    import httpx

    from callscribe.connectors import webhooks

    kit = db_kit
    cid = add_connector(company, "aircall", kit.server, credentials=kit.credentials())
    external_id = kit.add_call(1, 1)
    call = kit.server.calls[int(external_id)]
    recording, call.recording = call.recording, None  # Aircall still processing it
    path = f"/api/webhooks/aircall/{cid}"

    def deliver(event: str) -> httpx.Response:
        body = kit.delivery(external_id, url=api_server.url + path, event=event).body
        with httpx.Client(base_url=api_server.url, timeout=30) as http:
            return http.post(path, content=body, headers={"content-type": "application/json"})

    ended = deliver("call.ended")
    assert ended.json()["status"] == "accepted"
    (event_id,) = ended.json()["event_ids"]
    assert webhooks.import_event(event_id) == "failed"  # no recording yet: waits
    assert calls_of(company, "aircall") == []
    call.recording = recording
    ready = deliver("call.comm_assets_generated")
    assert ready.json()["status"] == "accepted" and ready.json()["event_ids"] == [event_id]
    assert webhooks.import_event(event_id) == "imported"
    (engagement,) = calls_of(company, "aircall")
    assert engagement.audio_key is not None and engagement.outcome == "answered"


def test_rate_limiting_is_retried_then_a_transient_error(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import ProviderError

    kit.add_call(1, 30)
    kit.server.rate_limited = 1
    assert len(all_refs(client(kit))) == 1
    kit.server.rate_limited = 10
    with pytest.raises(ProviderError) as err:
        all_refs(client(kit))
    assert err.value.transient and err.value.code == "provider_rate_limited"


def test_the_connector_is_made_before_its_webhook_token_and_given_it_later(  # type: ignore[no-untyped-def]
    api_server: LiveServer, company: CompanyCtx, db_kit
) -> None:
    """The webhook token exists only once the webhook is made at Aircall, which needs
    the connector's URL: the page takes the connector without it, a delivery is refused
    until it is entered, then accepted."""
    import httpx

    kit = db_kit
    create_user(company.id, "mia@acme.test", "manager")
    web = sign_in(api_server.url, "mia@acme.test")
    page = web.client.get("/integrations")
    assert 'value="https://api.aircall.io"' in page.text and "Webhook token" in page.text
    assert re.search(r'name="cred_webhook_token"[^>]*\brequired\b', page.text) is None
    assert re.search(r'name="cred_api_token"[^>]*\brequired\b', page.text)
    web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    added = web.post_form(
        "/integrations",
        {
            "type": "aircall",
            "name": "Aircall",
            "base_url": kit.server.base_url,
            "cred_api_id": kit.server.api_id,
            "cred_api_token": kit.server.api_token,
            "cred_webhook_token": "",
            "poll_interval_min": "15",
        },
    )
    assert added.status_code == 303, added.text
    page = web.client.get("/integrations")
    cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)
    card = page.text[page.text.index(f'id="connector-{cid}"') :]
    assert f"/api/webhooks/aircall/{cid}" in card and "call.ended" in card
    assert 'data-testid="webhook-secret"' not in card and "Rotate secret" not in card

    external_id = kit.add_call(1, 3)
    path = f"/api/webhooks/aircall/{cid}"
    delivery = kit.delivery(external_id, url=api_server.url + path)
    post = {"content": delivery.body, "headers": {"content-type": "application/json"}}
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        refused = http.post(path, **post)
        assert refused.status_code == 401 and "Webhook token" in refused.text
        edited = web.post_form(
            f"/integrations/{cid}/edit", {"cred_webhook_token": kit.server.webhook_token}
        )
        assert edited.status_code == 303
        accepted = http.post(path, **post)
        assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
        assert len(accepted.json()["event_ids"]) == 1
    assert kit.server.webhook_token not in web.client.get("/integrations").text
