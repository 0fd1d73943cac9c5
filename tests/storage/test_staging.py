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


def test_stale_staging_files_are_removed_at_start_and_by_the_sweep(data_dir: Path) -> None:
    """GIVEN staging files a previous run left (a day old) and one being written now
    WHEN the store starts, and later the periodic sweep runs
    THEN the stale ones are gone at start, a file in use survives however old it looks,
    and the sweep removes one that went stale while the process ran."""
    import os
    import time

    from callscribe import storage
    from callscribe.storage.staging import StagedAudio, sweep_staging
    from callscribe.worker import SWEEPS

    staging = data_dir / "blobs" / ".staging"
    staging.mkdir(parents=True)
    day_ago = time.time() - 24 * 3600
    left = [staging / "up-crashed1", staging / "up-crashed2"]
    for path in left:
        path.write_bytes(b"half a recording")
        os.utime(path, (day_ago, day_ago))
    fresh = staging / "up-other-process"
    fresh.write_bytes(b"being written")

    store = storage.get_store()
    assert store.tmp == staging  # type: ignore[attr-defined]
    assert not any(p.exists() for p in left) and fresh.exists()

    staged = StagedAudio()
    staged.write(b"still arriving")
    os.utime(staged.path, (day_ago, day_ago))  # a slow client: old, but in use
    os.utime(fresh, (day_ago, day_ago))  # went stale while we ran
    assert "stale staging files" in {s.name for s in SWEEPS}
    assert sweep_staging() == 1
    assert staged.path.exists() and not fresh.exists()
    staged.discard()


def test_a_recording_whose_transaction_rolls_back_leaves_no_blob(company) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a recording stored by create_engagement WHEN the request's transaction then
    rolls back (a later check refused it, the commit failed) THEN the blob is deleted:
    it would belong to no call."""
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.db import session_scope
    from callscribe.ingest import service
    from callscribe.ingest.schemas import CallFields
    from callscribe.storage import get_store
    from callscribe.storage.staging import stage_file_from_path
    from tests.conftest import AUDIO

    principal = Principal(company_id=company.id, role=Role.ADMIN)
    with pytest.raises(RuntimeError), session_scope() as session:
        staged = stage_file_from_path(AUDIO / "stereo_diarization.wav")
        result = service.add_recording(session, principal, staged, CallFields())
        key = result.engagement.audio_key
        assert key and get_store().exists(key)
        raise RuntimeError("refused after the blob was stored")
    assert not get_store().exists(key)
    with session_scope() as session:  # committed: the blob stays
        staged = stage_file_from_path(AUDIO / "stereo_diarization.wav")
        kept = service.add_recording(session, principal, staged, CallFields()).engagement.audio_key
    assert kept and get_store().exists(kept)
