"""Sheets: rows stream in (JSON array, NDJSON), finalize processes them in the
background into calls (audio URL) and tickets (text), with per-row errors."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import AUDIO, DATA, CompanyCtx, LiveServer, wait_for_status

MAPPING = {
    "audio_url": "Recording",
    "text": "Transcript",
    "external_id": "ID",
    "customer_name": "Customer",
    "agent_email": "Rep",
    "channel": "Channel",
}


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    """A local file server with the test audio and a file that is not audio."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "jfk.flac").write_bytes((AUDIO / "jfk.flac").read_bytes())
    (root / "notes.txt").write_text("not audio at all\n" * 10)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _abcd_text() -> str:
    convo = json.loads((DATA / "transcripts" / "abcd" / "abcd_sample.json").read_text())[1]
    return "\n".join(
        f"{'Agent' if role == 'agent' else 'Customer' if role == 'customer' else 'Bot'}: {text}"
        for role, text in convo["original"]
    )


@pytest.mark.slow
def test_sheet_rows_become_calls_and_tickets_with_per_row_errors(
    live_server: LiveServer, company: CompanyCtx, files: str
) -> None:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        service.upsert_agent(s, company.id, name="Dana", email="dana@example.com")
    with live_server.client(headers=company.headers) as client:
        r = client.post("/api/sheets", json={"name": "November", "mapping": MAPPING})
        assert r.status_code == 201, r.text
        sheet = r.json()
        assert sheet["status"] == "open" and sheet["total_rows"] == 0
        sid = sheet["id"]
        batch1 = [
            {
                "ID": "r1",
                "Recording": f"{files}/jfk.flac",
                "Customer": "Acme",
                "Rep": "dana@example.com",
            },
            {
                "ID": "r2",
                "Transcript": _abcd_text(),
                "Channel": "chat",
                "Customer": "Abcd Customer",
            },
            {"ID": "r3", "Recording": f"{files}/missing.mp3"},
            {"ID": "r4", "Customer": "Nobody"},
        ]
        r = client.post(f"/api/sheets/{sid}/rows", json=batch1)
        assert r.json() == {"success": True, "accepted": 4, "total_rows": 4}
        batch2 = [
            {
                "ID": "r5",
                "Transcript": "Customer: my invoice is wrong\nAgent: I fixed it, sent a new one.",
                "Channel": "email",
            },
            {"ID": "r6", "Recording": f"{files}/notes.txt"},
            {"ID": "r7", "Recording": f"{files}/jfk.flac", "Rep": "ghost@example.com"},
        ]
        ndjson = "\n".join(json.dumps(row) for row in batch2) + "\n"
        r = client.post(
            f"/api/sheets/{sid}/rows",
            content=ndjson,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.json()["total_rows"] == 7

        r = client.post(f"/api/sheets/{sid}/finalize")
        assert r.status_code == 202 and r.json()["status"] in ("processing", "completed")
        late = client.post(
            f"/api/sheets/{sid}/rows", json=[{"ID": "r8", "Transcript": "Agent: hi"}]
        )
        assert late.status_code == 409 and late.json()["error"]["code"] == "sheet_finalized"
        assert client.post(f"/api/sheets/{sid}/finalize").status_code == 409

        deadline = time.time() + 120
        while (sheet := client.get(f"/api/sheets/{sid}").json())["status"] != "completed":
            assert time.time() < deadline, sheet
            time.sleep(0.3)
        assert (
            sheet["total_rows"] == 7 and sheet["processed_rows"] == 7 and sheet["progress"] == 1.0
        )
        errors = {e["row"]: e["error"] for e in sheet["errors"]}
        assert sorted(errors) == [3, 4, 6, 7], errors
        assert "404" in errors[3] or "download" in errors[3].lower()
        assert "neither" in errors[4]
        assert "not a supported recording" in errors[6]
        assert "agent" in errors[7].lower()
        assert len(sheet["call_ids"]) == 3
        calls = [wait_for_status(client, cid) for cid in sheet["call_ids"]]
        assert [c["status"] for c in calls] == ["completed"] * 3, [c["error"] for c in calls]
        assert [c["channel"] for c in calls] == ["voice", "chat", "email"]
        assert (
            calls[0]["agent"]["email"] == "dana@example.com" and calls[0]["customer_name"] == "Acme"
        )
        assert all(c["minutes"]["summary"] for c in calls)
        assert calls[1]["turns"][0]["role"] == "agent"


def test_sheet_requests_are_validated(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client(headers=company.headers) as client:
        assert (
            client.post("/api/sheets", json={"mapping": {"customer_name": "A"}}).status_code == 422
        )
        assert (
            client.post("/api/sheets", json={"mapping": {"color": "A", "text": "T"}}).status_code
            == 422
        )
        sid = client.post("/api/sheets", json={"mapping": {"text": "T"}}).json()["id"]
        assert client.post(f"/api/sheets/{sid}/finalize").status_code == 400  # no rows yet
        assert client.post(f"/api/sheets/{sid}/rows", json={"T": "x"}).status_code == 422
        assert (
            client.post(f"/api/sheets/{sid}/rows", json=[{"T": {"nested": 1}}]).status_code == 422
        )
        r = client.post(
            f"/api/sheets/{sid}/rows",
            content="{bad\n",
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 400
        assert (
            client.post(
                f"/api/sheets/{sid}/rows", content="a,b", headers={"Content-Type": "text/csv"}
            ).status_code
            == 415
        )
        assert client.get(f"/api/sheets/{sid}").json()["total_rows"] == 0
        assert client.get("/api/sheets/00000000-0000-0000-0000-000000000000").status_code == 404
        assert client.get("/api/sheets/not-an-id").status_code == 404
