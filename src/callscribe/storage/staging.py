"""Staging files: a recording being received is written to a staging file of the blob
store while the bytes arrive, with the size limit enforced as they come (never held in
memory), then handed to the store with put_file."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from callscribe.errors import PayloadTooLarge
from callscribe.settings import get_settings
from callscribe.storage import get_store

CHUNK = 1024 * 1024


class StagedAudio:
    """A recording being received into a staging file, size-limited as it arrives."""

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = max_bytes or get_settings().max_upload_bytes
        self.file, self.path = get_store().staging_file()
        self.size = 0
        self.filename: str | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The recording is larger than the {self.max_bytes // (1024 * 1024)} MB limit."
            )
        self.file.write(chunk)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def head(self, n: int = 4096) -> bytes:
        if not self.file.closed:
            self.file.flush()
        with self.path.open("rb") as fh:
            return fh.read(n)


def sweep_staging() -> int:
    """Remove stale staging files of this install's store (a periodic sweep); a store
    without a local staging area has none."""
    sweep = getattr(get_store(), "sweep_staging", None)
    return sweep() if sweep is not None else 0


def copy_into_stage(src: BinaryIO, staged: StagedAudio) -> None:
    while chunk := src.read(CHUNK):
        staged.write(chunk)


def stage_file_from_path(path: Path) -> StagedAudio:
    staged = StagedAudio()
    staged.filename = path.name
    with path.open("rb") as fh:
        copy_into_stage(fh, staged)
    return staged
