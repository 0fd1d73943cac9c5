"""An S3-compatible bucket as the blob store (AWS S3, MinIO, Ceph, R2, moto):
CALLSCRIBE_STORAGE_URL=s3://bucket/prefix plus CALLSCRIBE_STORAGE_ENDPOINT_URL / _REGION /
_ACCESS_KEY / _SECRET_KEY / _PATH_STYLE. Keys are checked by the same rule as the local
store's, then placed under the prefix. The secret key is held by the boto3 client only:
never in a log line, a repr or an error message."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from callscribe.errors import NotFound
from callscribe.storage.base import Capability, check_key
from callscribe.storage.local import STAGING_MAX_AGE_S

CHUNK = 1024 * 1024
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's limit on a presigned URL's lifetime
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3BlobStore:
    capabilities = frozenset(
        {
            Capability.PRESIGNED_GET,
            Capability.PRESIGNED_PUT,
            Capability.SERVER_SIDE_COPY,
            Capability.RANGED_OPEN,
        }
    )

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        path_style: bool = False,
        staging_dir: Path | None = None,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )
        self.tmp = staging_dir or Path(tempfile.gettempdir()) / "callscribe-s3-staging"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:  # no keys, ever
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _missing(exc):
                raise NotFound("The stored audio is missing.") from exc
            raise

    def ping(self) -> None:
        """Raises unless the bucket is reachable with these credentials (/readyz)."""
        self.client.head_bucket(Bucket=self.bucket)

    # -- basics

    def sweep_staging(self, max_age_s: float = STAGING_MAX_AGE_S) -> int:
        """Delete local staging / download files nobody has written for `max_age_s`
        (a crash or restart left them behind); returns how many."""
        cutoff = time.time() - max_age_s
        removed = 0
        for path in self.tmp.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def staging_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        return os.fdopen(fd, "w+b"), Path(name)

    def put_file(self, key: str, src: Path) -> int:
        full = self._key(key)
        size = src.stat().st_size
        self.client.upload_file(str(src), self.bucket, full)  # multipart when large
        src.unlink(missing_ok=True)
        return size

    def open(self, key: str) -> BinaryIO:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                raise NotFound("The stored audio is missing.") from exc
            raise
        return cast(BinaryIO, obj["Body"])  # botocore's StreamingBody is an IOBase

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        full = self._key(key)
        self._head(full)
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="dl-")
        os.close(fd)
        path = Path(name)
        try:
            self.client.download_file(self.bucket, full, name)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def size(self, key: str) -> int:
        return int(self._head(self._key(key))["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(self._key(key))
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    # -- capabilities

    def open_range(self, key: str, start: int, end: int | None = None) -> Iterator[bytes]:
        full = self._key(key)
        size = int(self._head(full)["ContentLength"])  # NotFound now, not at next()
        stop = size if end is None else min(end, size)
        return self._read_range(full, start, stop)

    def _read_range(self, full: str, start: int, stop: int) -> Iterator[bytes]:
        if start >= stop:
            return
        obj = self.client.get_object(
            Bucket=self.bucket, Key=full, Range=f"bytes={start}-{stop - 1}"
        )
        body = obj["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def copy(self, src_key: str, dest_key: str) -> int:
        src, dest = self._key(src_key), self._key(dest_key)
        size = int(self._head(src)["ContentLength"])
        # the managed copy: one CopyObject, or UploadPartCopy parts above 5 GB
        self.client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dest)
        return size

    @staticmethod
    def _expires_in(expires_at: int) -> int:
        return max(1, min(MAX_PRESIGN_S, expires_at - int(time.time())))

    def presign_get(
        self,
        key: str,
        expires_at: int,
        *,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._key(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            safe = "".join(c for c in filename if c.isalnum() or c in "._-")[:200]
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params=params,
                ExpiresIn=self._expires_in(expires_at),
            )
        )

    def presign_put(self, key: str, expires_at: int) -> str:
        return str(
            self.client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=self._expires_in(expires_at),
            )
        )
