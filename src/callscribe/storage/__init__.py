"""Blob storage: the store for this install (local directory by default, or an
S3-compatible bucket with CALLSCRIBE_STORAGE_URL=s3://bucket/prefix) and blob keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from callscribe.settings import get_settings
from callscribe.storage.base import BlobStore, Capability, Unsupported
from callscribe.storage.local import LocalBlobStore

__all__ = [
    "BlobStore",
    "Capability",
    "LocalBlobStore",
    "Unsupported",
    "get_store",
    "new_audio_key",
    "readable_source",
]


def new_audio_key(company_id: uuid.UUID, call_id: uuid.UUID, fmt: str) -> str:
    return f"audio/{company_id}/{call_id}.{fmt}"


@lru_cache
def _store_for(url: str) -> BlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobStore(Path(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise Unsupported("CALLSCRIBE_STORAGE_URL=s3://BUCKET/prefix needs a bucket.")
        from callscribe.storage.s3 import S3BlobStore

        settings = get_settings()
        secret = settings.STORAGE_SECRET_KEY
        return S3BlobStore(
            parts.netloc,
            parts.path,
            endpoint_url=settings.STORAGE_ENDPOINT_URL,
            region=settings.STORAGE_REGION,
            access_key=settings.STORAGE_ACCESS_KEY,
            secret_key=secret.get_secret_value() if secret else None,
            path_style=settings.STORAGE_PATH_STYLE,
            staging_dir=settings.DATA_DIR / "s3-staging",
        )
    raise Unsupported(f"Storage scheme {parts.scheme!r} is not supported; use file:// or s3://.")


def get_store() -> BlobStore:
    return _store_for(get_settings().storage_url)


READ_URL_S = 6 * 3600  # a presigned GET the decoder reads through outlives any transcription


@contextmanager
def readable_source(key: str) -> Iterator[str]:
    """What a decoder (PyAV) opens to read a blob: a presigned GET of a store that can
    give one — the decoder asks for the byte ranges it needs as it goes, so a worker
    never downloads the whole recording first — else a local path for the block."""
    store = get_store()
    if {Capability.PRESIGNED_GET, Capability.RANGED_OPEN} <= store.capabilities:
        yield store.presign_get(key, int(time.time()) + READ_URL_S)
        return
    with store.local_path(key) as path:
        yield str(path)
