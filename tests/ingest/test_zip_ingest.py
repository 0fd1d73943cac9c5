"""The ZIP ingest API end to end in process: a batch built from real transcripts loads,
its engagements get Minutes and are found by search, a re-sent batch changes nothing, a
modified one updates, item problems are messages (batch and technical log), and a worker
killed mid-batch finishes it on restart with nothing twice."""

from __future__ import annotations

import copy
import uuid

import pytest
from sqlalchemy import func, select

from tests.conftest import CompanyCtx
from tests.ingest.zipdata import Api, build_zip, data_sets


@pytest.fixture
def api(company: CompanyCtx):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    with TestClient(create_app()) as client:
        yield Api(client, company)


def _run(batch_id: str) -> str:
    from callscribe.ingest.zipbatch.runner import run_batch

    return run_batch(batch_id)


def _engagements(company_id: uuid.UUID) -> list:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        return list(s.scalars(select(Engagement).where(Engagement.company_id == company_id)))


def _count(model: type, company_id: uuid.UUID) -> int:
    from callscribe.db import session_scope

    with session_scope() as s:
        return int(
            s.scalar(select(func.count()).select_from(model).where(model.company_id == company_id))
            or 0
        )


def _log(company_id: uuid.UUID, batch_id: str) -> list:
    from callscribe.accounts.models import TechnicalLog
    from callscribe.db import session_scope

    with session_scope() as s:
        return [
            (r.data_set, r.level, r.message)
            for r in s.scalars(
                select(TechnicalLog).where(
                    TechnicalLog.company_id == company_id, TechnicalLog.ref == batch_id
                )
            )
        ]


def test_real_transcripts_load_get_minutes_are_searchable_and_resend_changes_nothing(
    api: Api, company: CompanyCtx
) -> None:
    from callscribe.calls.models import Minutes, Turn
    from callscribe.crm.models import Transaction
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from callscribe.search.service import search_turns

    sets = data_sets()
    body = build_zip(sets)
    batch_id = api.send(body)
    assert api.batch(batch_id)["status"] == "uploaded"
    assert _run(batch_id) == "completed"
    report = api.batch(batch_id)
    assert report["status"] == "completed", report["messages"]
    n_turns = len(sets["turns"])
    assert report["dataSets"]["turns"]["created"] == n_turns
    assert report["dataSets"]["engagements"]["created"] == len(sets["engagements"])
    assert report["dataSets"]["transactions"]["created"] == 3
    assert {f["name"] for f in report["files"]} >= {"turns-1.jsonl.gz", "turns-2.jsonl.gz"}
    engagements = _engagements(company.id)
    assert len(engagements) == 5 and {e.status for e in engagements} == {"received"}
    for e in engagements:  # what the queue would do: the pipeline, no speech step
        assert process_call(e.id) == "completed", e.error
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Minutes)) == 5
        assert s.scalar(select(func.count()).select_from(Turn)) == n_turns
        sale = s.scalars(select(Transaction).where(Transaction.external_id == "t-3")).one()
        assert sale.currency == "EUR" and sale.service_id is not None and sale.revenue == 120.5
        refund = s.scalars(select(Transaction).where(Transaction.external_id == "t-1")).one()
        assert refund.occurred_at.second == 0 and refund.occurred_at.minute == 7  # to the minute
        hv = next(e for e in _engagements(company.id) if e.external_id == "hv-0002f70f7386445b")
        assert hv.meta["recording_url"].endswith(".wav") and hv.talk_s == 64.5
        assert hv.agent_id is not None and hv.customer_id is not None
        hits = search_turns(s, company.id, "harper valley national bank", limit=5)
        assert any(h.engagement_id == hv.id for h in hits.hits)
    # the source's QA: the questions, a person's review with its answers and score, the
    # built-in `Reviewed` tag (counts toward coverage), and the AI's flag on the turn
    first_chat = next(e for e in _engagements(company.id) if e.external_id == "abcd-3592")
    listed = api.client.get(
        f"/api/reviews?engagement_id={first_chat.id}", headers=company.headers
    ).json()
    assert listed["total"] == 3
    by_kind = {(r["reviewer"]["kind"], r.get("score")) for r in listed["items"]}
    assert ("human", 92.5) in by_kind and ("ai", None) in by_kind
    ai = next(r for r in listed["items"] if r["reviewer"]["kind"] == "ai")
    assert ai["confidence"] == 0.81 and ai["turn_id"] is not None
    coverage = api.client.post(
        "/api/metrics/query",
        json={"metrics": ["review_coverage", "avg_qa_score"]},
        headers=company.headers,
    ).json()
    assert coverage["rows"] == [[pytest.approx(1 / 5), pytest.approx(92.5)]]
    # the same ZIP again: nothing created, everything unchanged, no engagement re-run
    again = api.send(body)
    assert _run(again) == "completed"
    report = api.batch(again)
    for name, items in sets.items():
        counts = report["dataSets"][name]
        assert counts["created"] == 0 and counts["updated"] == 0, (name, counts)
        assert counts["unchanged"] == len(items), (name, counts)
    assert {e.status for e in _engagements(company.id)} == {"completed"}
    assert _count(Transaction, company.id) == 3
    # a modified copy: those items update, and the engagement whose turn changed re-runs
    changed = copy.deepcopy(sets)
    changed["agents"][0]["team"] = "Chat EMEA"
    changed["turns"][0]["text"] = "Hello, thanks for contacting us today!"
    third = api.send(build_zip(changed))
    assert _run(third) == "completed"
    report = api.batch(third)
    assert report["dataSets"]["agents"]["updated"] == 1
    assert report["dataSets"]["turns"]["updated"] == 1
    assert report["dataSets"]["turns"]["unchanged"] == n_turns - 1
    statuses = {e.external_id: e.status for e in _engagements(company.id)}
    assert statuses.pop(sets["turns"][0]["engagement_id"]) == "received"
    assert set(statuses.values()) == {"completed"}


def test_trimmed_label_bad_enumeration_and_non_numeric_fact_are_messages(
    api: Api, company: CompanyCtx
) -> None:
    from callscribe.calls.models import Turn

    sets = {
        "agents": [{"id": "a1", "name": "Ann", "team": "T" * 130}],
        "engagements": [
            {
                "id": "e1",
                "channel": "chat",
                "agent_id": "a1",
                "facts": {"csat": "great", "aht": 310},
                "attributes": {"note": "n" * 150},
                "mood": "happy",
            },
            {"id": "e2", "channel": "fax"},
        ],
        "turns": [
            {
                "id": "t1",
                "engagement_id": "e1",
                "seq": 0,
                "role": "customer",
                "text": "My card is lost.",
            },
            {"id": "t2", "engagement_id": "e1", "seq": 1, "role": "narrator", "text": "bad role"},
            {"id": "t3", "engagement_id": "e2", "seq": 0, "role": "agent", "text": "no engagement"},
        ],
        "reviews": [
            {"id": "r1", "engagement_id": "e1", "turn_seq": 7, "tag": "Lost card"},
            {"id": "r2", "engagement_id": "e1", "score": -5},
        ],
        "surveys": [{"id": "x"}],
    }
    batch_id = api.send(build_zip(sets, gz=(), split_turns=1))
    assert _run(batch_id) == "completed_with_warnings"
    report = api.batch(batch_id)
    codes = {(m["dataSet"], m["code"], m["level"]) for m in report["messages"]}
    assert ("agents", "trimmed", "warning") in codes
    assert ("engagements", "trimmed", "warning") in codes
    assert ("engagements", "fact_not_numeric", "warning") in codes
    assert ("engagements", "unknown_field", "warning") in codes
    assert ("engagements", "bad_enumeration", "error") in codes
    assert ("turns", "bad_enumeration", "error") in codes
    assert ("turns", "unknown_reference", "error") in codes
    assert ("reviews", "unknown_reference", "error") in codes  # no turn 7
    assert ("reviews", "bad_value", "error") in codes  # a negative score
    assert ("surveys", "unknown_data_set", "warning") in codes
    assert report["dataSets"]["engagements"] | {} == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "warnings": 3,
    }
    assert report["dataSets"]["turns"]["created"] == 1
    assert report["dataSets"]["turns"]["rejected"] == 2
    (e1,) = _engagements(company.id)
    assert e1.facts == {"aht": 310} and len(e1.attributes["note"]) == 100
    assert _count(Turn, company.id) == 1
    logged = _log(company.id, batch_id)
    assert len(logged) == report["messageCount"] == len(report["messages"])
    assert any(d == "engagements" and "csat" in m and "not a number" in m for d, _l, m in logged)
    assert any(d == "agents" and "trimmed to 100" in m for d, _l, m in logged)
    assert any(d == "turns" and lvl == "error" and "narrator" in m for d, lvl, m in logged)


def test_worker_killed_mid_batch_finishes_once_on_restart(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN chunks of 10 items and a worker that dies in the second chunk of turns
    WHEN another worker takes the batch once the lease ran out
    THEN it goes on from the last committed chunk: every turn once, the counts once."""
    from callscribe.calls.models import Turn
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.loaders.engagements import TurnsLoader
    from callscribe.ingest.zipbatch.models import IngestBatch
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_INGEST_CHUNK_ITEMS", "10")
    reset_settings()
    sets = data_sets()
    batch_id = api.send(build_zip(sets, split_turns=1))
    real = TurnsLoader.load_chunk
    calls = {"n": 0}

    def dying(self, chunk, items):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            real(self, chunk, items)  # written, but its transaction never commits
            raise SystemExit("worker killed")
        return real(self, chunk, items)

    monkeypatch.setattr(TurnsLoader, "load_chunk", dying)
    with pytest.raises(SystemExit):
        _run(batch_id)
    assert api.batch(batch_id)["status"] == "processing"
    assert _count(Turn, company.id) == 10  # the first chunk only
    assert _run(batch_id) == "skipped"  # the dead worker's lease still holds
    with session_scope() as s:  # time passes: the lease runs out
        s.get(IngestBatch, uuid.UUID(batch_id)).heartbeat_at = None  # type: ignore[union-attr]
    assert _run(batch_id) == "completed"
    report = api.batch(batch_id)
    assert report["dataSets"]["turns"]["created"] == len(sets["turns"])
    assert report["dataSets"]["engagements"]["created"] == len(sets["engagements"])
    assert _count(Turn, company.id) == len(sets["turns"])
    assert {e.status for e in _engagements(company.id)} == {"received"}


def test_recording_url_is_fetched_through_the_ssrf_guard_after_the_batch(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN engagements naming recording URLs WHEN the batch is in THEN the fetch task
    stores the served recording for playback; a private address is refused by the guard
    (a technical-log line, the engagement untouched)."""
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.tasks import fetch_recording_now
    from callscribe.settings import reset_settings
    from callscribe.storage import get_store
    from tests.conftest import DATA
    from tests.httpservers import send_bytes, serve

    audio = (DATA / "audio" / "jfk.flac").read_bytes()
    with serve({"/rec.flac": lambda h: send_bytes(h, audio, "audio/flac")}) as base:
        sets = {
            "engagements": [{"id": "e1", "channel": "voice", "recording_url": f"{base}/rec.flac"}],
            "turns": [
                {"id": "t1", "engagement_id": "e1", "seq": 0, "role": "agent", "text": "Hi."}
            ],
        }
        batch_id = api.send(build_zip(sets, gz=(), split_turns=1))
        assert _run(batch_id) == "completed"
        (e1,) = _engagements(company.id)
        assert e1.audio_key is None  # fetched after the batch, not during it
        assert fetch_recording_now(e1.id) == "fetched"
        (e1,) = _engagements(company.id)
        assert e1.audio_format == "flac" and get_store().size(e1.audio_key) == len(audio)
        monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
        reset_settings()
        sets["engagements"][0]["id"] = "e2"
        sets["turns"][0]["engagement_id"] = "e2"
        assert _run(api.send(build_zip(sets, gz=(), split_turns=1))) == "completed"
        e2 = next(e for e in _engagements(company.id) if e.external_id == "e2")
        assert fetch_recording_now(e2.id) == "failed"
    with session_scope() as s:
        from callscribe.accounts.models import TechnicalLog

        lines = [
            r.message for r in s.scalars(select(TechnicalLog).where(TechnicalLog.ref == str(e2.id)))
        ]
    assert lines and "could not be fetched" in lines[0]
    assert next(e for e in _engagements(company.id) if e.external_id == "e2").audio_key is None


@pytest.mark.slow
def test_a_worker_process_killed_with_sigkill_mid_batch_loads_everything_once(
    api: Api, company: CompanyCtx, app_env: dict[str, str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a worker process loading a 3,000-turn batch in chunks of 50
    WHEN it is SIGKILLed after some turns are committed and the lease runs out
    THEN the next worker finishes the batch: every turn once, counts once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.models import IngestBatch, IngestBatchFile

    turns = [
        {
            "id": f"t{n}",
            "engagement_id": f"e{n // 30}",
            "seq": n % 30,
            "role": "agent" if n % 2 else "customer",
            "text": f"turn number {n} about my card",
        }
        for n in range(3000)
    ]
    sets = {"engagements": [{"id": f"e{i}", "channel": "chat"} for i in range(100)], "turns": turns}
    batch_id = api.send(build_zip(sets, split_turns=1))
    env = {**os.environ, **app_env, "CALLSCRIBE_INGEST_CHUNK_ITEMS": "50"}
    code = f"from callscribe.ingest.zipbatch.runner import run_batch; run_batch({batch_id!r})"
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 60
    try:
        while True:
            with session_scope() as s:
                done = s.scalar(
                    select(IngestBatchFile.lines_done).where(IngestBatchFile.data_set == "turns")
                )
            if done and done >= 200:
                break
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            assert time.time() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with session_scope() as s:
        batch = s.get(IngestBatch, uuid.UUID(batch_id))
        assert batch is not None and batch.status == "processing"
        assert 0 < s.scalar(select(func.count()).select_from(Turn)) < 3000  # type: ignore[operator]
        batch.heartbeat_at = None  # the dead worker's lease ran out
    assert _run(batch_id) == "completed"
    report = api.batch(batch_id)
    assert report["dataSets"]["turns"]["created"] == 3000
    assert report["dataSets"]["turns"]["rejected"] == 0
    assert _count(Turn, company.id) == 3000
