"""The Audio URL API: the server fetches recordings, safely."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer
from tests.httpservers import redirect, send_bytes, serve
from tests.ingest.test_ingest_errors import _error, _stored_nothing

WAV = (AUDIO / "sample.wav").read_bytes()


def _routes():  # type: ignore[no-untyped-def]
    def big_unannounced(h):  # type: ignore[no-untyped-def]
        h.send_response(200)
        h.send_header("Content-Type", "audio/wav")
        h.send_header("Connection", "close")
        h.end_headers()
        try:
            for _ in range(40):  # 2.5 MB with no Content-Length
                h.wfile.write(WAV[:65536])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def slow(h):  # type: ignore[no-untyped-def]
        time.sleep(3)
        send_bytes(h, WAV, "audio/wav")

    return {
        "/call.wav": lambda h: send_bytes(h, WAV, "audio/wav"),
        "/moved": lambda h: redirect(h, "/call.wav"),
        "/loop": lambda h: redirect(h, "/loop"),
        "/notes.txt": lambda h: send_bytes(h, b"meeting notes\n" * 50, "text/plain"),
        "/gone": lambda h: send_bytes(h, b"no", "text/plain", status=410),
        "/big": big_unannounced,
        "/slow": slow,
    }


@pytest.fixture
def audio_host():  # type: ignore[no-untyped-def]
    with serve(_routes()) as url:
        yield url


def _from_url(server: LiveServer, company: CompanyCtx, **body):  # type: ignore[no-untyped-def]
    with server.client(headers=company.headers) as client:
        return client.post("/api/calls/from-url", json=body)


def test_url_is_fetched_and_stored(api_server, company, audio_host, app_env) -> None:  # type: ignore[no-untyped-def]
    resp = _from_url(api_server, company, audio_url=f"{audio_host}/moved", customer_name="Zed")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"] == "Call uploaded successfully and queued for processing"
    assert body["duration_seconds"] == 30
    with api_server.client(headers=company.headers) as client:
        call = client.get(f"/api/calls/{body['call_id']}").json()
        assert call["status"] == "received"
        assert call["customer_name"] == "Zed"
        assert client.get(f"/api/calls/{body['call_id']}/audio").content == WAV


def test_audio_url_field_on_add_calls(api_server, company, audio_host) -> None:  # type: ignore[no-untyped-def]
    with api_server.client() as client:
        resp = client.post(
            "/api/add-calls",
            data={"api_key": company.api_key, "audio_url": f"{audio_host}/call.wav"},
            files={"unused": ("", b"")},  # force multipart
        )
    assert resp.status_code == 201, resp.text


def test_same_url_and_reference_twice_is_one_call(api_server, company, audio_host) -> None:  # type: ignore[no-untyped-def]
    first = _from_url(api_server, company, audio_url=f"{audio_host}/call.wav", external_id="T-1")
    second = _from_url(api_server, company, audio_url=f"{audio_host}/call.wav", external_id="T-1")
    assert first.json()["call_id"] == second.json()["call_id"]
    with api_server.client(headers=company.headers) as client:
        assert client.get("/api/calls").json()["total"] == 1


def test_private_address_refused_unless_allowed(
    api_server, company, audio_host, app_env, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
    reset_settings()
    for url in (
        f"{audio_host}/call.wav",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
    ):
        resp = _from_url(api_server, company, audio_url=url)
        assert "private" in _error(resp, 400, "url_not_allowed")
    resp = _from_url(api_server, company, audio_url="file:///etc/passwd")
    _error(resp, 400, "url_not_allowed")
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_unreachable_url_is_502(api_server, company, app_env) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    resp = _from_url(api_server, company, audio_url=f"http://127.0.0.1:{free_port()}/a.wav")
    assert "Could not fetch" in _error(resp, 502, "upstream_error")
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_http_error_redirect_loop_and_not_audio(api_server, company, audio_host, app_env) -> None:  # type: ignore[no-untyped-def]
    assert "410" in _error(_from_url(api_server, company, audio_url=f"{audio_host}/gone"), 502)
    assert "redirects" in _error(
        _from_url(api_server, company, audio_url=f"{audio_host}/loop"), 502
    )
    _error(_from_url(api_server, company, audio_url=f"{audio_host}/notes.txt"), 415)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_size_limit_enforced_while_downloading(
    api_server, company, audio_host, app_env, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_MAX_UPLOAD_MB", "1")
    reset_settings()
    _error(_from_url(api_server, company, audio_url=f"{audio_host}/big"), 413)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_slow_server_times_out(api_server, company, audio_host, app_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_URL_TIMEOUT_S", "0.5")
    reset_settings()
    assert "Timed out" in _error(
        _from_url(api_server, company, audio_url=f"{audio_host}/slow"), 502
    )
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_malformed_json_is_422(api_server, company) -> None:  # type: ignore[no-untyped-def]
    with api_server.client(headers={**company.headers, "Content-Type": "application/json"}) as c:
        resp = c.post("/api/calls/from-url", content=b'{"audio_url": ')
    _error(resp, 422, "validation_error")
    with api_server.client(headers=company.headers) as c:
        resp = c.post("/api/calls/from-url", json={"customer_name": "no url"})
    assert "audio_url" in _error(resp, 422)
