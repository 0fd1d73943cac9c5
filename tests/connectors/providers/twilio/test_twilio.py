"""What is particular to Twilio: its signature (Twilio's published test vectors),
dual-channel recordings kept apart with the roles from the call's legs, the callback's
parameters as the call's data, the media fetched with the account's credentials only on
Twilio's own host, the Recordings list's newest-first paging, and its 429."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of
from tests.connectors.providers.twilio.kit import TWILIO_NUMBER, TwilioKit
from tests.connectors.providers.twilio.server import API, TwilioCall, TwilioRecording
from tests.connectors.test_contract import all_refs, client, outbound_env  # noqa: F401
from tests.web.conftest import create_user, sign_in

DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


@pytest.fixture
def kit(tracks: Tracks, outbound_env: None) -> Iterator[TwilioKit]:  # noqa: F811
    kit = TwilioKit(tracks)
    yield kit
    kit.server.stop()


@pytest.fixture
def db_kit(tracks: Tracks) -> Iterator[TwilioKit]:
    """For tests with the database (its app_env allows servers on 127.0.0.1)."""
    kit = TwilioKit(tracks)
    yield kit
    kit.server.stop()


def _docs_request(caller: str, signature: str, *, url: str = DOCS_URL, digits: str = "1234"):  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import WebhookRequest

    body = urlencode(
        {
            "CallSid": "CA1234567890ABCDE",
            "Caller": caller,
            "Digits": digits,
            "From": caller,
            "To": "+18005551212",
        }
    ).encode()
    return WebhookRequest(url=url, headers={"x-twilio-signature": signature}, body=body)


def _docs_connector():  # type: ignore[no-untyped-def]
    from callscribe.connectors.twilio import TwilioConnector

    return TwilioConnector(
        "https://api.twilio.com", {"account_sid": "AC" + "0" * 32, "auth_token": "12345"}
    )


# Twilio's security docs (auth token 12345, this URL, these five parameters) and the
# same example as it appears in Twilio's helper libraries' own tests
DOCUMENTED = [
    ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
]


@pytest.mark.parametrize(("caller", "signature"), DOCUMENTED)
def test_signature_matches_twilios_documented_example(caller: str, signature: str) -> None:
    from callscribe.connectors.twilio import compute_signature

    params = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", caller),
        ("Caller", caller),
    ]
    assert compute_signature("12345", DOCS_URL, params) == signature
    # and a delivery carrying it is accepted (it is no recording callback: ignored)
    delivery = _docs_connector().verify_webhook(_docs_request(caller, signature), "")
    assert delivery.refs == [] and delivery.ignored


@pytest.mark.parametrize(("caller", "signature"), DOCUMENTED)
def test_one_changed_byte_fails_the_signature(caller: str, signature: str) -> None:
    from callscribe.errors import Unauthorized

    c = _docs_connector()
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    for request in (
        _docs_request(caller, flipped),  # the signature
        _docs_request(caller, signature, digits="1235"),  # a parameter
        _docs_request(caller, signature, url=DOCS_URL.replace("bar=2", "bar=3")),  # the URL
        _docs_request(caller, ""),  # none at all
    ):
        with pytest.raises(Unauthorized) as err:
            c.verify_webhook(request, "")
        assert "12345" not in err.value.message
    other_token = _docs_connector()
    other_token.auth_token = "12346"
    with pytest.raises(Unauthorized):
        other_token.verify_webhook(_docs_request(caller, signature), "")


def test_the_default_port_may_be_added_or_dropped_by_a_proxy() -> None:
    from callscribe.connectors.twilio import compute_signature, url_variants

    assert url_variants("https://a.example/x?y=1") == [
        "https://a.example/x?y=1",
        "https://a.example:443/x?y=1",
    ]
    assert url_variants("https://a.example:443/x") == [
        "https://a.example:443/x",
        "https://a.example/x",
    ]
    assert url_variants("http://127.0.0.1:8000/x") == ["http://127.0.0.1:8000/x"]
    pairs = [("Caller", "+14158675309")]
    signed = compute_signature("12345", "https://mycompany.com:443/myapp.php", pairs)
    request = _docs_request("+14158675309", signed, url="https://mycompany.com/myapp.php")
    request.body = urlencode(pairs).encode()
    assert _docs_connector().verify_webhook(request, "").ignored


def test_only_completed_recordings_are_imported_and_the_callback_is_the_calls_data(kit) -> None:  # type: ignore[no-untyped-def]
    rec_sid = kit.add_call(1, 3)
    c = client(kit)
    url = "http://127.0.0.1:9/api/webhooks/twilio/x?k=1"
    for status in ("in-progress", "absent", "failed"):
        ignored = c.verify_webhook(kit.delivery(rec_sid, url=url, status=status), "")
        assert ignored.refs == [] and status in (ignored.ignored or "")
    (ref,) = c.verify_webhook(kit.delivery(rec_sid, url=url), "").refs
    assert ref.external_id == rec_sid and ref.data["channels"] == 2
    kit.server.requests.clear()
    call = c.fetch_call(ref)
    # the callback said what the listing would: only the call's details are read
    assert [p for _m, p, _q, _h in kit.server.requests] == [
        f"{API}/Accounts/{kit.server.account_sid}/Calls/{'CA' + f'{1:032x}'}.json"
    ]
    assert call.complete and call.external_id == rec_sid


def test_dual_channel_inbound_recording_keeps_the_caller_and_the_agent_apart(  # type: ignore[no-untyped-def]
    db_kit, company: CompanyCtx
) -> None:
    """GIVEN an inbound call recorded dual-channel (the caller, the parent leg, on the
    first channel; the agent Twilio dialled on the second) WHEN it is synced THEN the
    engagement keeps the two-channel file with those roles, and the Auth Token went to
    Twilio's API only, never to the storage the media redirects to."""
    from callscribe.connectors import sync

    kit = db_kit
    rec_sid = kit.add_call(1, 30)
    cid = add_connector(company, "twilio", kit.server, credentials=kit.credentials())
    done = sync.sync_connector(cid)
    assert (done.status, done.imported) == ("succeeded", 1), done.error
    (call,) = calls_of(company, "twilio")
    assert call.external_id == rec_sid
    assert call.audio_channels == 2
    assert call.meta["channel_roles"] == {"0": "customer", "1": "agent"}
    assert call.meta["recording"] == "mixed"
    assert call.direction == "inbound" and call.customer_phone == "+15550100001"

    from callscribe.storage import get_store

    with get_store().local_path(call.audio_key) as path, wave.open(str(path)) as w:
        assert w.getnchannels() == 2
        frames = w.readframes(w.getnframes())
    assert frames == _frames(kit.audio)

    media = [(p, q, h) for _m, p, q, h in kit.server.requests if p.endswith(".wav")]
    assert [q.get("RequestedChannels") for _p, q, _h in media] == [["2"]]
    assert "Authorization" in media[0][2]
    stored = kit.server.media.requests
    assert len(stored) == 1 and "Authorization" not in stored[0][3]


def _frames(wav_bytes: bytes) -> bytes:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        return w.readframes(w.getnframes())


def test_a_softphone_agent_calling_out_is_on_the_first_channel(kit, tracks: Tracks) -> None:  # type: ignore[no-untyped-def]
    when = kit.at(20)
    kit.server.add(
        TwilioCall("CA" + "a" * 32, "client:dana", "+15550123456", "inbound", when),
        TwilioRecording("RE" + "a" * 32, "CA" + "a" * 32, when, kit.audio),
    )
    kit.server.add(
        TwilioCall("CA" + "b" * 32, TWILIO_NUMBER, "+15550654321", "outbound-api", when),
        TwilioRecording("RE" + "b" * 32, "CA" + "b" * 32, when, tracks.user, channels=1),
    )
    c = client(kit)
    by_id = {r.external_id: c.fetch_call(r) for r in all_refs(c)}
    softphone, api_call = by_id["RE" + "a" * 32], by_id["RE" + "b" * 32]
    assert softphone.meta["channel_roles"] == {"0": "agent", "1": "customer"}
    assert softphone.direction == "outbound" and softphone.customer_phone == "+15550123456"
    assert softphone.agent is not None and softphone.agent.name == "dana"
    # a mono recording: no roles claimed, the pipeline tells the sides apart
    assert (
        "channel_roles" not in api_call.meta
        and "RequestedChannels" not in api_call.recordings[0].url
    )
    assert api_call.direction == "outbound" and api_call.customer_phone == "+15550654321"
    assert api_call.agent is not None and api_call.agent.phone == TWILIO_NUMBER


def test_the_recordings_list_is_read_newest_first_and_handed_over_oldest_first(kit) -> None:  # type: ignore[no-untyped-def]
    ids = [kit.add_call(n, minutes_ago=1000 - n) for n in range(1, 251)]
    c = client(kit)
    pages = list(c.list_calls(c.cursor_for(kit.at(1000 - 11))))
    refs = [r for p in pages for r in p.calls]
    assert [r.external_id for r in refs] == ids[10:]  # from the cursor's instant on
    listed = [q for _m, p, q, _h in kit.server.requests if p.endswith("/Recordings.json")]
    assert len(listed) == 3  # 250 recordings (from the cursor's day) at 100 a page
    assert listed[0]["PageSize"] == ["100"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", listed[0]["DateCreated>"][0])
    assert all("PageToken" in q for q in listed[1:])


def test_rate_limiting_is_retried_then_a_transient_error(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import ProviderError

    kit.add_call(1, 30)
    kit.server.rate_limited = 1
    assert len(all_refs(client(kit))) == 1  # Retry-After honoured, then it answered
    kit.server.rate_limited = 10
    with pytest.raises(ProviderError) as err:
        all_refs(client(kit))
    assert err.value.transient and err.value.code == "provider_rate_limited"


def test_a_malformed_account_sid_is_refused_before_any_request(kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors.base import ProviderAuthError
    from callscribe.connectors.twilio import TwilioConnector

    bad = TwilioConnector(kit.server.base_url, {"account_sid": "AC../../x", "auth_token": "t" * 32})
    with pytest.raises(ProviderAuthError) as err:
        bad.test_connection()
    assert "AC followed by 32" in err.value.message and kit.server.requests == []


def test_the_integrations_page_offers_twilio_with_its_callback_setup(
    api_server: LiveServer, company: CompanyCtx, tracks: Tracks
) -> None:
    kit = TwilioKit(tracks)
    try:
        create_user(company.id, "mia@acme.test", "manager")
        web = sign_in(api_server.url, "mia@acme.test")
        page = web.client.get("/integrations")
        assert 'value="https://api.twilio.com"' in page.text and "Account SID" in page.text
        web.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        added = web.post_form(
            "/integrations",
            {
                "type": "twilio",
                "name": "Support lines",
                "base_url": kit.server.base_url,
                "cred_account_sid": kit.server.account_sid,
                "cred_auth_token": kit.server.auth_token,
                "poll_interval_min": "15",
            },
        )
        assert added.status_code == 303
        page = web.client.get("/integrations")
        card = page.text[page.text.index("Support lines") :]
        cid = re.search(r'id="connector-([0-9a-f-]{36})"', page.text).group(1)
        assert f"/api/webhooks/twilio/{cid}" in card and "RecordingStatusCallback" in card
        assert "X-Twilio-Signature" in card
        assert 'data-testid="webhook-secret"' not in card and "Rotate secret" not in card
        assert kit.server.auth_token not in page.text
        htmx = {"HX-Request": "true", "X-CSRF-Token": web.csrf}
        tested = web.client.post(f"/integrations/{cid}/test", headers=htmx)
        assert "Connected to Twilio" in tested.text
    finally:
        kit.server.stop()
