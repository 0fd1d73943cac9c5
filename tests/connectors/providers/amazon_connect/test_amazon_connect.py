"""What is particular to Amazon Connect: a CTR's mapping into the engagement's columns,
chat transcripts as turns, the Firehose export's shapes (concatenated, one per line,
gzipped), the key cursor, AWS's refusals, contact events, and the Integrations page."""

from __future__ import annotations

import gzip
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.amazon_connect.kit import AmazonConnectKit
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401
from tests.web.conftest import create_user, sign_in


@pytest.fixture
def ac(tracks: Tracks, outbound_env: None) -> Iterator[AmazonConnectKit]:  # noqa: F811
    kit = AmazonConnectKit(tracks)
    yield kit
    kit.server.stop()


def test_a_ctr_maps_queue_agent_durations_reason_and_attributes(ac: AmazonConnectKit) -> None:
    from callscribe.connectors.base import download
    from callscribe.speech.service import sniff_audio_format

    contact_id = ac.add_call(1, 30)
    c = client(ac)
    call = c.fetch_call(all_refs(c)[0])
    assert call.external_id == contact_id and call.channel == "voice"
    assert call.direction == "inbound" and call.customer_phone == "+15550142077"
    assert call.agent is not None and call.agent.name == "admin1"
    assert call.agent.external_id == "a41f9c3e-2b7d-4e15-8c6a-93d0f2b7e518"
    assert call.duration_s == 104
    cols = call.columns
    assert (cols["queue"], cols["wait_s"], cols["hold_s"], cols["wrapup_s"]) == (
        "BasicQueue",
        7,
        4,
        32,
    )
    assert cols["outcome"] == "CUSTOMER_DISCONNECT"
    assert cols["attributes"]["greetingPlayed"] == "true" and cols["attributes"]["tier"] == "gold"
    assert cols["attributes"]["disconnect_reason"] == "CUSTOMER_DISCONNECT"
    assert cols["facts"]["number_of_holds"] == 1
    assert call.meta["channel_roles"] == {"0": "customer", "1": "agent"}
    (recording,) = call.recordings
    assert "X-Amz-Signature=" in recording.url  # pre-signed: no key travels with it
    assert ac.server.secret_key not in recording.url
    sink = io.BytesIO()
    download(recording, sink)
    assert sniff_audio_format(sink.getvalue()[:64]) == "wav" and sink.getvalue() == ac.audio


def test_an_abandoned_contact_comes_in_without_audio_or_agent(ac: AmazonConnectKit) -> None:
    record = ac.contact(1, 20, audio=False)
    record.pop("Agent")
    record["DisconnectReason"] = "CUSTOMER_DISCONNECT"
    ac.put_export([record], ac.at(17))
    c = client(ac)
    call = c.fetch_call(all_refs(c)[0])
    assert call.no_media and not call.recordings and call.agent is None
    assert call.columns["queue"] == "BasicQueue"


def test_a_chat_contact_is_its_transcript_turns(ac: AmazonConnectKit) -> None:
    record = ac.contact(1, 20, channel="CHAT")
    ac.put_export([record], ac.at(17))
    c = client(ac)
    call = c.fetch_call(all_refs(c)[0])
    assert call.channel == "chat" and not call.recordings and call.turns
    assert [(t.role, t.start_ms) for t in call.turns] == [
        ("customer", 0),
        ("bot", 1000),
        ("agent", 8000),
        ("customer", 14000),
    ]
    assert call.turns[0].text == "Hi, my parcel never arrived."
    assert call.customer_name == "Dana Ruiz" and call.direction == "inbound"
    assert call.thread_id == record["ContactId"]


def test_export_objects_concatenated_per_line_or_gzipped_are_all_read(
    ac: AmazonConnectKit,
) -> None:
    from callscribe.connectors.amazon_connect import parse_records

    a, b, c_, d = (ac.contact(n, 100 - n) for n in range(4))
    ac.put_export([a, b], ac.at(90))  # Firehose's default: records back to back
    ac.put_export([c_], ac.at(80), lines=True)
    key = f"{ac.prefix}{ac.at(70):%Y/%m/%d/%H}/callscribe-ctr-1-z-{uuid.uuid4()}.gz"
    ac.s3.put_object(Bucket=ac.bucket, Key=key, Body=gzip.compress(json.dumps(d).encode()))
    refs = all_refs(client(ac))
    assert sorted(r.external_id for r in refs) == sorted(x["ContactId"] for x in (a, b, c_, d))
    assert parse_records(b'{"a": 1}\nnot json\n{"b": 2}{"c": 3}') == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_the_cursor_is_the_last_object_read(ac: AmazonConnectKit) -> None:
    first = ac.add_call(1, 90)
    c = client(ac)
    (page,) = list(c.list_calls(None))
    assert [r.external_id for r in page.calls] == [first]
    assert page.cursor and page.cursor["after_key"].startswith("ctr/")
    second = ac.add_call(2, 60)
    assert [r.external_id for r in all_refs(c, page.cursor)] == [second]


def test_wrong_keys_say_which_one_without_the_secret(ac: AmazonConnectKit) -> None:
    from callscribe.connectors.amazon_connect import AmazonConnectConnector
    from callscribe.connectors.base import ProviderAuthError, ProviderError

    unknown = {**ac.credentials(), "access_key_id": "AKIAUNKNOWN000000000"}
    with pytest.raises(ProviderAuthError) as err:
        AmazonConnectConnector(ac.server.base_url, unknown).test_connection()
    assert "access key ID is not known" in err.value.message
    with pytest.raises(ProviderAuthError) as err:
        client(ac, good=False).test_connection()
    assert "secret access key does not match" in err.value.message
    assert ac.server.secret_key not in err.value.message
    missing = {**ac.credentials(), "bucket": "no-such-bucket-here"}
    with pytest.raises(ProviderError) as not_found:
        AmazonConnectConnector(ac.server.base_url, missing).test_connection()
    assert not not_found.value.transient and "no bucket" in not_found.value.message


def test_contact_events_other_than_disconnected_are_ignored_and_bodies_checked(
    ac: AmazonConnectKit,
) -> None:
    from callscribe.connectors.base import CallRef, WebhookRequest
    from callscribe.errors import BadRequest, Unauthorized

    c = client(ac)
    secret = "cvwh_" + "q" * 32
    headers = {"x-callscribe-secret": secret}
    for event_type in ("INITIATED", "CONNECTED_TO_AGENT", "QUEUED"):
        body = json.dumps(ac.event("c-1", event_type)).encode()
        delivery = c.verify_webhook(WebhookRequest("http://x", headers, body), secret)
        assert delivery.refs == [] and event_type in (delivery.ignored or "")
    with pytest.raises(BadRequest):
        c.verify_webhook(WebhookRequest("http://x", headers, b'{"contactId": "x"}'), secret)
    with pytest.raises(Unauthorized):
        c.verify_webhook(WebhookRequest("http://x", {}, b"{}"), secret)
    # the CTR is written after after-contact work: until then the import waits for a sync
    delivery = c.verify_webhook(
        WebhookRequest("http://x", headers, json.dumps(ac.event("c-late")).encode()), secret
    )
    (ref,) = delivery.refs
    assert isinstance(ref, CallRef) and c.fetch_call(ref).complete is False


def test_a_chat_syncs_into_a_chat_engagement_with_its_turns(
    company: CompanyCtx, tracks: Tracks
) -> None:
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.connectors import sync
    from callscribe.db import session_scope

    kit = AmazonConnectKit(tracks)
    try:
        record = kit.contact(1, 20, channel="CHAT")
        kit.put_export([record], kit.at(17) + timedelta(seconds=1))
        cid = add_connector(company, kit.type, kit.server, credentials=kit.credentials())
        done = sync.sync_connector(cid)
        assert (done.status, done.imported) == ("succeeded", 1), done.error
        (chat,) = calls_of(company, kit.type)
        assert chat.channel == "chat" and chat.agent_id and chat.customer_id
        with session_scope() as s:
            texts = list(
                s.scalars(select(Turn.text).where(Turn.engagement_id == chat.id).order_by(Turn.seq))
            )
        assert texts[0] == "Hi, my parcel never arrived." and len(texts) == 4
    finally:
        kit.server.stop()


@pytest.mark.slow  # a whole server: once, on SQLite
def test_integrations_page_adds_and_tests_an_amazon_connect_connector(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    kit = AmazonConnectKit(tracks)
    try:
        create_user(company.id, "mia@acme.test", "manager")
        web = sign_in(api_server.url, "mia@acme.test")
        page = web.client.get("/integrations")
        assert "Amazon Connect" in page.text and 'value="https://s3.amazonaws.com"' in page.text
        assert "cred_secret_access_key" in page.text and "cred_prefix" in page.text
        web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        added = web.post_form(
            "/integrations",
            {
                "type": "amazon_connect",
                "name": "Contact center",
                "base_url": kit.server.base_url,
                **{f"cred_{k}": v for k, v in kit.credentials().items()},
                "poll_interval_min": "10",
            },
        )
        assert added.status_code == 303, added.text
        page = web.client.get("/integrations")
        cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)  # type: ignore[union-attr]
        assert f"/api/webhooks/amazon_connect/{cid}" in page.text
        assert "X-Callscribe-Secret" in page.text and "DISCONNECTED" in page.text
        assert kit.server.secret_key not in page.text
        htmx = {"HX-Request": "true", "X-CSRF-Token": web.csrf}
        tested = web.client.post(f"/integrations/{cid}/test", headers=htmx)
        assert "Connected to Amazon S3" in tested.text
    finally:
        kit.server.stop()
