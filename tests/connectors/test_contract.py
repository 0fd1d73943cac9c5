"""One contract every connector type passes (CONVENTIONS §6), each against its provider
running as a local HTTP server that speaks the documented protocol."""

from __future__ import annotations

import importlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.connectors.conftest import Tracks
from tests.connectors.fakes import DialerRecording, FakeCallCenter, FakeCloudVoice, Run


class CloudVoiceKit:
    type = "cloudvoice"

    def __init__(self, tracks: Tracks):
        self.server = FakeCloudVoice().start()
        self.tracks = tracks

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {"api_key": self.server.api_key if good else "dgr_" + "x" * 43}

    def secret(self) -> str:
        return self.server.api_key

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        self.server.add_run(
            Run(
                id=1000 + n,
                created_at=self.at(minutes_ago),
                tracks={"user": self.tracks.user, "bot": self.tracks.bot},
                is_completed=complete,
            )
        )
        return str(1000 + n)


class CallCenterKit:
    type = "cloudvoice_call_center"

    def __init__(self, tracks: Tracks):
        self.server = FakeCallCenter().start()
        self.tracks = tracks

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "username": self.server.username,
            "password": self.server.password if good else "wrong-password-123",
        }

    def secret(self) -> str:
        return self.server.password

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        self.server.add(
            DialerRecording(
                recording_id=str(5000 + n),
                user="6666" if n % 2 else "7777",
                start=self.at(minutes_ago),
                audio=self.tracks.mixed,
                ready=complete,
                lead_id=str(2000 + n),
            )
        )
        return str(5000 + n)


def provider_kits() -> dict[str, type]:
    """The kits of tests/connectors/providers/<name>/kit.py (each defines KIT), so a
    new provider adds its own folder and edits no shared file."""
    kits: dict[str, type] = {}
    for kit_file in sorted((Path(__file__).parent / "providers").glob("*/kit.py")):
        module = importlib.import_module(f"tests.connectors.providers.{kit_file.parent.name}.kit")
        kits[module.KIT.type] = module.KIT
    return kits


KITS = {"cloudvoice": CloudVoiceKit, "cloudvoice_call_center": CallCenterKit, **provider_kits()}


def test_every_registered_type_has_a_contract_kit() -> None:
    from callscribe.connectors.registry import connector_types

    assert set(connector_types()) == set(KITS)


@pytest.fixture
def outbound_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings for talking to servers on 127.0.0.1 (no database needed)."""
    from callscribe import storage
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("CALLSCRIBE_URL_TIMEOUT_S", "5")
    reset_settings()
    storage._store_for.cache_clear()
    yield
    reset_settings()
    storage._store_for.cache_clear()


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest, tracks: Tracks, outbound_env: None):  # type: ignore[no-untyped-def]
    kit = KITS[request.param](tracks)
    yield kit
    kit.server.stop()


def client(kit, good: bool = True, base_url: str | None = None):  # type: ignore[no-untyped-def]
    from callscribe.connectors.registry import get_connector_type

    cls = get_connector_type(kit.type)
    return cls(base_url or kit.server.base_url, kit.credentials(good))


def all_refs(c, cursor=None) -> list:  # type: ignore[no-untyped-def]
    return [ref for page in c.list_calls(cursor) for ref in page.calls]


class TestConnectorContract:
    def test_connection_with_good_credentials_says_it_works(self, kit) -> None:  # type: ignore[no-untyped-def]
        message = client(kit).test_connection()
        assert "Connected" in message
        assert kit.secret() not in message

    def test_wrong_credentials_are_an_auth_error_without_the_secret(self, kit) -> None:  # type: ignore[no-untyped-def]
        from callscribe.connectors.base import ProviderAuthError

        bad = client(kit, good=False)
        with pytest.raises(ProviderAuthError) as err:
            bad.test_connection()
        assert not err.value.transient
        assert "wrong-password-123" not in err.value.message
        assert kit.credentials(False).get("api_key", "none") not in err.value.message
        assert any(w in err.value.message for w in ("key", "password"))

    def test_unreachable_provider_is_a_transient_error(self, kit) -> None:  # type: ignore[no-untyped-def]
        from callscribe.connectors.base import ProviderError

        dead = client(kit, base_url=f"http://127.0.0.1:{free_port()}")
        with pytest.raises(ProviderError) as err:
            dead.test_connection()
        assert err.value.transient and err.value.code == "provider_unreachable"
        assert "Cannot reach" in err.value.message

    def test_server_errors_are_transient(self, kit) -> None:  # type: ignore[no-untyped-def]
        from callscribe.connectors.base import ProviderError

        kit.add_call(1, 30)
        kit.server.down = True
        with pytest.raises(ProviderError) as err:
            all_refs(client(kit))
        assert err.value.transient and "503" in err.value.message

    def test_slow_answers_time_out_with_a_clear_message(
        self,
        kit,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        from callscribe.connectors.base import ProviderError
        from callscribe.settings import reset_settings

        monkeypatch.setenv("CALLSCRIBE_URL_TIMEOUT_S", "0.3")
        reset_settings()
        kit.server.slow_s = 1.0
        with pytest.raises(ProviderError) as err:
            client(kit).test_connection()
        assert err.value.code == "provider_timeout"
        assert "did not answer within" in err.value.message

    def test_lists_calls_oldest_first_and_from_a_cursor(self, kit) -> None:  # type: ignore[no-untyped-def]
        ids = [kit.add_call(n, minutes_ago=m) for n, m in ((1, 300), (2, 200), (3, 100))]
        c = client(kit)
        refs = all_refs(c)
        assert sorted(r.external_id for r in refs) == sorted(ids)
        assert all(r.created_at is not None for r in refs)
        ordered = sorted(refs, key=lambda r: r.created_at)
        assert [r.external_id for r in ordered] == ids
        cursor = c.cursor_for(ordered[1].created_at)
        later = {r.external_id for r in all_refs(c, cursor)}
        assert later == {ids[1], ids[2]}  # inclusive: the cursor's own call again, no older

    def test_fetches_a_call_with_downloadable_audio_and_its_agent(self, kit) -> None:  # type: ignore[no-untyped-def]
        from callscribe.connectors.base import download
        from callscribe.speech.service import sniff_audio_format

        external_id = kit.add_call(1, 30)
        c = client(kit)
        (ref,) = all_refs(c)
        call = c.fetch_call(ref)
        assert call.external_id == external_id and call.complete
        assert call.agent is not None and call.agent.name
        assert call.started_at is not None
        assert call.channel == getattr(kit, "channel", "voice")
        if call.channel != "voice":  # a chat, an email, a ticket: turns of both sides
            assert call.turns and not call.recordings
            assert {"agent", "customer"} <= {t.role for t in call.turns}
            assert all(t.text.strip() for t in call.turns)
            return
        assert call.recordings
        for recording in call.recordings:
            sink = io.BytesIO()
            download(recording, sink)
            assert sniff_audio_format(sink.getvalue()[:4096]) in ("wav", "flac")

    def test_a_call_in_progress_is_not_complete(self, kit) -> None:  # type: ignore[no-untyped-def]
        if not getattr(kit, "in_progress", True):
            pytest.skip(f"{kit.type} lists only finished items")
        kit.add_call(1, 5, complete=False)
        c = client(kit)
        (ref,) = all_refs(c)
        assert c.fetch_call(ref).complete is False

    def test_redact_removes_the_secret(self, kit) -> None:  # type: ignore[no-untyped-def]
        c = client(kit)
        assert kit.secret() not in c.redact(f"oops {kit.secret()} leaked")

    def test_a_signed_delivery_names_its_call_and_a_changed_one_is_refused(self, kit) -> None:  # type: ignore[no-untyped-def]
        from callscribe.errors import Unauthorized

        c = client(kit)
        if not c.supports_webhook or kit.type == "cloudvoice":
            pytest.skip(f"{kit.type}: no provider-signed webhook (CloudVoice: test_webhook.py)")
        url = f"http://127.0.0.1:9/api/webhooks/{kit.type}/{uuid.uuid4()}"
        secret = "whsec_" + "k" * 32
        external_id = kit.add_call(1, 3)
        delivery = c.verify_webhook(kit.delivery(external_id, url=url, secret=secret), secret)
        assert external_id in [ref.external_id for ref in delivery.refs]
        with pytest.raises(Unauthorized) as err:
            c.verify_webhook(kit.delivery(external_id, url=url, secret=secret, valid=False), secret)
        assert secret not in err.value.message and kit.secret() not in err.value.message


def test_cloudvoice_pages_through_more_than_one_page(tracks: Tracks, outbound_env: None) -> None:
    kit = CloudVoiceKit(tracks)
    try:
        for n in range(150):
            kit.server.add_run(Run(id=n + 1, created_at=kit.at(1000 - n)))
        refs = all_refs(client(kit))
        assert [r.external_id for r in refs] == [str(n + 1) for n in range(150)]
        pages = [q["page"][0] for _m, p, q, _h in kit.server.requests if p.endswith("/usage/runs")]
        assert pages == ["1", "2"]
    finally:
        kit.server.stop()


def test_cloudvoice_uses_signed_urls_when_a_run_has_no_public_links(
    tracks: Tracks, outbound_env: None
) -> None:
    from callscribe.connectors.base import download

    kit = CloudVoiceKit(tracks)
    try:
        kit.server.add_run(
            Run(id=5, created_at=kit.at(10), tracks={"recording": tracks.mixed}, public_links=False)
        )
        c = client(kit)
        call = c.fetch_call(all_refs(c)[0])
        (mixed,) = call.recordings
        sink = io.BytesIO()
        download(mixed, sink)
        assert sink.getvalue() == tracks.mixed
        assert kit.server.paths("/api/v1/s3/signed-url")
    finally:
        kit.server.stop()


def test_call_center_sends_the_password_only_when_the_recording_server_asks(
    tracks: Tracks, outbound_env: None
) -> None:
    from callscribe.connectors.base import download

    kit = CallCenterKit(tracks)
    try:
        kit.add_call(1, 30)
        c = client(kit)
        call = c.fetch_call(all_refs(c)[0])
        sink = io.BytesIO()
        download(call.recordings[0], sink)
        assert sink.getvalue() == tracks.mixed
        hits = [
            (p, h)
            for _m, p, _q, h in kit.server.requests
            if p.startswith(("/RECORDINGS", "/files"))
        ]
        assert [p.split("/")[1] for p, _ in hits] == ["RECORDINGS", "RECORDINGS", "files"]
        assert "Authorization" not in hits[0][1]  # first try: no credentials
        assert "Authorization" in hits[1][1]  # answered to the challenge
        assert "Authorization" not in hits[2][1]  # never to where it redirects
        assert call.direction == "outbound"
        assert call.customer_phone == "5551234567"
        assert call.customer_name == "Sam Carter"
        assert call.meta["provider"]["lead_status"] == "SALE"
    finally:
        kit.server.stop()


def test_call_center_error_lines_become_clear_messages(tracks: Tracks, outbound_env: None) -> None:
    from callscribe.connectors.base import ProviderError

    kit = CallCenterKit(tracks)
    try:
        c = client(kit)
        assert c.call("recording_lookup", agent_user="6666", date="2026-01-01") == []
        with pytest.raises(ProviderError) as err:
            c.call("no_such_function")
        assert "NOT A VALID FUNCTION" in err.value.message
    finally:
        kit.server.stop()
