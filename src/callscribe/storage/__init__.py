"""Blob storage: the store for this install (local directory by default; the Protocol is
the seam for an S3-compatible store, CALLSCRIBE_STORAGE_URL=s3://...) and blob keys."""

from __future__ import annotations

import uuid
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from callscribe.settings import get_settings
from callscribe.storage.base import BlobStore, Capability, Unsupported
from callscribe.storage.local import LocalBlobStore

__all__ = ["BlobStore", "Capability", "LocalBlobStore", "Unsupported", "get_store", "new_audio_key"]


def new_audio_key(company_id: uuid.UUID, call_id: uuid.UUID, fmt: str) -> str:
    return f"audio/{company_id}/{call_id}.{fmt}"


@lru_cache
def _store_for(url: str) -> BlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobStore(Path(parts.path))
    raise Unsupported(f"Storage scheme {parts.scheme!r} is not supported yet; use file://.")


def get_store() -> BlobStore:
    return _store_for(get_settings().storage_url)
