"""The blob store seam: one Protocol every store implements (local directory today, an
S3-compatible store next), with what a store can do beyond the basics declared up front
in `capabilities`, so callers branch on a declared capability, never on the store's type
or on `getattr`. Calling an undeclared capability raises `Unsupported`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from callscribe.errors import BadRequest, CallscribeError, ErrorCode


class Capability(StrEnum):
    PRESIGNED_GET = "presigned_get"  # a URL the client downloads from, bypassing us
    PRESIGNED_PUT = "presigned_put"  # a URL the client uploads to, bypassing us
    SERVER_SIDE_COPY = "server_side_copy"  # copy a blob without streaming it through us
    RANGED_OPEN = "ranged_open"  # read a byte range without reading what comes before


class BadBlobKey(BadRequest):
    code = ErrorCode.BAD_BLOB_KEY


class Unsupported(CallscribeError):
    """The store does not declare the capability that was asked of it: a programming
    error (the caller should have checked `capabilities`), hence a 500."""

    code = ErrorCode.STORAGE_UNSUPPORTED


# keys are relative, slash-separated, no empty/dot segments: the same rule for every store
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (absolute, '..', backslashes, empty parts)."""
    parts = key.split("/")
    if not key or len(key) > 1024 or not all(_SEGMENT.match(p) and p != ".." for p in parts):
        raise BadBlobKey(f"Invalid blob key {key[:100]!r}.")
    return key


class BlobStore(Protocol):
    capabilities: frozenset[Capability]

    def put_file(self, key: str, src: Path) -> int:
        """Move (or copy) a staged file under `key`; returns its size in bytes."""
        ...

    def open(self, key: str) -> BinaryIO: ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A path on this machine holding the blob for the length of the block."""
        ...

    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...

    def staging_file(self) -> tuple[BinaryIO, Path]:
        """A writable temp file placed so that put_file of it is cheap."""
        ...

    # -- capabilities: each raises Unsupported unless declared in `capabilities`

    def open_range(self, key: str, start: int, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the blob (end None: to the end), in chunks."""
        ...

    def copy(self, src_key: str, dest_key: str) -> int:
        """Server-side copy; returns the copy's size."""
        ...

    def presign_get(
        self,
        key: str,
        expires_at: int,
        *,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        """A GET URL until `expires_at`; the response carries `content_type` and an
        attachment `filename` when given."""
        ...

    def presign_put(self, key: str, expires_at: int) -> str: ...


def unsupported(store: object, capability: Capability) -> Unsupported:
    return Unsupported(
        f"The {type(store).__name__} does not support {capability.value}; "
        "check store.capabilities first."
    )
