"""ZIP safety, credentials and limits of the ZIP ingest API: each refusal has its own
clear error code, and a refused batch stores nothing (no blob, no item)."""

from __future__ import annotations

import functools
import io
import random
import stat
import time
import uuid
import zipfile

import pytest
from sqlalchemy import func, select

from tests.conftest import CompanyCtx
from tests.ingest.zipdata import Api, jsonl

AGENT = jsonl([{"id": "a1", "name": "Ann"}])


@pytest.fixture
def api(company: CompanyCtx):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    with TestClient(create_app()) as client:
        yield Api(client, company)


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return out.getvalue()


def _symlink() -> bytes:
    info = zipfile.ZipInfo("agents.jsonl")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip([(info, b"/etc/passwd")])


def _many(n: int) -> bytes:
    return _zip([(f"notes/{i}.txt", b"") for i in range(n)])


def _gz_bomb() -> bytes:
    import gzip

    return _zip([("agents.jsonl.gz", gzip.compress(b"\n" * (30 * 1024 * 1024)))])


def _stored_nothing(company_id: uuid.UUID) -> None:
    from callscribe.accounts.models import Agent
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.models import IngestBatchFile

    with session_scope() as s:
        assert (
            s.scalar(select(func.count()).select_from(Agent).where(Agent.company_id == company_id))
            == 0
        )
        assert s.scalar(select(func.count()).select_from(IngestBatchFile)) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (lambda: _zip([("agents.jsonl", b"\n" * (20 * 1024 * 1024))]), "zip_bomb"),
        (lambda: _zip([("../agents.jsonl", AGENT)]), "zip_path_traversal"),
        (lambda: _zip([("/etc/agents.jsonl", AGENT)]), "zip_path_traversal"),
        (_symlink, "zip_symlink"),
        (lambda: _zip([("inner.zip", _zip([("agents.jsonl", AGENT)]))]), "zip_nested_archive"),
        (lambda: _many(10_001), "zip_too_many_entries"),
        (lambda: b"not a zip at all", "zip_invalid"),
    ],
    ids=["bomb", "traversal", "absolute", "symlink", "nested", "10001-entries", "not-zip"],
)
def test_unsafe_zip_is_refused_with_its_code_and_stores_nothing(
    api: Api,
    company: CompanyCtx,
    body,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    from callscribe.storage import get_store

    r = api.upload_url()
    url, batch_id = r.json()["uploadUrl"], r.json()["batchId"]
    put = api.put(url, body())
    assert put.status_code == 422, put.text
    assert put.json()["error"]["code"] == code
    report = api.batch(batch_id)
    assert report["status"] == "failed" and report["error"]["code"] == code
    assert not get_store().exists(f"ingest/{company.id}/{batch_id}.zip")
    _stored_nothing(company.id)


def test_a_gz_member_that_decompresses_past_the_ratio_is_refused_before_any_item(
    api: Api, company: CompanyCtx
) -> None:
    """The ZIP's own headers are fine (a .gz member barely compresses further); the bomb
    is inside the gzip layer, found while actually decompressing."""
    from callscribe.ingest.zipbatch.runner import run_batch

    batch_id = api.send(_gz_bomb())
    assert run_batch(batch_id) == "failed"
    report = api.batch(batch_id)
    assert report["error"]["code"] == "zip_bomb"
    _stored_nothing(company.id)


def test_oversize_batch_is_refused_413(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_INGEST_BATCH_MAX_MB", "1")
    reset_settings()
    r = api.upload_url()
    noise = random.Random(14).randbytes(1_200_000)  # does not compress
    big = _zip([("agents.jsonl", AGENT), ("notes.bin", noise)])
    assert len(big) > 1024 * 1024
    put = api.put(r.json()["uploadUrl"], big)
    assert put.status_code == 413 and put.json()["error"]["code"] == "payload_too_large"
    _stored_nothing(company.id)


def test_uncompressed_total_over_limit_is_refused(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_INGEST_ZIP_MAX_UNCOMPRESSED_MB", "1")
    reset_settings()
    filler = b"".join(uuid.uuid4().hex.encode() for _ in range(40_000))  # 1.28 MB
    r = api.upload_url()
    put = api.put(r.json()["uploadUrl"], _zip([("agents.jsonl", AGENT), ("notes.txt", filler)]))
    assert put.status_code == 422 and put.json()["error"]["code"] == "zip_too_large"
    _stored_nothing(company.id)


def test_wrong_key_unknown_source_and_expired_url_are_refused(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.db import session_scope
    from callscribe.ingest.zipbatch.models import IngestBatch
    from callscribe.settings import reset_settings

    wrong = api.upload_url(headers={"Authorization": "Bearer csi_not-a-key"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "ingest_key_invalid"
    api_key = api.upload_url(headers=company.headers)  # a company API key is not an ingest key
    assert api_key.status_code == 401
    unknown = api.upload_url(source_id=str(uuid.uuid4()))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ingest_source_not_found"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(IngestBatch)) == 0
    monkeypatch.setenv("CALLSCRIBE_INGEST_UPLOAD_URL_TTL_S", "1")
    reset_settings()
    url = api.upload_url().json()["uploadUrl"]
    time.sleep(2.1)
    expired = api.put(url, _zip([("agents.jsonl", AGENT)]))
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "url_expired"
    tampered = api.put(url.replace("token=", "token=9"), _zip([("agents.jsonl", AGENT)]))
    assert tampered.status_code == 403 and tampered.json()["error"]["code"] == "bad_signature"
    _stored_nothing(company.id)


def test_batches_past_the_account_window_get_429_with_retry_after(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_INGEST_MAX_BATCHES", "2")
    reset_settings()
    assert api.upload_url().status_code == 200
    assert api.upload_url().status_code == 200
    third = api.upload_url()
    assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(third.headers["Retry-After"]) <= 901
    # the volume limit too: 1 MB per window, a 1.2 MB upload is cut off while streaming
    monkeypatch.setenv("CALLSCRIBE_INGEST_MAX_BATCHES", "10")
    monkeypatch.setenv("CALLSCRIBE_INGEST_MAX_WINDOW_MB", "1")
    reset_settings()
    url = api.upload_url().json()["uploadUrl"]
    filler = random.Random(15).randbytes(1_300_000)
    put = api.put(url, _zip([("notes.bin", filler)]))
    assert put.status_code == 429 and int(put.headers["Retry-After"]) >= 1


def _fed_until_refused(body: bytes, step: int = 7) -> tuple[str, int]:
    """Feed `body` to the streaming scanner in small pieces: (code, bytes fed when refused)."""
    from callscribe.ingest.zipbatch.safety import StreamScanner, ZipLimits, ZipRefused

    scanner = StreamScanner(ZipLimits(max_entries=10_000, max_uncompressed=10**9, max_ratio=100))
    for at in range(0, len(body), step):
        try:
            scanner.feed(body[at : at + step])
        except ZipRefused as exc:
            return str(exc.code), at + step
    return "", len(body)


def test_the_scanner_refuses_while_streaming_before_the_rest_arrives() -> None:
    filler = random.Random(3).randbytes(200_000)
    traversal = _zip(
        [
            ("agents.jsonl", AGENT),
            ("notes.bin", filler),
            ("../../x.jsonl", AGENT),
            ("z.bin", filler),
        ]
    )
    code, fed = _fed_until_refused(traversal)
    assert code == "zip_path_traversal" and fed < len(traversal) - 150_000
    many = _many(10_001)
    code, fed = _fed_until_refused(many, step=4096)
    assert code == "zip_too_many_entries" and fed < len(many)
    bomb = _zip([("agents.jsonl", b"\n" * (20 * 1024 * 1024)), ("tail.bin", filler)])
    code, fed = _fed_until_refused(bomb, step=1024)
    assert code == "zip_bomb" and fed < 1024 * 2
    good = _zip([("agents.jsonl", AGENT), ("turns-1.jsonl.gz", filler)])
    assert _fed_until_refused(good)[0] == ""


def test_with_a_presigning_store_the_url_is_the_stores_and_the_worker_checks_the_zip(
    api: Api, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a store that declares PRESIGNED_PUT (as the S3-compatible one will)
    THEN the upload URL is the store's, the sweep finds the ZIP the client put there,
    and the worker refuses an unsafe one before loading anything (and deletes it)."""
    from callscribe import storage
    from callscribe.ingest.zipbatch.runner import run_batch
    from callscribe.ingest.zipbatch.tasks import mark_presigned_uploads
    from callscribe.storage.base import Capability
    from callscribe.storage.local import LocalBlobStore

    class PresigningStore(LocalBlobStore):
        capabilities = frozenset({*LocalBlobStore.capabilities, Capability.PRESIGNED_PUT})

        def presign_put(self, key: str, expires_at: int) -> str:
            return f"https://bucket.example/{key}?expires={expires_at}&sig=test"

    store = PresigningStore(tmp_path / "bucket")
    # cached like the real one (the app_env fixture clears it when the test ends)
    monkeypatch.setattr(storage, "_store_for", functools.lru_cache(lambda url: store))
    good, bad = api.upload_url().json(), api.upload_url().json()
    assert good["uploadUrl"].startswith("https://bucket.example/ingest/")
    for answer, body in (
        (good, _zip([("agents.jsonl", AGENT)])),
        (bad, _zip([("../a.jsonl", AGENT)])),
    ):
        path = tmp_path / f"{answer['batchId']}.zip"
        path.write_bytes(body)
        store.put_file(answer["uploadUrl"].split("/", 3)[3].split("?")[0], path)  # the client's PUT
    assert {str(i) for i in mark_presigned_uploads()} == {good["batchId"], bad["batchId"]}
    assert run_batch(good["batchId"]) == "completed"
    assert api.batch(good["batchId"])["dataSets"]["agents"]["created"] == 1
    assert run_batch(bad["batchId"]) == "failed"
    assert api.batch(bad["batchId"])["error"]["code"] == "zip_path_traversal"
    assert not store.exists(f"ingest/{company.id}/{bad['batchId']}.zip")
