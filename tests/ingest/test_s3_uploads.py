"""Uploads that never pass through Python: with the S3 store (moto in server mode) the
signed-URL step 1 and the ZIP ingest upload-url hand out presigned PUTs, the client PUTs
straight to the store, and the call or batch is made from what it put there; the audio
endpoint redirects to a presigned GET."""

from __future__ import annotations

import io
import uuid
import zipfile

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer, wait_for_status
from tests.ingest.zipdata import Api, jsonl
from tests.storage.s3server import s3_endpoint, s3_install

__all__ = ["s3_endpoint", "s3_install"]  # fixtures

WAV = (AUDIO / "stereo_diarization.wav").read_bytes()
WHEN = "2026-11-20T14:03:00Z"
DANA = "dana@example.com"


def _agent(company: CompanyCtx) -> None:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        service.upsert_agent(s, company.id, name="Dana Rep", email="dana@example.com")


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _call_audio_key(call_id: str) -> str:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, uuid.UUID(call_id))
        assert call is not None and call.audio_key
        return call.audio_key


def test_signed_url_upload_goes_straight_to_s3_and_the_audio_redirects(
    s3_install: dict[str, str],
    api_server: LiveServer,
    company: CompanyCtx,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN the S3 store
    WHEN a recording is uploaded in three steps
    THEN step 1's uploadUrl is a presigned PUT of the store (not ours), step 3 makes the
    call from what was PUT there — copied server-side and probed through ranged reads,
    never read whole through this process — the upload blob is removed, and the audio
    endpoint answers 307 to a presigned GET that serves the same bytes."""
    from callscribe.storage import get_store
    from callscribe.storage.s3 import S3BlobStore

    def whole_read(*_a: object, **_k: object) -> None:
        raise AssertionError("step 3 read the whole blob through Python")

    monkeypatch.setattr(S3BlobStore, "open", whole_read)
    monkeypatch.setattr(S3BlobStore, "local_path", whole_read)

    endpoint = s3_install["CALLSCRIBE_STORAGE_ENDPOINT_URL"]
    _agent(company)
    with api_server.client(headers=company.headers) as client:
        urls = client.post("/api/v1/recordings/signed-urls", json={"filename": "call.wav"}).json()
        assert urls["uploadUrl"].startswith(endpoint) and "X-Amz-Signature=" in urls["uploadUrl"]
        step3 = {
            "downloadUrl": urls["downloadUrl"],
            "dateCreated": WHEN,
            "userEmail": DANA,
        }
        early = client.post("/api/v2/recordings", json=step3)
        assert early.status_code == 409 and early.json()["error"]["code"] == "upload_missing"
        assert httpx.put(urls["uploadUrl"], content=WAV, timeout=30).status_code == 200
        r = client.post("/api/v2/recordings", json=step3)
        assert r.status_code == 201, r.text
        call_id = r.json()["callId"]
        store = get_store()
        key = _call_audio_key(call_id)
        assert store.size(key) == len(WAV)
        made = client.get(f"/api/calls/{call_id}").json()
        assert made["duration_seconds"] == pytest.approx(5.0, abs=0.1)  # probed in the store
        upload_id = urls["downloadUrl"].rstrip("/").rsplit("/", 1)[1]
        assert not store.exists(f"uploads/{company.id}/{upload_id}")
        audio = client.get(f"/api/calls/{call_id}/audio", follow_redirects=False)
        assert audio.status_code == 307
        assert audio.headers["location"].startswith(endpoint)
        got = httpx.get(audio.headers["location"], timeout=30)
        assert got.status_code == 200 and got.content == WAV
        assert got.headers["content-type"] == "audio/wav"
        # the same downloadUrl again is the same call
        again = client.post("/api/v2/recordings", json=step3)
        assert again.status_code == 200 and again.json()["callId"] == call_id


def test_a_presigned_put_of_the_wrong_size_is_refused_at_step_3(
    s3_install: dict[str, str], api_server: LiveServer, company: CompanyCtx
) -> None:
    _agent(company)
    with api_server.client(headers=company.headers) as client:
        urls = client.post("/api/v1/recordings/signed-urls", json={"contentLength": 10}).json()
        assert httpx.put(urls["uploadUrl"], content=WAV, timeout=30).status_code == 200
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": DANA,
            },
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "size_mismatch"
        assert client.get("/api/calls").json()["total"] == 0


@pytest.fixture
def api(s3_install: dict[str, str], company: CompanyCtx):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    with TestClient(create_app()) as client:
        yield Api(client, company)


def test_zip_ingest_upload_url_is_a_presigned_put_and_the_batch_is_processed(
    api: Api, s3_install: dict[str, str], company: CompanyCtx
) -> None:
    """GIVEN the S3 store
    WHEN a client PUTs its ZIP to the presigned upload URL
    THEN the sweep finds it, the batch is loaded; an unsafe ZIP is refused and deleted."""
    from callscribe.ingest.zipbatch.runner import run_batch
    from callscribe.ingest.zipbatch.tasks import mark_presigned_uploads
    from callscribe.storage import get_store

    good, bad = api.upload_url().json(), api.upload_url().json()
    assert good["uploadUrl"].startswith(s3_install["CALLSCRIBE_STORAGE_ENDPOINT_URL"])
    agents = jsonl([{"id": "a1", "name": "Ann"}, {"id": "a2", "name": "Bo"}])
    for answer, body in (
        (good, _zip([("agents.jsonl", agents)])),
        (bad, _zip([("../a.jsonl", agents)])),
    ):
        put = httpx.put(answer["uploadUrl"], content=body, timeout=30)
        assert put.status_code == 200, put.text
    assert api.batch(good["batchId"])["status"] == "pending"
    assert {str(i) for i in mark_presigned_uploads()} == {good["batchId"], bad["batchId"]}
    assert mark_presigned_uploads() == []  # found once
    assert run_batch(good["batchId"]) == "completed"
    assert api.batch(good["batchId"])["dataSets"]["agents"]["created"] == 2
    assert run_batch(bad["batchId"]) == "failed"
    assert api.batch(bad["batchId"])["error"]["code"] == "zip_path_traversal"
    assert not get_store().exists(f"ingest/{company.id}/{bad['batchId']}.zip")


@pytest.mark.slow
def test_a_presigned_upload_is_transcribed_from_s3(
    s3_install: dict[str, str],
    live_server: LiveServer,
    company: CompanyCtx,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end with the worker: the recording PUT straight to S3 becomes a completed
    call with turns, the pipeline's decoder reading it from the store through a
    presigned GET (ranged reads), never downloading it whole first."""
    from callscribe.storage.s3 import S3BlobStore

    def whole_read(*_a: object, **_k: object) -> None:
        raise AssertionError("the recording was read whole through Python")

    monkeypatch.setattr(S3BlobStore, "open", whole_read)
    monkeypatch.setattr(S3BlobStore, "local_path", whole_read)
    _agent(company)
    with live_server.client(headers=company.headers) as client:
        urls = client.post("/api/v1/recordings/signed-urls", json={}).json()
        assert httpx.put(urls["uploadUrl"], content=WAV, timeout=30).status_code == 200
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": DANA,
            },
        )
        assert r.status_code == 201, r.text
        call = wait_for_status(client, r.json()["callId"])
        assert call["status"] == "completed", call["error"]
        assert call["turns"]
