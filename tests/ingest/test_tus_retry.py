"""A failure while a tus upload completes keeps its bytes; a zero-length PATCH at
offset == length retries the completion and creates the call (issue 17 #10)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer

WAV = (AUDIO / "sample.wav").read_bytes()
TUS = {"Tus-Resumable": "1.0.0"}


def test_a_failed_completion_keeps_the_bytes_and_can_be_retried(
    api_server: LiveServer, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.db import session_scope
    from callscribe.ingest import service
    from callscribe.ingest.models import TusUpload

    real = service.create_engagement
    calls = [0]

    def flaky(*args: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("the store went away")
        return real(*args, **kw)

    monkeypatch.setattr(service, "create_engagement", flaky)
    meta = "filename " + base64.b64encode(b"call.wav").decode()
    h = {**company.headers, **TUS}
    patch = {**h, "Content-Type": "application/offset+octet-stream"}
    with api_server.client() as client:
        r = client.post(
            "/api/uploads/",
            headers={**h, "Upload-Length": str(len(WAV)), "Upload-Metadata": meta},
        )
        url = r.headers["Location"]
        try:  # a bug's 500, or the server drops the connection: either way no call
            with api_server.client() as once:
                r = once.patch(url, headers={**patch, "Upload-Offset": "0"}, content=WAV)
            assert r.status_code == 500
        except httpx.TransportError:
            pass
        assert calls[0] == 1
        head = client.head(url, headers=h)
        assert head.headers["Upload-Offset"] == str(len(WAV))
        assert head.headers["Callscribe-Upload-Status"] == "open"
        with session_scope() as s:
            (upload,) = s.query(TusUpload).all()
            part = Path(upload.part_path)
        assert part.read_bytes() == WAV  # the bytes are kept
        assert client.get("/api/calls", headers=company.headers).json()["total"] == 0

        r = client.patch(url, headers={**patch, "Upload-Offset": str(len(WAV))}, content=b"")
        assert r.status_code == 204, r.text
        call_id = r.headers["Callscribe-Call-Id"]
        call = client.get(f"/api/calls/{call_id}", headers=company.headers).json()
        assert call["audio_filename"] == "call.wav"
        assert client.head(url, headers=h).headers["Callscribe-Upload-Status"] == "completed"
    assert not part.exists()  # gone once the call is committed
