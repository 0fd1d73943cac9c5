"""One contract every blob store passes (huey's StorageTests pattern): the class holds the
tests, each implementation subclasses it and provides the `store` fixture. The S3 store
adds its subclass next to TestLocalBlobStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from callscribe.errors import NotFound
from callscribe.storage import BlobStore, Capability, LocalBlobStore, Unsupported
from callscribe.storage.base import BadBlobKey

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: crosses a read chunk


def _staged(store: BlobStore, data: bytes) -> Path:
    fh, path = store.staging_file()
    with fh:
        fh.write(data)
    return path


class StorageContract:
    @pytest.fixture
    def store(self, tmp_path: Path) -> BlobStore:
        raise NotImplementedError

    def test_put_then_open_size_exists_delete(self, store: BlobStore) -> None:
        staged = _staged(store, PAYLOAD)
        assert store.put_file("audio/c1/call.wav", staged) == len(PAYLOAD)
        assert store.exists("audio/c1/call.wav")
        assert store.size("audio/c1/call.wav") == len(PAYLOAD)
        with store.open("audio/c1/call.wav") as fh:
            assert fh.read() == PAYLOAD
        with store.local_path("audio/c1/call.wav") as path:
            assert path.read_bytes() == PAYLOAD
        store.delete("audio/c1/call.wav")
        assert not store.exists("audio/c1/call.wav")
        store.delete("audio/c1/call.wav")  # deleting twice is not an error

    def test_put_replaces_an_existing_blob(self, store: BlobStore) -> None:
        store.put_file("k/blob", _staged(store, b"first"))
        store.put_file("k/blob", _staged(store, b"second"))
        with store.open("k/blob") as fh:
            assert fh.read() == b"second"

    def test_missing_key_is_not_found(self, store: BlobStore) -> None:
        assert not store.exists("audio/none.wav")
        with pytest.raises(NotFound):
            store.open("audio/none.wav")
        with pytest.raises(NotFound):
            store.size("audio/none.wav")
        with pytest.raises(NotFound), store.local_path("audio/none.wav"):
            pass

    @pytest.mark.parametrize(
        "key", ["../escape", "a/../../b", "/etc/passwd", "a//b", "a/./b", "a\\..\\b", "", "."]
    )
    def test_key_path_traversal_is_refused(self, store: BlobStore, key: str) -> None:
        staged = _staged(store, b"x")
        with pytest.raises(BadBlobKey):
            store.put_file(key, staged)
        for op in (store.open, store.size, store.exists, store.delete):
            with pytest.raises(BadBlobKey):
                op(key)

    def test_ranged_open_reads_only_the_range(self, store: BlobStore) -> None:
        if Capability.RANGED_OPEN not in store.capabilities:
            with pytest.raises(Unsupported):
                store.open_range("k/blob", 0, 1)
            return
        store.put_file("k/blob", _staged(store, PAYLOAD))
        assert b"".join(store.open_range("k/blob", 10, 20)) == PAYLOAD[10:20]
        assert b"".join(store.open_range("k/blob", len(PAYLOAD) - 4)) == b"tail"
        assert b"".join(store.open_range("k/blob", 5, 5)) == b""
        assert b"".join(store.open_range("k/blob", 1000, 2_000_000)) == PAYLOAD[1000:2_000_000]
        with pytest.raises(NotFound):
            store.open_range("k/missing", 0, 1)

    def test_server_side_copy(self, store: BlobStore) -> None:
        if Capability.SERVER_SIDE_COPY not in store.capabilities:
            with pytest.raises(Unsupported):
                store.copy("k/blob", "k/copy")
            return
        store.put_file("k/blob", _staged(store, PAYLOAD))
        assert store.copy("k/blob", "other/copy") == len(PAYLOAD)
        store.delete("k/blob")  # the copy is independent of its source
        with store.open("other/copy") as fh:
            assert fh.read() == PAYLOAD
        with pytest.raises(NotFound):
            store.copy("k/blob", "k/again")
        with pytest.raises(BadBlobKey):
            store.copy("other/copy", "../out")

    def test_capabilities_are_honest(self, store: BlobStore) -> None:
        """Every capability either works or raises the typed error; none half-works."""
        assert store.capabilities <= set(Capability)
        store.put_file("k/blob", _staged(store, b"abc"))
        calls = {
            Capability.PRESIGNED_GET: lambda: store.presign_get("k/blob", 2_000_000_000),
            Capability.PRESIGNED_PUT: lambda: store.presign_put("k/new", 2_000_000_000),
            Capability.SERVER_SIDE_COPY: lambda: store.copy("k/blob", "k/copy"),
            Capability.RANGED_OPEN: lambda: b"".join(store.open_range("k/blob", 1, 2)),
        }
        for capability, call in calls.items():
            if capability in store.capabilities:
                assert call()
            else:
                with pytest.raises(Unsupported) as err:
                    call()
                assert err.value.code == "storage_unsupported"
                assert capability.value in err.value.message


class TestLocalBlobStore(StorageContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path / "blobs")

    def test_declares_copy_and_ranges_but_no_presigning(self, store: BlobStore) -> None:
        assert store.capabilities == {Capability.SERVER_SIDE_COPY, Capability.RANGED_OPEN}

    def test_a_symlink_out_of_the_root_is_refused(self, store: BlobStore, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(b"s")
        root = tmp_path / "blobs"
        (root / "link").symlink_to(outside)
        with pytest.raises(BadBlobKey):
            store.open("link/secret")

    def test_put_file_moves_the_staged_file(self, store: BlobStore) -> None:
        staged = _staged(store, b"abc")
        store.put_file("k/blob", staged)
        assert not staged.exists()
