"""Staging files: bytes land in the store's staging area with the size limit enforced as
they arrive, and a staged recording is handed to the store by a rename."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callscribe.errors import PayloadTooLarge


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from callscribe import storage
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    storage._store_for.cache_clear()
    yield tmp_path / "data"
    reset_settings()
    storage._store_for.cache_clear()


def test_staged_audio_refuses_bytes_past_the_limit(data_dir: Path) -> None:
    from callscribe.storage.staging import StagedAudio

    staged = StagedAudio(max_bytes=10)
    staged.write(b"0123456789")
    with pytest.raises(PayloadTooLarge):
        staged.write(b"x")
    assert staged.head() == b"0123456789"
    staged.discard()
    assert not staged.path.exists()


def test_a_staged_file_from_a_path_goes_into_the_store(data_dir: Path, tmp_path: Path) -> None:
    from callscribe.storage import get_store
    from callscribe.storage.staging import stage_file_from_path

    source = tmp_path / "call.wav"
    source.write_bytes(b"RIFF" + b"\0" * 100)
    staged = stage_file_from_path(source)
    staged.close()
    assert staged.filename == "call.wav" and staged.size == 104
    assert staged.path.parent == (data_dir / "blobs" / ".staging").resolve()
    store = get_store()
    assert store.put_file("audio/c/call.wav", staged.path) == 104
    assert not staged.path.exists()
    with store.open("audio/c/call.wav") as fh:
        assert fh.read() == source.read_bytes()
