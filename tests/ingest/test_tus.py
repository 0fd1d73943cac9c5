"""tus 1.0 resumable uploads: a 200 MB recording with tuspy, a dropped connection in the
middle, resumed by a new client; protocol errors."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import wave
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from tusclient import client as tus

from tests.conftest import AUDIO, CompanyCtx, LiveServer, wait_for_status

MB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def _big_wav(path: Path, total_bytes: int = 200 * MB) -> Path:
    """A real recording followed by silence, total_bytes long: the 5 s stereo test call
    upsampled to 96 kHz / 32-bit so 200 MB is about 4.5 minutes of audio (cheap to
    transcribe), header declaring the full length, silence written in big blocks."""
    with wave.open(str(AUDIO / "stereo_diarization.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    speech = (np.repeat(pcm, 6, axis=0).astype("<i4") << 16).tobytes()
    data_len = total_bytes - 44
    data_len -= data_len % 8  # whole stereo 32-bit frames
    rate, channels, width = 96_000, 2, 4
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, 8 * width
    )
    header += b"data" + struct.pack("<I", data_len)
    with path.open("wb") as fh:
        fh.write(header)
        fh.write(speech)
        left = data_len - len(speech)
        block = b"\0" * (8 * MB)
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * MB):
            h.update(chunk)
    return h.hexdigest()


def _drop_mid_patch(upload_url: str, headers: dict, offset: int, data: bytes, send: int) -> None:
    """Start a PATCH announcing len(data) bytes, send only `send` of them, then cut the
    connection (what a dropped mobile or office connection does)."""
    parts = urlsplit(upload_url)
    request = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        sock.sendall(data[:send])
        sock.shutdown(socket.SHUT_RDWR)


def _head(url: str, headers: dict) -> httpx.Response:
    return httpx.head(url, headers={**headers, **TUS}, timeout=30)


@pytest.mark.slow
def test_200mb_upload_cut_halfway_resumes_and_completes(
    live_server: LiveServer, company: CompanyCtx, tmp_path: Path
) -> None:
    """GIVEN a 200 MB recording
    WHEN tuspy uploads it in 16 MB chunks, stops after 6, a seventh PATCH is cut off
    mid-body, and a new tuspy client resumes from the server's offset
    THEN the stored file is byte-identical and the call completes with the metadata."""
    path = _big_wav(tmp_path / "long-call.wav")
    size = path.stat().st_size
    chunk = 16 * MB
    metadata = {
        "filename": "long-call.wav",
        "customer_name": "Acme Corp",
        "external_id": "tus-1",
        "direction": "inbound",
    }
    endpoint = f"{live_server.url}/api/uploads/"

    first = tus.TusClient(endpoint, headers=company.headers).uploader(
        str(path), chunk_size=chunk, metadata=metadata
    )
    for _ in range(6):
        first.upload_chunk()
    assert first.offset == 6 * chunk
    url = first.url
    assert _head(url, company.headers).headers["Upload-Offset"] == str(6 * chunk)

    with path.open("rb") as fh:
        fh.seek(6 * chunk)
        seventh = fh.read(chunk)
    _drop_mid_patch(url, company.headers, 6 * chunk, seventh, send=5 * MB)
    # the server keeps what arrived before the cut (it waits for the dropped request to
    # be wound up before it answers another request for this upload)
    second = tus.TusClient(endpoint, headers=company.headers).uploader(
        str(path), chunk_size=chunk, url=url
    )
    assert 6 * chunk < second.offset <= 6 * chunk + 5 * MB, second.offset
    second.upload()
    assert second.offset == size

    head = _head(url, company.headers)
    assert head.headers["Upload-Offset"] == str(size)
    call_id = head.headers["Callscribe-Call-Id"]
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id, timeout=300)
    assert call["status"] == "completed", call["error"]
    assert call["audio_size"] == size and call["audio_format"] == "wav"
    assert call["audio_filename"] == "long-call.wav" and call["external_id"] == "tus-1"
    assert call["customer_name"] == "Acme Corp" and call["direction"] == "inbound"
    assert 270 < call["duration_seconds"] < 275
    assert call["turns"], "the speech at the start was transcribed"
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.storage import get_store

    with session_scope() as s:
        key = s.get(Engagement, __import__("uuid").UUID(call_id)).audio_key
    with get_store().local_path(key) as stored:
        assert _sha256(stored) == _sha256(path)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def test_protocol_errors(api_server: LiveServer, company: CompanyCtx) -> None:
    h = company.headers
    with api_server.client() as client:
        r = client.options("/api/uploads/")
        assert r.status_code == 204
        assert r.headers["Tus-Version"] == "1.0.0"
        assert set(r.headers["Tus-Extension"].split(",")) == {
            "creation",
            "termination",
            "expiration",
        }
        assert int(r.headers["Tus-Max-Size"]) == 500 * MB

        create = {**h, **TUS, "Upload-Length": "10", "Upload-Metadata": f"filename {_b64('a.wav')}"}
        assert (
            client.post("/api/uploads/", headers={**create, "Tus-Resumable": "0.2.2"}).status_code
            == 412
        )
        assert (
            client.post(
                "/api/uploads/", headers={k: v for k, v in create.items() if k != "Authorization"}
            ).status_code
            == 401
        )
        assert (
            client.post(
                "/api/uploads/", headers={**create, "Upload-Length": str(501 * MB)}
            ).status_code
            == 413
        )
        assert (
            client.post(
                "/api/uploads/", headers={**create, "Upload-Metadata": "filename ***"}
            ).status_code
            == 400
        )
        assert (
            client.post(
                "/api/uploads/",
                headers={**create, "Upload-Metadata": f"direction {_b64('sideways')}"},
            ).status_code
            == 422
        )

        r = client.post("/api/uploads/", headers=create)
        assert r.status_code == 201 and r.headers["Tus-Resumable"] == "1.0.0"
        url = r.headers["Location"]
        patch = {**h, **TUS, "Content-Type": "application/offset+octet-stream"}
        assert (
            client.patch(url, headers={**patch, "Upload-Offset": "3"}, content=b"abc").status_code
            == 409
        )
        assert (
            client.patch(
                url,
                headers={**patch, "Content-Type": "text/plain", "Upload-Offset": "0"},
                content=b"abc",
            ).status_code
            == 415
        )
        assert (
            client.patch(
                url, headers={**patch, "Upload-Offset": "0"}, content=b"x" * 11
            ).status_code
            == 413
        )
        r = client.patch(url, headers={**patch, "Upload-Offset": "0"}, content=b"abc")
        assert r.status_code == 204 and r.headers["Upload-Offset"] == "3"
        other = __import__("tests.conftest", fromlist=["make_company"]).make_company("Other Co")
        assert client.head(url, headers={**other.headers, **TUS}).status_code == 404
        # the last bytes are not audio: the upload fails with a clear error, no call
        r = client.patch(url, headers={**patch, "Upload-Offset": "3"}, content=b"defghij")
        assert r.status_code == 415
        assert (
            client.head(url, headers={**h, **TUS}).headers["Callscribe-Upload-Status"] == "failed"
        )
        assert client.get("/api/calls", headers=h).json()["total"] == 0

        r = client.post("/api/uploads/", headers=create)
        url = r.headers["Location"]
        assert client.delete(url, headers={**h, **TUS}).status_code == 204
        assert client.head(url, headers={**h, **TUS}).status_code == 404
        assert (
            client.patch(url, headers={**patch, "Upload-Offset": "0"}, content=b"abc").status_code
            == 404
        )


@pytest.mark.slow
def test_two_web_processes_never_write_one_upload_at_once(
    api_server: LiveServer, app_env: dict[str, str], company: CompanyCtx, tmp_path: Path
) -> None:
    """GIVEN this process's server and a `callscribe serve` process on the same database
    and data dir WHEN a slow PATCH streams to one and a PATCH at the same offset reaches
    the other (a client resuming a connection it thinks dropped) THEN the second waits
    for the first and is refused with 409 offset_mismatch at the offset the first
    reached: the bytes were written once, in order."""
    import threading
    import time

    from tests.conftest import free_port, start_serve

    port = free_port()
    other = start_serve(app_env, port, tmp_path / "serve.log", "--no-worker")
    try:
        length = 6 * 64 * 1024
        created = httpx.post(
            f"{api_server.url}/api/uploads/",
            headers={**company.headers, **TUS, "Upload-Length": str(length)},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        path = urlsplit(created.headers["Location"]).path
        patch = {
            **company.headers,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        }
        first_half = bytes(range(256)) * (length // 2 // 256)

        def slow_body():  # type: ignore[no-untyped-def]
            for i in range(0, len(first_half), 64 * 1024):
                yield first_half[i : i + 64 * 1024]
                time.sleep(0.4)

        answers: dict[str, httpx.Response] = {}

        def slow() -> None:
            answers["slow"] = httpx.patch(
                f"{api_server.url}{path}", headers=patch, content=slow_body(), timeout=60
            )

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.5)  # the slow PATCH holds the upload now
        started = time.monotonic()
        racing = httpx.patch(
            f"http://127.0.0.1:{port}{path}", headers=patch, content=b"\xff" * 1000, timeout=60
        )
        waited = time.monotonic() - started
        thread.join(timeout=60)
        assert answers["slow"].status_code == 204, answers["slow"].text
        assert answers["slow"].headers["Upload-Offset"] == str(len(first_half))
        assert racing.status_code == 409, racing.text
        assert racing.json()["error"]["code"] == "offset_mismatch"
        assert waited > 0.5  # it waited for the first PATCH instead of writing beside it
        head = _head(f"http://127.0.0.1:{port}{path}", company.headers)
        assert head.headers["Upload-Offset"] == str(len(first_half))
    finally:
        other.terminate()
        other.wait(timeout=30)
