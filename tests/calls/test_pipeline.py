"""The processing pipeline end to end, through a real consumer."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer, wait_for_status
from tests.minutes.conftest import ChatServer, Reply, completion
from tests.speech.conftest import word_error_rate

pytestmark = pytest.mark.slow


def upload(server: LiveServer, company: CompanyCtx, path, **fields) -> str:  # type: ignore[no-untyped-def]
    with server.client(headers=company.headers) as client:
        resp = client.post(
            "/api/add-calls", files={"call": (path.name, path.read_bytes())}, data=fields
        )
    assert resp.status_code == 201, resp.text
    return resp.json()["call_id"]


def test_stereo_call_comes_out_with_agent_and_customer_turns(live_server, company) -> None:  # type: ignore[no-untyped-def]
    call_id = upload(live_server, company, AUDIO / "stereo_diarization.wav")
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
    assert call["status"] == "completed", call["error"]
    assert call["audio_channels"] == 2
    roles = {t["role"] for t in call["turns"]}
    assert roles == {"agent", "customer"}
    by_role = {r: " ".join(t["text"] for t in call["turns"] if t["role"] == r) for r in roles}
    refs = json.loads((AUDIO / "faster-whisper-references.json").read_text())
    reference = refs["stereo_diarization.wav"]
    # channel 0 (left) is the agent by default, channel 1 (right) the customer: each
    # role carries its own channel's sentence and not the other's
    assert word_error_rate(reference["left_channel"], by_role["agent"]) < 0.2, by_role
    assert word_error_rate(reference["right_channel"], by_role["customer"]) < 0.2, by_role
    assert "horizon" not in by_role["agent"].lower()
    assert "wizard" not in by_role["customer"].lower()
    starts = [t["start_ms"] for t in call["turns"]]
    assert starts == sorted(starts)
    # the decoding that produced this transcript is kept with the call
    assert call["metadata"]["speech"]["temperatures"] == [0.0]
    # conversation stats (speech.stats) from the two channels' turns: each channel's talk
    # is its turns' covered milliseconds, a turn starting inside the other channel's is
    # an interruption
    stats = call["stats"]
    for role in roles:
        covered: set[int] = set()
        for t in call["turns"]:
            if t["role"] == role:
                covered.update(range(t["start_ms"], t["end_ms"]))
        assert stats["talk_s"][role] == pytest.approx(len(covered) / 1000, abs=0.002)
        cut_ins = sum(
            1
            for t in call["turns"]
            if t["role"] == role
            and any(
                o["role"] != role and o["start_ms"] < t["start_ms"] < o["end_ms"]
                for o in call["turns"]
            )
        )
        if stats["interruptions"] is not None:
            assert stats["interruptions"][role] == cut_ins
    assert sum(stats["talk_ratio"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= stats["silence_share"] < 1


def test_channel_roles_are_configurable(live_server, company) -> None:  # type: ignore[no-untyped-def]
    with live_server.client(headers=company.headers) as client:
        resp = client.put(
            "/api/settings/ai", json={"channel_roles": {"*": {"0": "customer", "1": "agent"}}}
        )
        assert resp.status_code == 200, resp.text
    call_id = upload(live_server, company, AUDIO / "stereo_diarization.wav")
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
    ch = {(t["channel"], t["role"]) for t in call["turns"]}
    assert ch == {(0, "customer"), (1, "agent")}


def test_mono_call_has_unknown_roles_and_minutes(live_server, company) -> None:  # type: ignore[no-untyped-def]
    call_id = upload(live_server, company, AUDIO / "jfk.flac")  # two identical channels = mono
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
    assert call["status"] == "completed"
    assert {t["role"] for t in call["turns"]} == {"unknown"}
    text = " ".join(t["text"] for t in call["turns"]).lower()
    assert "ask not what your country can do for you" in text.replace(",", "")
    assert call["minutes"]["subject"] and call["minutes"]["summary"]
    assert call["processing_time_ms"] > 0


def test_corrupt_audio_fails_with_readable_error_and_can_be_retried(
    live_server, company, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 400)
    call_id = upload(live_server, company, bad)
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
        assert call["status"] == "failed"
        assert "decode" in call["error"].lower()
        assert call["turns"] == [] and call["minutes"] is None
        retry = client.post(f"/api/calls/{call_id}/retry")
        assert retry.status_code == 200 and retry.json()["status"] == "received"
        call = wait_for_status(client, call_id)
        assert call["status"] == "failed" and call["attempts"] == 1


def test_events_stream_status_and_segments(live_server, company) -> None:  # type: ignore[no-untyped-def]
    call_id = upload(live_server, company, AUDIO / "sample.wav")
    events: list[tuple[str, dict]] = []
    with httpx.Client(base_url=live_server.url, headers=company.headers, timeout=120) as client:
        with client.stream("GET", f"/api/calls/{call_id}/events") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and name:
                    events.append((name, json.loads(line.split(":", 1)[1])))
        final = client.get(f"/api/calls/{call_id}").json()
    statuses = [e["status"] for n, e in events if n == "status"]
    segments = [e for n, e in events if n == "segment"]
    assert statuses[-1] == "completed"
    assert "analyzing" in statuses or "transcribing" in statuses
    assert len(segments) == len(final["turns"])
    assert {s["text"] for s in segments} == {t["text"] for t in final["turns"]}
    # a mono call is diarized: every turn carries its speaker next to its role, the
    # transcribed segments split where the speaker changes; with no configured side and
    # no agent phrases (two people chatting) the roles stay unknown rather than guessed
    turns = final["turns"]
    assert {t["speaker"] for t in turns} == {"S1", "S2"}
    assert all(t["role"] == "unknown" and t["channel"] is None for t in turns)
    assert any(a["speaker"] != b["speaker"] for a, b in zip(turns, turns[1:], strict=False))


def test_llm_engine_without_key_waits_then_resumes_when_key_is_set(live_server, company) -> None:  # type: ignore[no-untyped-def]
    """GIVEN the company uses an OpenAI-compatible engine but no key is set
    WHEN a call is processed THEN it waits with the reason, transcript kept;
    WHEN the key is set THEN the call resumes and completes with the model's minutes."""
    chat = ChatServer().start()
    minutes = {
        "subject": "Booking a train to Cambridge",
        "summary": "The customer booked a train.",
        "overview": "",
        "sentiment": "positive",
        "outcome": "resolved",
        "sections": [{"heading": "Booking", "bullets": ["Train at 08:45"]}],
        "action_items": [
            {
                "title": "Send the ticket by email",
                "priority": "high",
                "status": "open",
                "owner": "agent",
                "due": None,
            }
        ],
        "notes": [],
        "tags": ["train"],
    }
    chat.responder = lambda body, n: Reply(200, completion(json.dumps(minutes)))
    try:
        with live_server.client(headers=company.headers) as client:
            resp = client.put(
                "/api/settings/ai",
                json={
                    "ai_engine": "openai",
                    "ai_provider": "custom",
                    "ai_base_url": chat.base_url,
                    "ai_model": "m",
                },
            )
            assert resp.status_code == 200, resp.text
            call_id = upload(live_server, company, AUDIO / "jfk.flac")
            call = wait_for_status(client, call_id)
            assert call["status"] == "waiting"
            assert call["status_reason"] == "AI key not set"
            assert call["turns"], "the transcript is kept while waiting"
            turn_count = len(call["turns"])

            resp = client.put("/api/settings/ai", json={"ai_api_key": "sk-test-123456789"})
            body = resp.json()
            assert body["ai_api_key_set"] is True and body["ai_api_key_last4"] == "6789"
            assert "sk-test" not in resp.text
            call = wait_for_status(client, call_id, ("completed", "failed"))
        assert call["status"] == "completed", call["error"]
        assert call["minutes"]["subject"] == "Booking a train to Cambridge"
        assert call["minutes"]["analyzer"].startswith("openai")
        assert [a["title"] for a in call["action_items"]] == ["Send the ticket by email"]
        assert len(call["turns"]) == turn_count  # not transcribed twice
        assert chat.requests[-1].headers["authorization"] == "Bearer sk-test-123456789"
    finally:
        chat.stop()


def test_llm_failure_fails_the_call_with_its_reason(live_server, company) -> None:  # type: ignore[no-untyped-def]
    chat = ChatServer().start()
    chat.responder = lambda body, n: Reply(200, completion("this is not json"))
    try:
        with live_server.client(headers=company.headers) as client:
            client.put(
                "/api/settings/ai",
                json={
                    "ai_engine": "openai",
                    "ai_base_url": chat.base_url,
                    "ai_model": "m",
                    "ai_api_key": "sk-zzzz",
                },
            ).raise_for_status()
            call = wait_for_status(client, upload(live_server, company, AUDIO / "jfk.flac"))
        assert call["status"] == "failed"
        assert call["error"] and "sk-zzzz" not in call["error"]
        assert len(chat.requests) >= 2  # retried before giving up
    finally:
        chat.stop()


def test_action_items_listed_filtered_and_patched(live_server, company) -> None:  # type: ignore[no-untyped-def]
    chat = ChatServer().start()
    items = [
        {
            "title": "Call back tomorrow",
            "priority": "high",
            "status": "open",
            "owner": "agent",
            "due": None,
        },
        {
            "title": "Email the invoice",
            "priority": "low",
            "status": "open",
            "owner": "agent",
            "due": None,
        },
    ]
    body = {
        "subject": "s",
        "summary": "x",
        "overview": "",
        "sentiment": "neutral",
        "outcome": "resolved",
        "sections": [],
        "action_items": items,
        "notes": [],
        "tags": [],
    }
    chat.responder = lambda b, n: Reply(200, completion(json.dumps(body)))
    try:
        with live_server.client(headers=company.headers) as client:
            client.put(
                "/api/settings/ai",
                json={
                    "ai_engine": "openai",
                    "ai_base_url": chat.base_url,
                    "ai_model": "m",
                    "ai_api_key": "k-1",
                },
            ).raise_for_status()
            call_id = upload(live_server, company, AUDIO / "jfk.flac")
            wait_for_status(client, call_id)
            listed = client.get("/api/action-items").json()
            assert listed["total"] == 2
            high = client.get("/api/action-items", params={"priority": "high"}).json()[
                "action_items"
            ]
            assert [i["title"] for i in high] == ["Call back tomorrow"]
            done = client.patch(f"/api/action-items/{high[0]['id']}", json={"status": "done"})
            assert done.status_code == 200 and done.json()["status"] == "done"
            assert client.get("/api/action-items", params={"status": "done"}).json()["total"] == 1
            bad = client.patch(f"/api/action-items/{high[0]['id']}", json={"status": "finished"})
            assert bad.status_code == 422
    finally:
        chat.stop()


def test_minutes_downloads_in_three_formats(live_server, company) -> None:  # type: ignore[no-untyped-def]
    import io

    import docx
    import pypdf

    call_id = upload(live_server, company, AUDIO / "jfk.flac")
    with live_server.client(headers=company.headers) as client:
        call = wait_for_status(client, call_id)
        summary_start = call["minutes"]["summary"].split()[0:3]
        md = client.get(f"/api/calls/{call_id}/minutes.md")
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert "attachment" in md.headers["content-disposition"]
        assert "Transcript" in md.text
        d = client.get(f"/api/calls/{call_id}/minutes.docx")
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(d.content)).paragraphs)
        assert " ".join(summary_start) in text
        p = client.get(f"/api/calls/{call_id}/minutes.pdf")
        assert p.content.startswith(b"%PDF")
        pdf_text = " ".join(
            pg.extract_text() for pg in pypdf.PdfReader(io.BytesIO(p.content)).pages
        )
        assert summary_start[0] in pdf_text
        assert client.get(f"/api/calls/{call_id}/minutes.xls").status_code == 404


def test_parallel_uploads_with_same_external_id_make_one_call(api_server, company) -> None:  # type: ignore[no-untyped-def]
    data = (AUDIO / "jfk.flac").read_bytes()
    results: list[int] = []

    def send() -> None:
        with api_server.client(headers=company.headers) as client:
            r = client.post(
                "/api/add-calls", files={"call": ("a.flac", data)}, data={"external_id": "same"}
            )
            results.append(r.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results).count(201) == 1 and len(results) == 8
    with api_server.client(headers=company.headers) as client:
        assert client.get("/api/calls").json()["total"] == 1
