"""A directory on this machine as the blob store (the embedded default)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from callscribe.errors import NotFound
from callscribe.storage.base import BadBlobKey, Capability, check_key, unsupported

CHUNK = 1024 * 1024
# A staging file untouched this long belongs to no live upload (a request writes to it as
# the bytes arrive; a crash or restart leaves it behind). Generous: a slow client on a
# 500 MB recording still touches its file every few seconds.
STAGING_MAX_AGE_S = 6 * 3600


class LocalBlobStore:
    # presigned URLs are the S3 store's; the local store's uploads and downloads go
    # through our own signed URLs instead
    capabilities = frozenset({Capability.SERVER_SIDE_COPY, Capability.RANGED_OPEN})

    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / ".staging"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._in_use: set[Path] = set()  # staging files this process handed out
        self._lock = threading.Lock()
        self.sweep_staging()  # what a previous run (crash, restart) left behind

    def _path(self, key: str) -> Path:
        check_key(key)
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:  # a symlink pointing out
            raise BadBlobKey(f"Invalid blob key {key[:100]!r}.")
        return path

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise NotFound("The stored audio is missing.")
        return path

    def staging_file(self) -> tuple[BinaryIO, Path]:
        """A temp file on the same filesystem, so put_file is a rename, not a copy."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        path = Path(name)
        with self._lock:
            self._in_use.add(path)
        return os.fdopen(fd, "w+b"), path

    def sweep_staging(self, max_age_s: float = STAGING_MAX_AGE_S) -> int:
        """Delete staging files older than `max_age_s` (by last write) that this process
        is not using; returns how many. Other processes' live files are recent."""
        cutoff = time.time() - max_age_s
        removed = 0
        with self._lock:
            self._in_use = {p for p in self._in_use if p.exists()}
            in_use = set(self._in_use)
        for path in self.tmp.iterdir():
            try:
                if path in in_use or not path.is_file() or path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue  # handed to the store or discarded meanwhile
        return removed

    def put_file(self, key: str, src: Path) -> int:
        with self._lock:
            self._in_use.discard(src)
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
        yield self._existing(key)

    def size(self, key: str) -> int:
        return self._existing(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def open_range(self, key: str, start: int, end: int | None = None) -> Iterator[bytes]:
        path = self._existing(key)  # raise NotFound now, not at the first next()
        return self._read_range(path, start, end)

    @staticmethod
    def _read_range(path: Path, start: int, end: int | None) -> Iterator[bytes]:
        with path.open("rb") as fh:
            fh.seek(start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def copy(self, src_key: str, dest_key: str) -> int:
        src = self._existing(src_key)
        dest = self._path(dest_key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest.stat().st_size

    def presign_get(
        self,
        key: str,
        expires_at: int,
        *,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        raise unsupported(self, Capability.PRESIGNED_GET)

    def presign_put(self, key: str, expires_at: int) -> str:
        raise unsupported(self, Capability.PRESIGNED_PUT)
