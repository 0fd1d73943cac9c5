"""`callscribe serve` as a process: it stops on SIGTERM and Ctrl-C within a bound while a
call is being transcribed (issue 17 #4), bounds the request head, and cuts off an upload
whose body stops arriving (issue 17 #14)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.calls.test_worker_recovery import long_recording
from tests.conftest import free_port, start_serve, wait_for_status

pytestmark = pytest.mark.slow

GRACE_S = 3


@pytest.fixture
def serve_env(app_env: dict[str, str]) -> dict[str, str]:
    return {
        **app_env,
        "CALLSCRIBE_SHUTDOWN_GRACE_S": str(GRACE_S),
        "CALLSCRIBE_STALE_AFTER_S": "4",
        "CALLSCRIBE_SPEECH_WINDOW_S": "10",
        "CALLSCRIBE_QUEUE_WORKERS": "1",
        "CALLSCRIBE_BODY_IDLE_TIMEOUT_S": "2",
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_busy_server_stops_on_signal_and_the_call_is_finished_later(
    sig: signal.Signals, serve_env: dict[str, str], company, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN serve transcribing a two-minute call WHEN it gets SIGTERM / SIGINT THEN it
    exits 0 within the bound (before: it ignored both), and a later serve finishes the
    call once the lease has expired."""
    log = tmp_path / "serve.log"
    port = free_port()
    proc = start_serve(serve_env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=company.headers, timeout=30) as client:
            audio = long_recording(tmp_path)
            call_id = client.post(
                "/api/add-calls", files={"call": ("long.wav", audio.read_bytes())}
            ).json()["call_id"]
            deadline = time.time() + 120
            while client.get(f"/api/calls/{call_id}").json()["status"] != "transcribing":
                assert time.time() < deadline, log.read_text()[-3000:]
                time.sleep(0.05)
        proc.send_signal(sig)
        # bound: uvicorn's drain + the consumer's grace + the sweeper join, with slack
        rc = proc.wait(timeout=2 * GRACE_S + 20)
        assert rc == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    proc = start_serve(serve_env, port, log)
    try:
        with httpx.Client(base_url=base, headers=company.headers, timeout=30) as client:
            call = wait_for_status(client, call_id, ("completed", "failed"), timeout=240)
        assert call["status"] == "completed", (call["error"], log.read_text()[-3000:])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=2 * GRACE_S + 20) == 0


def test_oversized_header_is_refused_and_stalled_upload_is_cut_off(
    serve_env: dict[str, str], company, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A 1 MB header gets 4xx (before: a 32 MB one was read); an upload that stops
    sending its body is answered and closed after the idle limit, and stores no call."""
    log = tmp_path / "serve.log"
    port = free_port()
    proc = start_serve({**serve_env, "CALLSCRIBE_QUEUE_WORKERS": "1"}, port, log)
    try:
        try:
            resp = httpx.get(
                f"http://127.0.0.1:{port}/api/health",
                headers={"X-Big": "a" * 1_000_000},
                timeout=30,
            )
            assert resp.status_code in (400, 431)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            pass  # answered 400 and closed while the client was still sending

        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            boundary = "b0undary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="call"; '
                'filename="s.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            ).encode()
            sock.sendall(
                (
                    "POST /api/add-calls HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {company.api_key}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    "Content-Length: 10000000\r\n\r\n"
                ).encode()
                + head
                + b"RIFF"
                + b"\0" * 60_000
            )
            # then nothing: the server must answer and close, not wait forever
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.split(b" ", 2)[1].startswith(b"4"), reply[:200]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=company.headers, timeout=30
        ) as client:
            assert client.get("/api/calls").json()["total"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=2 * GRACE_S + 20)
