"""The scaled-out install under load and faults (issue 16): PostgreSQL, a Redis of its
own, the S3 server, `callscribe serve --web-workers 2 --no-worker` and three
`callscribe worker` processes, all real subprocesses. SOAK_CALLS calls come in as
uploads of real recordings, audio URLs, text tickets and CloudVoice webhooks delivered
several times, while a chaos thread SIGKILLs a random worker every few seconds (and
starts it again) and Redis is killed and restarted once, losing everything queued.

At the end every call is `completed` exactly once, with one set of turns and one
Minutes; each call has one delivery, received under one webhook-id (a re-send of that id
only where the attempt that sent it was killed before it could record the answer); no
blob in the bucket belongs to no call; and no process log holds a key or secret of
the run. The figures are printed (`pytest -s` shows them).

    pytest tests/test_soak.py -n 0 -s          # SOAK_CALLS=N for another load
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUDIO, _pg_admin, _pg_url_for, free_port, make_company, start_serve
from tests.connectors.conftest import Tracks, add_connector, tracks
from tests.connectors.fakes import FakeCloudVoice, Run, utc_ago
from tests.delivery.conftest import Receiver
from tests.httpservers import send_bytes, serve
from tests.storage.s3server import ACCESS_KEY, BUCKET, SECRET_KEY, s3_endpoint, s3_env

__all__ = ["s3_endpoint", "tracks"]  # fixtures

pytestmark = pytest.mark.slow

SOAK_CALLS = int(os.environ.get("SOAK_CALLS", "200"))  # the 200: ~2 min on 2 quiet cores
WORKERS = 3
KILL_EVERY_S = (4.0, 8.0)  # a random worker is SIGKILLed this often (uniform)
REDIS_DOWN_S = 3.0
DEADLINE_S = float(os.environ.get("SOAK_DEADLINE_S", "420"))  # under pytest-timeout
WEBHOOK_SECRET = "soak-webhook-signing-" + uuid.uuid4().hex[:12]

# short real recordings (5 s stereo, 11 s mono): a soak is about the processes, and a
# worker killed every few seconds must get through a call now and then
RECORDINGS = [AUDIO / "stereo_diarization.wav", AUDIO / "jfk.flac"]


# -- the install -----------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: a restart
    loses everything that was queued (what a flushed or failed-over Redis does)."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        import redis

        deadline = time.time() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                assert time.time() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def soak_env(
    pg_server_url: str,
    pg_template: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[dict[str, str], RedisServer]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    from cryptography.fernet import Fernet

    from callscribe import db, queue, storage
    from callscribe.settings import reset_settings

    name = f"cs_soak_{uuid.uuid4().hex[:10]}"
    with _pg_admin(pg_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    redis_server = RedisServer(tmp_path / "redis.log")
    redis_server.start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        "CALLSCRIBE_DATA_DIR": str(data_dir),
        "CALLSCRIBE_DATABASE_URL": _pg_url_for(pg_server_url, name),
        "CALLSCRIBE_REDIS_URL": redis_server.url,
        "CALLSCRIBE_QUEUE_NAME": f"soak-{uuid.uuid4().hex[:8]}",
        "CALLSCRIBE_SECRET_KEY": Fernet.generate_key().decode(),
        **s3_env(s3_endpoint),
        "CALLSCRIBE_ALLOW_PRIVATE_URLS": "true",  # every server of the test is on 127.0.0.1
        "CALLSCRIBE_LOG_FORMAT": "json",
        "CALLSCRIBE_LOG_LEVEL": "INFO",
        "CALLSCRIBE_RATE_LIMIT_WINDOW_S": "1000000000",
        # a killed worker's call is taken over once its lease is this old
        "CALLSCRIBE_STALE_AFTER_S": "4",
        "CALLSCRIBE_SWEEP_INTERVAL_S": "1",
        "CALLSCRIBE_OUTBOX_RETRY_AFTER_S": "3",
        # a killed delivery attempt is taken over after this (above the 10 s timeout of
        # a webhook: a slow attempt still running is never sent a second time)
        "CALLSCRIBE_DELIVERY_STALE_AFTER_S": "11",
        # a call may be interrupted by several kills in a row; it must not give up
        "CALLSCRIBE_MAX_ATTEMPTS": "30",
        "CALLSCRIBE_QUEUE_WORKERS": "2",
        "CALLSCRIBE_WHISPER_CPU_THREADS": "1",
        "CALLSCRIBE_SPEECH_WINDOW_S": "600",
        "CALLSCRIBE_SHUTDOWN_GRACE_S": "3",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    queue._configured_for = None
    storage._store_for.cache_clear()
    db._migrated.clear()
    try:
        yield env, redis_server
    finally:
        db.dispose_engines()
        reset_settings()
        queue._configured_for = None
        storage._store_for.cache_clear()
        if redis_server.proc is not None and redis_server.proc.poll() is None:
            redis_server.kill()
        with _pg_admin(pg_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Workers:
    """WORKERS `callscribe worker` processes, each in its own process group (so a kill
    takes its children too), logging to one file per slot."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen] = []
        self.kills = 0
        self.lock = threading.Lock()

    def start(self, slot: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "callscribe.cli", "worker"],
            env={**os.environ, **self.env},
            stdout=(self.logs / f"worker-{slot}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_all(self) -> None:
        self.procs = [self.start(slot) for slot in range(WORKERS)]

    def kill_and_restart(self, slot: int) -> None:
        with self.lock:
            proc = self.procs[slot]
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            self.kills += 1
            self.procs[slot] = self.start(slot)

    def stop_all(self) -> None:
        with self.lock:
            for proc in self.procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in self.procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


# -- the load ----------------------------------------------------------------------------


@dataclass
class Sent:
    """What the driver sent, by the key the call is found by: (source, external_id)."""

    calls: dict[tuple[str, str], str] = field(default_factory=dict)  # key -> kind
    ticket_turns: dict[str, int] = field(default_factory=dict)  # external_id -> messages
    client_retries: int = 0
    webhook_posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _retrying(send, sent: Sent, ok: tuple[int, ...]) -> httpx.Response:  # type: ignore[no-untyped-def]
    """A client that retries what failed on the way (a 5xx, a dropped connection) with
    the same external_id: safe, a second request with it finds the first call."""
    for attempt in range(6):
        try:
            resp = send()
        except httpx.TransportError:
            resp = None
        if resp is not None and resp.status_code in ok:
            return resp
        if resp is not None and resp.status_code < 500 and resp.status_code != 429:
            raise AssertionError(f"{resp.status_code}: {resp.text[:500]}")
        with sent.lock:
            sent.client_retries += 1
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"gave up after retries: {resp and resp.status_code}")


def _ticket(i: int) -> dict:
    return {
        "channel": "chat" if i % 2 else "email",
        "external_id": f"tk-{i}",
        "customer": {"name": f"Customer {i}", "email": f"c{i}@example.com"},
        "messages": [
            {"role": "customer", "text": f"Hello, order {1000 + i} arrived damaged."},
            {"role": "agent", "text": "I am sorry. I will send a replacement today."},
            {"role": "customer", "text": "Thank you, please email me the tracking number."},
            {"role": "agent", "text": "I will email it to you by tomorrow morning."},
        ],
    }


def submit(
    i: int,
    base: str,
    headers: dict[str, str],
    sent: Sent,
    audio_base: str,
    cloudvoice: FakeCloudVoice,
    webhook_url: str,
    webhook_secret: str,
    tracks: dict[str, bytes],
) -> None:
    kind = ("upload", "url", "ticket", "ticket", "ticket", "connector")[i % 6]
    recording = RECORDINGS[i % len(RECORDINGS)]
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        if kind == "upload":
            ext = f"up-{i}"
            _retrying(
                lambda: client.post(
                    "/api/add-calls",
                    data={"external_id": ext, "direction": "inbound"},
                    files={"call": (recording.name, recording.read_bytes())},
                ),
                sent,
                (200, 201),
            )
            key = ("api", ext)
        elif kind == "url":
            ext = f"url-{i}"
            _retrying(
                lambda: client.post(
                    "/api/calls/from-url",
                    json={"audio_url": f"{audio_base}/rec/{recording.name}", "external_id": ext},
                ),
                sent,
                (200, 201),
            )
            key = ("api", ext)
        elif kind == "ticket":
            body = _ticket(i)
            _retrying(lambda: client.post("/api/tickets", json=body), sent, (200, 201))
            key = ("tickets", body["external_id"])
            with sent.lock:
                sent.ticket_turns[body["external_id"]] = len(body["messages"])
        else:
            run_id = 10_000 + i
            cloudvoice.add_run(
                Run(id=run_id, created_at=utc_ago(1), tracks=dict(tracks), duration=10)
            )
            delivery = str(uuid.uuid4())
            # the platform's retries (same delivery id) and a duplicate (a new one)
            for attempt, delivery_id in enumerate((delivery, delivery, str(uuid.uuid4()))):
                hook_headers = {
                    "X-Callscribe-Secret": webhook_secret,
                    "X-Dograh-Delivery-Id": delivery_id,
                    "X-Dograh-Workflow-Run-Id": str(run_id),
                    "X-Dograh-Delivery-Attempt": str(attempt + 1),
                }
                _retrying(
                    lambda hook_headers=hook_headers: httpx.post(
                        f"{base}{webhook_url}",
                        json={"run_id": run_id, "call_disposition": "completed"},
                        headers=hook_headers,
                        timeout=60,
                    ),
                    sent,
                    (202,),
                )
                with sent.lock:
                    sent.webhook_posts += 1
            key = ("cloudvoice", str(run_id))
    with sent.lock:
        sent.calls[key] = kind


# -- the checks ----------------------------------------------------------------------------


def _state(company_id: uuid.UUID) -> dict:
    from sqlalchemy import func, select

    from callscribe.calls.models import Engagement, Minutes, Turn
    from callscribe.db import session_scope
    from callscribe.delivery.models import Delivery, DeliveryAttempt
    from callscribe.events import CALL_COMPLETED, OutboxEvent

    with session_scope() as s:
        calls = list(
            s.execute(
                select(
                    Engagement.id,
                    Engagement.source,
                    Engagement.external_id,
                    Engagement.status,
                    Engagement.attempts,
                    Engagement.audio_key,
                    Engagement.error,
                ).where(Engagement.company_id == company_id)
            )
        )
        turns = list(
            s.execute(
                select(Turn.engagement_id, Turn.seq, Turn.role, Turn.start_ms, Turn.text).where(
                    Turn.company_id == company_id
                )
            )
        )
        minutes = dict(
            s.execute(
                select(Minutes.engagement_id, func.count())
                .join(Engagement, Engagement.id == Minutes.engagement_id)
                .where(Engagement.company_id == company_id)
                .group_by(Minutes.engagement_id)
            ).all()
        )
        deliveries = list(
            s.execute(
                select(Delivery.id, Delivery.engagement_id, Delivery.status).where(
                    Delivery.company_id == company_id
                )
            )
        )
        attempts = dict(
            s.execute(
                select(DeliveryAttempt.delivery_id, func.count())
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.company_id == company_id)
                .group_by(DeliveryAttempt.delivery_id)
            ).all()
        )
        completions = Counter(
            str(payload.get("call_id"))
            for payload in s.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.company_id == company_id, OutboxEvent.type == CALL_COMPLETED
                )
            )
        )
    return {
        "completions": completions,
        "calls": calls,
        "turns": turns,
        "minutes": minutes,
        "deliveries": deliveries,
        "attempts": attempts,
    }


def _bucket_keys(env: dict[str, str]) -> set[str]:
    import boto3

    prefix = env["CALLSCRIBE_STORAGE_URL"].split(f"s3://{BUCKET}/", 1)[1].rstrip("/") + "/"
    client = boto3.client(
        "s3",
        endpoint_url=env["CALLSCRIBE_STORAGE_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys |= {obj["Key"][len(prefix) :] for obj in page.get("Contents", [])}
    return keys


def test_soak_scaled_install_under_worker_kills_and_a_redis_restart(
    soak_env, tracks: Tracks, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env, redis_server = soak_env
    logs = tmp_path / "logs"
    logs.mkdir()
    company = make_company("Soak Co")
    cloudvoice = FakeCloudVoice().start()
    receiver = Receiver()
    connector_id = add_connector(company, "cloudvoice", cloudvoice)
    from callscribe.connectors import service as connectors
    from tests.connectors.conftest import connector_row

    webhook_secret = connectors.webhook_secret(connector_row(connector_id))
    run_tracks = {"bot": tracks.bot, "user": tracks.user}
    routes = {
        f"/rec/{path.name}": (lambda h, data=path.read_bytes(): send_bytes(h, data, "audio/wav"))
        for path in RECORDINGS
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve_proc = start_serve(env, port, logs / "serve.log", "--web-workers", "2", "--no-worker")
    workers = Workers(env, logs)
    workers.start_all()
    sent = Sent()
    stop_chaos = threading.Event()
    redis_restarts = 0
    started = time.monotonic()
    try:
        with httpx.Client(base_url=base, headers=company.headers, timeout=30) as api:
            created = api.post(
                "/api/automations",
                json={
                    "kind": "webhook",
                    "name": "CRM",
                    "url": receiver.url,
                    "secret": WEBHOOK_SECRET,
                },
            )
            assert created.status_code == 201, created.text

        def chaos() -> None:
            rng = random.Random(16)
            while not stop_chaos.wait(rng.uniform(*KILL_EVERY_S)):
                workers.kill_and_restart(rng.randrange(WORKERS))

        chaos_thread = threading.Thread(target=chaos, name="chaos", daemon=True)
        with serve(routes) as audio_base:
            chaos_thread.start()
            with ThreadPoolExecutor(max_workers=4) as pool:
                futures = []
                for i in range(SOAK_CALLS):
                    futures.append(
                        pool.submit(
                            submit,
                            i,
                            base,
                            company.headers,
                            sent,
                            audio_base,
                            cloudvoice,
                            f"/api/webhooks/cloudvoice/{connector_id}",
                            webhook_secret,
                            run_tracks,
                        )
                    )
                    if i == SOAK_CALLS // 3:
                        # Redis goes away with what was queued, and stays away a few
                        # seconds while requests keep coming (their enqueues fail)
                        redis_server.kill()
                        threading.Timer(REDIS_DOWN_S, redis_server.start).start()
                        redis_restarts += 1
                    time.sleep(0.05)
                for f in futures:
                    f.result()
            submitted_s = time.monotonic() - started

            # every call completed and delivered, or the deadline
            deadline = started + DEADLINE_S
            while True:
                state = _state(company.id)
                done = [c for c in state["calls"] if c.status == "completed"]
                delivered = [d for d in state["deliveries"] if d.status == "succeeded"]
                if len(done) >= SOAK_CALLS and len(delivered) >= SOAK_CALLS:
                    break
                if time.monotonic() > deadline:
                    statuses = Counter(c.status for c in state["calls"])
                    raise AssertionError(
                        f"after {DEADLINE_S}s: calls {dict(statuses)}, "
                        f"{len(delivered)} delivered of {SOAK_CALLS}; "
                        f"errors {[c.error for c in state['calls'] if c.error][:5]}"
                    )
                time.sleep(0.5)
            completed_s = time.monotonic() - started
            stop_chaos.set()
            chaos_thread.join(timeout=60)
            time.sleep(2)  # a moment for anything still in flight to (wrongly) repeat
    finally:
        stop_chaos.set()
        workers.stop_all()
        serve_proc.send_signal(signal.SIGTERM)
        try:
            serve_proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve_proc.kill()
        cloudvoice.stop()

    state = _state(company.id)
    calls = state["calls"]
    # every call we sent exists exactly once and is completed
    keys = Counter((c.source, c.external_id) for c in calls)
    assert len(calls) == SOAK_CALLS, (len(calls), SOAK_CALLS)
    assert set(keys) == set(sent.calls), set(keys) ^ set(sent.calls)
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    assert {c.status for c in calls} == {"completed"}, Counter(c.status for c in calls)
    # ... and became completed once: one call.completed event each
    assert state["completions"] == Counter({str(c.id): 1 for c in calls})

    # one clean set of turns per call, and one Minutes
    by_call: dict[uuid.UUID, list] = {}
    for t in state["turns"]:
        by_call.setdefault(t.engagement_id, []).append(t)
    duplicate_turns = 0
    for c in calls:
        turns = by_call.get(c.id, [])
        assert turns, f"call {c.external_id} has no turns"
        seqs = sorted(t.seq for t in turns)
        assert seqs == list(range(len(turns))), (c.external_id, seqs)
        duplicate_turns += len(turns) - len({(t.role, t.start_ms, t.text) for t in turns})
        if c.source == "tickets":
            assert len(turns) == sent.ticket_turns[c.external_id]
    assert duplicate_turns == 0
    assert {c.id: state["minutes"].get(c.id, 0) for c in calls} == {c.id: 1 for c in calls}

    # one delivery per call, all received, each under its own webhook-id
    deliveries = state["deliveries"]
    assert Counter(d.engagement_id for d in deliveries) == Counter({c.id: 1 for c in calls})
    assert {d.status for d in deliveries} == {"succeeded"}
    received = Counter(r.headers.get("webhook-id") for r in receiver.requests)
    assert set(received) == {f"msg_{d.id.hex}" for d in deliveries}
    resent = 0
    for d in deliveries:
        count = received[f"msg_{d.id.hex}"]
        # a re-send only where an attempt's answer was never recorded (its worker was
        # killed between sending and recording): recorded attempts < times received
        if count > 1:
            resent += count - 1
            assert state["attempts"].get(d.id, 0) < count, (d.id, count, state["attempts"])
    assert resent <= workers.kills * int(env["CALLSCRIBE_QUEUE_WORKERS"])

    # no orphan blob, no missing one
    in_bucket = _bucket_keys(env)
    referenced = {c.audio_key for c in calls if c.audio_key}
    assert in_bucket - referenced == set(), sorted(in_bucket - referenced)[:10]
    assert referenced - in_bucket == set(), sorted(referenced - in_bucket)[:10]

    # no key or secret of the run in any process log
    secrets = {
        "company API key": company.api_key,
        "S3 secret key": SECRET_KEY,
        "CALLSCRIBE_SECRET_KEY": env["CALLSCRIBE_SECRET_KEY"],
        "CloudVoice API key": cloudvoice.api_key,
        "connector webhook secret": webhook_secret,
        "delivery signing secret": WEBHOOK_SECRET,
    }
    log_text = "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))
    assert '"request_id"' in log_text  # the logs are there, as JSON
    leaked = [name for name, value in secrets.items() if value in log_text]
    assert leaked == [], leaked

    recovered = sum(1 for c in calls if c.attempts > 1)
    kinds = Counter(sent.calls.values())
    print(
        f"\nsoak: {SOAK_CALLS} calls ({dict(kinds)}, {sent.webhook_posts} webhook posts) "
        f"submitted in {submitted_s:.0f}s, all completed in {completed_s:.0f}s: "
        f"{SOAK_CALLS / (completed_s / 60):.1f} calls/min; "
        f"{workers.kills} worker kills (each restarted), {redis_restarts} Redis restart, "
        f"{recovered} calls re-run after an interruption (max attempts "
        f"{max(c.attempts for c in calls)}), {sent.client_retries} client retries, "
        f"{len(deliveries)} deliveries ({resent} re-sent after a kill); "
        f"duplicates: calls 0, turns {duplicate_turns}, minutes 0, deliveries 0; "
        f"orphan blobs 0; secrets in logs 0"
    )
