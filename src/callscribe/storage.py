"""Blob store. Local directory by default; the Protocol is the seam for an S3-compatible
store (CALLSCRIBE_STORAGE_URL=s3://...), whose presigned URLs replace our signed ones."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from callscribe.errors import CallscribeError, NotFound
from callscribe.settings import get_settings


class BlobStore(Protocol):
    def put_file(self, key: str, src: Path) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def staging_file(self) -> tuple[BinaryIO, Path]: ...


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / ".staging"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise CallscribeError("Invalid blob key.", code="bad_blob_key")
        return path

    def staging_file(self) -> tuple[BinaryIO, Path]:
        """A temp file on the same filesystem, so put_file is a rename, not a copy."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        return os.fdopen(fd, "w+b"), Path(name)

    def put_file(self, key: str, src: Path) -> int:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
            src.unlink(missing_ok=True)
        return dest.stat().st_size

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise NotFound("The stored audio is missing.") from exc

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.exists():
            raise NotFound("The stored audio is missing.")
        yield path

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def new_audio_key(company_id: uuid.UUID, call_id: uuid.UUID, fmt: str) -> str:
    return f"audio/{company_id}/{call_id}.{fmt}"


@lru_cache
def _store_for(url: str) -> BlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobStore(Path(parts.path))
    raise CallscribeError(
        f"Storage scheme {parts.scheme!r} is not supported yet; use file://.",
        code="storage_unsupported",
    )


def get_store() -> BlobStore:
    return _store_for(get_settings().storage_url)
