"""/api/add-calls checks the credentials when the file part begins, not after the whole
body (issue 17 #9): a bad key, or a file before any credential, is answered 401 while
the client is still sending, and nothing is staged."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import CompanyCtx, LiveServer

BOUNDARY = "xYzBoundary42"
DECLARED = 300 * 1024 * 1024  # announced, never sent


def _field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def _file_start() -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="call"; filename="big.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + b"RIFF"
        + b"\0" * 65536
    )


def _send_start(server: LiveServer, head_fields: bytes) -> tuple[int, bytes]:
    """Send the request line, a Content-Length of 300 MB and only the first ~64 KB of
    the body; return the status the server answers with meanwhile."""
    url = urlsplit(server.url)
    body_start = head_fields + _file_start()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /api/add-calls HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {DECLARED}\r\n\r\n"
            ).encode()
            + body_start
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = sock.recv(65536)
            if not got:
                break
            answer += got
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def _staged_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and "staging" in str(p)]


@pytest.mark.parametrize("case", ["bad key first", "file before any credential"])
def test_add_calls_refuses_before_reading_the_body(
    api_server: LiveServer, company: CompanyCtx, app_env: dict[str, str], case: str
) -> None:
    head = _field("api_key", "cs_not_a_real_key") if case == "bad key first" else b""
    head += _field("customer_name", "Zed")
    status, answer = _send_start(api_server, head)
    assert status == 401, answer[:300]
    assert b"unauthorized" in answer or b"API key" in answer
    data_dir = Path(app_env["CALLSCRIBE_DATA_DIR"])
    assert _staged_files(data_dir) == []


def test_a_good_key_sent_first_still_uploads(api_server: LiveServer, company: CompanyCtx) -> None:
    from tests.conftest import AUDIO

    with api_server.client() as c:
        r = c.post(
            "/api/add-calls",
            data={"api_key": company.api_key, "external_id": "early-ok"},
            files={"call": ("call.wav", (AUDIO / "sample.wav").read_bytes(), "audio/wav")},
        )
    assert r.status_code == 201, r.text
