"""Refused uploads: each answers with a clear error and stores nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import AUDIO, CompanyCtx, LiveServer


def _stored_nothing(data_dir: Path) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Engagement)) == 0
    blobs = data_dir / "blobs"
    leftovers = [p for p in blobs.rglob("*") if p.is_file()] if blobs.exists() else []
    assert leftovers == [], leftovers


def _post(server: LiveServer, files=None, data=None, headers=None) -> httpx.Response:  # type: ignore[no-untyped-def]
    with server.client() as client:
        return client.post("/api/add-calls", files=files, data=data or {}, headers=headers or {})


def _error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    if code:
        assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def test_neither_file_nor_url_is_400(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    resp = _post(api_server, data={"api_key": company.api_key, "customer_name": "x"})
    assert "call" in _error(resp, 400)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_both_file_and_url_is_400(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    resp = _post(
        api_server,
        files={"call": ("a.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")},
        data={"api_key": company.api_key, "audio_url": "http://127.0.0.1:9/a.wav"},
    )
    assert "not both" in _error(resp, 400)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


@pytest.mark.parametrize("key", ["cs_wrong", "", None])
def test_bad_or_missing_api_key_is_401(
    api_server: LiveServer, company: CompanyCtx, app_env, key
) -> None:
    data = {} if key is None else {"api_key": key}
    resp = _post(
        api_server,
        files={"call": ("a.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")},
        data=data,
    )
    _error(resp, 401, "unauthorized")
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_revoked_key_is_401(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    from callscribe.auth.api_keys import list_api_keys, revoke_api_key
    from callscribe.db import session_scope

    with session_scope() as s:
        for key in list_api_keys(s, company.id):
            revoke_api_key(s, company.id, key.id)
    resp = _post(
        api_server,
        files={"call": ("a.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")},
        headers=company.headers,
    )
    assert "revoked" in _error(resp, 401)


def test_text_file_named_mp3_is_415(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    resp = _post(
        api_server,
        files={"call": ("call.mp3", b"hello, this is not audio at all\n" * 100, "audio/mpeg")},
        headers=company.headers,
    )
    assert "MP3" in _error(resp, 415, "unsupported_media_type")
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_png_is_415(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    resp = _post(api_server, files={"call": ("x.wav", png, "audio/wav")}, headers=company.headers)
    _error(resp, 415)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_too_large_is_413_while_streaming(
    api_server: LiveServer, company: CompanyCtx, app_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is enforced on the bytes as they arrive, also without Content-Length."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_MAX_UPLOAD_MB", "1")
    reset_settings()
    big = (AUDIO / "jfk.flac").read_bytes() * 2  # 2.3 MB of real audio

    boundary = "----cstest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="call"; filename="big.flac"\r\n'
        "Content-Type: audio/flac\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunked():  # no Content-Length: the server must count
        yield head
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]
        yield tail

    with api_server.client() as client:
        resp = client.post(
            "/api/add-calls",
            content=chunked(),
            headers={
                **company.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
    assert "1 MB" in _error(resp, 413, "payload_too_large")
    # and with Content-Length, refused before the body is read
    with api_server.client() as client:
        resp = client.post(
            "/api/add-calls",
            files={"call": ("big.flac", big * 1, "audio/flac")},
            headers=company.headers,
        )
    _error(resp, 413)
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


@pytest.mark.parametrize(
    "fields, where",
    [
        ({"direction": "sideways"}, "direction"),
        ({"started_at": "last tuesday"}, "started_at"),
        ({"order_id": "x" * 500}, "order_id"),
    ],
)
def test_bad_fields_are_422(
    api_server: LiveServer, company: CompanyCtx, app_env, fields, where
) -> None:
    resp = _post(
        api_server,
        files={"call": ("a.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")},
        data={"api_key": company.api_key, **fields},
    )
    assert where in _error(resp, 422, "validation_error")
    _stored_nothing(Path(app_env["CALLSCRIBE_DATA_DIR"]))


def test_not_multipart_is_400(api_server: LiveServer, company: CompanyCtx, app_env) -> None:
    with api_server.client() as client:
        resp = client.post("/api/add-calls", json={"call": "x"}, headers=company.headers)
    _error(resp, 400, "bad_content_type")


def test_same_external_id_twice_is_one_call(
    api_server: LiveServer, company: CompanyCtx, app_env
) -> None:
    files = {"call": ("a.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")}
    first = _post(api_server, files=files, data={"external_id": "crm-42"}, headers=company.headers)
    second = _post(api_server, files=files, data={"external_id": "crm-42"}, headers=company.headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["call_id"] == second.json()["call_id"]
    assert second.json()["duplicate"] is True
    with api_server.client(headers=company.headers) as client:
        assert client.get("/api/calls").json()["total"] == 1
