"""Scaled-out processing: `callscribe worker` in its own process, on the SQLite and the
Redis queue; a worker killed mid-call leaves a call the next worker finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

import pytest

from tests.conftest import AUDIO, insert_text_engagement, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]


@pytest.fixture(params=["sqlite-queue", "redis-queue"])
def queue_env(request, app_env, monkeypatch):  # type: ignore[no-untyped-def]
    from callscribe.settings import reset_settings

    env = dict(app_env)
    env["CALLSCRIBE_QUEUE_NAME"] = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis-queue":
        import redis

        url = os.environ.get("CALLSCRIBE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        redis.Redis.from_url(url).ping()
        env["CALLSCRIBE_REDIS_URL"] = url
    env["CALLSCRIBE_STALE_AFTER_S"] = "2"
    env["CALLSCRIBE_SPEECH_WINDOW_S"] = "10"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "callscribe.cli", "worker", "--workers", "1"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def long_recording(tmp_path: Path, repeats: int = 4) -> Path:
    """A two-minute mono call: the sample conversation four times."""
    with wave.open(str(AUDIO / "sample.wav")) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    out = tmp_path / "long.wav"
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        for _ in range(repeats):
            dst.writeframes(frames)
    return out


def test_worker_process_completes_calls(queue_env, api_server, company, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "worker.log"
    worker = start_worker(queue_env, log)
    try:
        with api_server.client(headers=company.headers) as client:
            resp = client.post(
                "/api/add-calls",
                files={"call": ("s.wav", (AUDIO / "stereo_diarization.wav").read_bytes())},
            )
            call = wait_for_status(client, resp.json()["call_id"], timeout=180)
        assert call["status"] == "completed", (call["error"], log.read_text()[-2000:])
        assert {t["role"] for t in call["turns"]} == {"agent", "customer"}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def test_killed_worker_mid_call_is_finished_by_the_next_without_duplicates(
    queue_env, api_server, company, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a worker transcribing a two-minute call WHEN it is killed (SIGKILL) after the
    first turns were stored THEN a new worker picks the call up once its lease expires
    and the call completes with one clean set of turns and minutes."""
    from sqlalchemy import func, select

    from callscribe.calls.models import Minutes, Turn
    from callscribe.db import session_scope

    log = tmp_path / "worker.log"
    audio = long_recording(tmp_path)
    worker = start_worker(queue_env, log)
    with api_server.client(headers=company.headers) as client:
        call_id = client.post(
            "/api/add-calls", files={"call": ("long.wav", audio.read_bytes())}
        ).json()["call_id"]
        deadline = time.time() + 120
        while True:
            call = client.get(f"/api/calls/{call_id}").json()
            if call["status"] == "transcribing" and len(call["turns"]) >= 2:
                break
            assert call["status"] in ("received", "transcribing"), (call, log.read_text()[-2000:])
            assert time.time() < deadline, "the worker never started transcribing"
            time.sleep(0.05)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        partial = len(client.get(f"/api/calls/{call_id}").json()["turns"])
        assert partial >= 2

        worker = start_worker(queue_env, log)
        try:
            call = wait_for_status(client, call_id, ("completed", "failed"), timeout=180)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    assert call["status"] == "completed", (call["error"], log.read_text()[-3000:])
    assert call["attempts"] == 2
    turns = call["turns"]
    assert len(turns) > partial
    assert sorted(t["seq"] for t in turns) == list(range(len(turns)))
    keys = [(t["start_ms"], t["text"]) for t in turns]
    assert len(keys) == len(set(keys)), "duplicated turns"
    assert turns[-1]["end_ms"] > 90_000  # the whole recording, not just the first part
    with session_scope() as s:
        cid = uuid.UUID(call_id)
        assert s.scalar(
            select(func.count()).select_from(Turn).where(Turn.engagement_id == cid)
        ) == len(turns)
        assert (
            s.scalar(select(func.count()).select_from(Minutes).where(Minutes.engagement_id == cid))
            == 1
        )


def _json_lines(log: Path) -> list[dict]:
    import json

    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_worker_logs_a_call_under_the_request_id_that_enqueued_it(
    queue_env, api_server, company, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a worker logging JSON WHEN a ticket comes in with X-Request-ID: abc THEN
    every line the worker logs about processing it carries request_id abc; a call
    enqueued outside any request gets a fresh id of its own."""
    from callscribe.calls.tasks import enqueue_calls

    env = {**queue_env, "CALLSCRIBE_LOG_FORMAT": "json", "CALLSCRIBE_STALE_AFTER_S": "60"}
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        with api_server.client(headers=company.headers) as client:
            resp = client.post(
                "/api/tickets",
                headers={"X-Request-ID": "abc"},
                json={
                    "channel": "chat",
                    "messages": [
                        {"role": "customer", "text": "My card was charged twice."},
                        {"role": "agent", "text": "I will refund the second charge today."},
                    ],
                },
            )
            assert resp.status_code == 201, resp.text
            assert resp.headers["X-Request-ID"] == "abc"
            from_request = resp.json()["call_id"]
            outside = insert_text_engagement(
                company.id, [("customer", "Where is my parcel?"), ("agent", "On its way.")]
            )
            enqueue_calls([outside])
            for call_id in (from_request, str(outside)):
                call = wait_for_status(client, call_id, ("completed", "failed"), timeout=120)
                assert call["status"] == "completed", (call["error"], log.read_text()[-2000:])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    lines = _json_lines(log)
    about_request = [x for x in lines if from_request in x["message"]]
    about_outside = [x for x in lines if str(outside) in x["message"]]
    messages = [x["message"] for x in about_request]
    assert any("processing" in m for m in messages) and any("completed" in m for m in messages)
    assert {x.get("request_id") for x in about_request} == {"abc"}, about_request
    (fresh,) = {x.get("request_id") for x in about_outside}
    assert fresh and fresh != "abc" and len(fresh) == 32, about_outside
