"""Operations: liveness and readiness, Prometheus metrics, request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CompanyCtx, insert_text_engagement
from tests.storage.s3server import s3_endpoint, s3_env

__all__ = ["s3_endpoint"]


@pytest.fixture
def client(app_env: dict[str, str]) -> Iterator[TestClient]:
    from callscribe.app import create_app

    with TestClient(create_app()) as c:
        yield c


def _reset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> TestClient:
    from callscribe import db, queue, storage
    from callscribe.app import create_app
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    db.dispose_engines()
    queue._configured_for = None
    storage._store_for.cache_clear()
    return TestClient(create_app())  # no lifespan: nothing migrates or connects at start


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from callscribe import db, queue, storage
    from callscribe.settings import reset_settings

    monkeypatch.delenv("CALLSCRIBE_REDIS_URL", raising=False)
    monkeypatch.delenv("CALLSCRIBE_STORAGE_URL", raising=False)
    yield
    monkeypatch.undo()
    reset_settings()
    db.dispose_engines()
    queue._configured_for = None
    storage._store_for.cache_clear()


def test_ready_when_database_queue_and_store_answer(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ok",
        "checks": {"database": "ok", "queue": "ok", "store": "ok"},
    }


def test_live_but_not_ready_without_a_database(
    bare: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GIVEN a database nothing listens for
    THEN /healthz still answers 200 and /readyz 503 naming the database only (and no
    password of the URL in the answer)."""
    c = _reset(
        monkeypatch,
        tmp_path,
        CALLSCRIBE_DATABASE_URL="postgresql+psycopg://u:hunter2pw@127.0.0.1:1/none",
    )
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["queue"] == "ok" and body["checks"]["store"] == "ok"
    assert "hunter2pw" not in r.text


def test_not_ready_when_redis_and_the_bucket_are_unreachable(
    bare: None, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = s3_env(s3_endpoint)
    env["CALLSCRIBE_STORAGE_URL"] = "s3://no-such-bucket/x"
    c = _reset(
        monkeypatch,
        tmp_path,
        CALLSCRIBE_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        CALLSCRIBE_REDIS_URL="redis://127.0.0.1:1/0",
        **env,
    )
    r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["failed"] == ["queue", "store"]


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} " if want else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in /metrics")


def test_metrics_count_calls_by_state_requests_and_pipeline_steps(
    client: TestClient, company: CompanyCtx
) -> None:
    from callscribe.pipeline.runner import process_call

    before = client.get("/metrics").text
    for _ in range(2):
        insert_text_engagement(company.id, [("agent", "Hello, how can I help?")])
    done = insert_text_engagement(company.id, [("customer", "My card is blocked.")])
    assert client.get("/api/calls", headers=company.headers).status_code == 200
    process_call(done)
    text = client.get("/metrics").text
    assert _metric(text, "callscribe_calls", state="received") == 2
    assert _metric(text, "callscribe_calls", state="failed") == 0
    processed = sum(
        _metric(text, "callscribe_calls", state=s) for s in ("completed", "waiting", "failed")
    )
    assert processed == 1
    assert _metric(text, "callscribe_queue_depth", kind="pending") >= 0
    series = {"method": "GET", "route": "/api/calls", "status": "2xx"}
    count = "callscribe_http_request_duration_seconds_count"
    was = _metric(before, count, **series) if '/api/calls"' in before else 0
    assert _metric(text, count, **series) == was + 1
    assert f'call_id="{done}"' not in text and str(done) not in text  # templates, not paths
    assert "callscribe_pipeline_step_duration_seconds_count{step=" in text
    assert "callscribe_deliveries" in text


def test_request_id_is_echoed_and_lands_in_json_logs(client: TestClient) -> None:
    from callscribe.observability import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("callscribe")
    logger.addHandler(handler)
    try:
        r = client.get("/readyz", headers={"X-Request-ID": "req-abc.123"})
        assert r.headers["X-Request-ID"] == "req-abc.123"
        junk = client.get("/healthz", headers={"X-Request-ID": "x" * 200 + "\n{"})
        assert len(junk.headers["X-Request-ID"]) == 32  # replaced by ours
        from callscribe.observability import REQUEST_ID

        token = REQUEST_ID.set("req-abc.123")
        logging.getLogger("callscribe.test").warning("secret-free line %s", 1)
        REQUEST_ID.reset(token)
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines() if "secret-free" in x]
    assert line["message"] == "secret-free line 1"
    assert line["request_id"] == "req-abc.123"
    assert line["level"] == "WARNING" and line["logger"] == "callscribe.test"
    assert line["ts"].endswith("Z")


def test_configure_logging_json_writes_one_object_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from callscribe.observability import configure_logging

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging("INFO", "json")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("callscribe.x").exception("failed %s", uuid.UUID(int=1))
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert line["message"].startswith("failed 00000000") and "ValueError: boom" in line["exc"]
