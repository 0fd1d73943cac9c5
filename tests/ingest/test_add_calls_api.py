"""The seed ingestion contract: POST /api/add-calls, exactly as our docs show it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer, wait_for_status

pytestmark = pytest.mark.slow


def _mp3(tmp_path: Path) -> Path:
    """A real MP3 of the two-party sample call, encoded with PyAV."""
    import av

    out = tmp_path / "call.mp3"
    with av.open(str(AUDIO / "sample.wav")) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("mp3", rate=16000)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


def _agent(ext: str = "EXT-456") -> str:
    from callscribe.accounts import service
    from callscribe.db import session_scope
    from callscribe.settings import get_settings  # noqa: F401

    with session_scope() as s:
        from sqlalchemy import select

        from callscribe.accounts.models import Company

        company = s.scalars(select(Company)).first()
        agent = service.upsert_agent(s, company.id, name="Dana Agent", extension_id=ext)
        return str(agent.id)


def test_seed_curl_example_uploads_and_completes(
    live_server: LiveServer, company: CompanyCtx, tmp_path: Path
) -> None:
    """GIVEN a running server and an agent with extension EXT-456
    WHEN the documented curl command uploads an MP3
    THEN the 201 body matches the contract and the call completes with turns, minutes
    and its action items, attributed to that agent, order_id kept as worker_id."""
    agent_id = _agent()
    mp3 = _mp3(tmp_path)
    curl = shutil.which("curl")
    assert curl, "curl is needed for the seed example"
    out = subprocess.run(
        [
            curl,
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "-F",
            f"api_key={company.api_key}",
            "-F",
            f"call=@{mp3}",
            "-F",
            "customer_name=Acme Corp",
            "-F",
            f"user_id={agent_id}",
            "-F",
            "extension_id=EXT-456",
            "-F",
            "order_id=ORD-789",
            f"{live_server.url}/api/add-calls",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    body_text, status = out.rsplit("\n", 1)
    assert status == "201"
    import json

    body = json.loads(body_text)
    assert set(body) >= {
        "success",
        "call_id",
        "message",
        "audio_url",
        "duration_seconds",
        "processing_time_ms",
    }
    assert body["success"] is True
    assert body["message"] == "Call uploaded successfully and queued for processing"
    assert body["duration_seconds"] == 30
    assert isinstance(body["processing_time_ms"], int)
    uuid.UUID(body["call_id"])

    # the audio URL works without other credentials and returns the stored MP3
    audio = httpx.get(body["audio_url"], timeout=30)
    assert audio.status_code == 200
    assert audio.content == mp3.read_bytes()

    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, body["call_id"])
    assert call["status"] == "completed", call["error"]
    assert call["customer_name"] == "Acme Corp"
    assert call["worker_id"] == "ORD-789"
    assert call["agent"]["id"] == agent_id
    assert len(call["turns"]) >= 3
    assert all(t["role"] == "unknown" for t in call["turns"])  # mono recording
    assert call["minutes"]["summary"]
    assert call["minutes"]["sentiment"] in ("positive", "neutral", "negative", "mixed")
    assert isinstance(call["action_items"], list)
