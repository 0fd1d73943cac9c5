"""The S3 store against a real S3-protocol server (moto in server mode): the same
StorageContract as the local store, plus what only presigning stores do."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from callscribe.storage import BlobStore, Capability, _store_for
from callscribe.storage.s3 import S3BlobStore
from tests.storage.s3server import ACCESS_KEY, BUCKET, SECRET_KEY, s3_endpoint, s3_env
from tests.storage.test_contract import PAYLOAD, StorageContract, _staged

__all__ = ["s3_endpoint"]  # the session fixture, used by this module


def _store(endpoint: str, tmp_path: Path, prefix: str | None = None) -> S3BlobStore:
    return S3BlobStore(
        BUCKET,
        prefix if prefix is not None else f"t-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        path_style=True,
        staging_dir=tmp_path / "staging",
    )


class TestS3BlobStore(StorageContract):
    @pytest.fixture
    def store(self, s3_endpoint: str, tmp_path: Path) -> BlobStore:
        return _store(s3_endpoint, tmp_path)

    def test_declares_every_capability(self, store: BlobStore) -> None:
        assert store.capabilities == set(Capability)

    def test_presigned_put_then_presigned_get(self, store: BlobStore) -> None:
        expires = int(time.time()) + 300
        put = httpx.put(store.presign_put("up/blob.wav", expires), content=PAYLOAD)
        assert put.status_code == 200, put.text
        assert store.size("up/blob.wav") == len(PAYLOAD)
        got = httpx.get(store.presign_get("up/blob.wav", expires))
        assert got.status_code == 200
        assert got.content == PAYLOAD

    def test_presigned_lifetimes_follow_expires_at_within_sigv4_limits(
        self, store: BlobStore
    ) -> None:
        # (moto does not enforce expiry; the signed lifetime is what S3 enforces)
        def lifetime(url: str) -> int:
            return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])

        now = int(time.time())
        assert 295 <= lifetime(store.presign_put("k/b", now + 300)) <= 300
        assert lifetime(store.presign_get("k/b", now - 10)) == 1  # past: shortest
        assert lifetime(store.presign_get("k/b", now + 10**8)) == 7 * 24 * 3600

    def test_keys_live_under_the_prefix(self, s3_endpoint: str, tmp_path: Path) -> None:
        a = _store(s3_endpoint, tmp_path, "tenant-a")
        b = _store(s3_endpoint, tmp_path, "tenant-b")
        a.put_file("k/blob", _staged(a, b"a"))
        assert not b.exists("k/blob")
        listed = a.client.list_objects_v2(Bucket=BUCKET, Prefix="tenant-a/")
        assert [o["Key"] for o in listed["Contents"]] == ["tenant-a/k/blob"]
        a.delete("k/blob")

    def test_put_file_removes_the_staged_file(self, store: BlobStore) -> None:
        staged = _staged(store, b"abc")
        store.put_file("k/blob", staged)
        assert not staged.exists()

    def test_stale_staging_files_are_swept(self, store: BlobStore) -> None:
        import os

        fh, old = store.staging_file()
        fh.close()
        os.utime(old, (time.time() - 7 * 3600,) * 2)
        fh, fresh = store.staging_file()
        fh.close()
        assert store.sweep_staging() == 1  # type: ignore[attr-defined]
        assert not old.exists() and fresh.exists()

    def test_ping_reports_an_unreachable_bucket(self, s3_endpoint: str, tmp_path: Path) -> None:
        store = _store(s3_endpoint, tmp_path)
        store.ping()
        missing = S3BlobStore(
            "no-such-bucket",
            endpoint_url=s3_endpoint,
            region="us-east-1",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            path_style=True,
            staging_dir=tmp_path,
        )
        with pytest.raises(Exception):  # noqa: B017  (botocore's ClientError)
            missing.ping()


def test_storage_url_selects_the_s3_store_and_keeps_the_secret_out_of_sight(
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callscribe.settings import get_settings, reset_settings
    from callscribe.storage import get_store

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    for key, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(key, value)
    reset_settings()
    _store_for.cache_clear()
    caplog.set_level(logging.DEBUG)
    store = get_store()
    assert isinstance(store, S3BlobStore)
    fh, path = store.staging_file()
    with fh:
        fh.write(b"hello")
    store.put_file("audio/x.wav", path)
    assert store.exists("audio/x.wav")
    assert SECRET_KEY not in repr(store)
    assert SECRET_KEY not in repr(get_settings())
    assert SECRET_KEY not in caplog.text
    assert (tmp_path / "data" / "s3-staging").is_dir()  # staging stays in the data dir
    monkeypatch.undo()
    reset_settings()
    _store_for.cache_clear()


def test_an_s3_url_without_a_bucket_is_refused() -> None:
    from callscribe.storage import Unsupported

    with pytest.raises(Unsupported):
        _store_for("s3:///prefix")
