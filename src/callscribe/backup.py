"""`callscribe backup PATH` / `callscribe restore PATH` for the embedded install (SQLite
and a local blob directory in the data dir). A backup is a directory:

    callscribe.db   a consistent copy made with SQLite's online backup API (the app
                    may keep running and writing while it is taken)
    queue.db        the task queue, the same way
    blobs/          the recordings and other blobs (copied after the database, so every
                    blob the copy refers to is there; one written meanwhile is extra)
    secret.key      the key stored secrets are encrypted with (mode 0600), unless it
                    comes from CALLSCRIBE_SECRET_KEY (then set the same variable again)
    manifest.json   what was backed up, when, from which version

A scaled-out install (PostgreSQL, S3) is backed up with those systems' own tools."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from callscribe import __version__
from callscribe.errors import Conflict, ErrorCode, ValidationFailed
from callscribe.settings import Settings, get_settings

MANIFEST = "manifest.json"


def _sqlite_path(settings: Settings) -> Path:
    url = settings.database_url
    if not url.startswith("sqlite:///"):
        raise ValidationFailed(
            "backup and restore are for the embedded install (SQLite); back up PostgreSQL "
            "with pg_dump.",
            code=ErrorCode.NOT_EMBEDDED,
        )
    return Path(url.removeprefix("sqlite:///"))


def _blob_root(settings: Settings) -> Path:
    parts = urlsplit(settings.storage_url)
    if parts.scheme != "file":
        raise ValidationFailed(
            "backup and restore are for the embedded install (local blobs); an S3 bucket "
            "is backed up with its own versioning or replication.",
            code=ErrorCode.NOT_EMBEDDED,
        )
    return Path(parts.path)


def _online_copy(src: Path, dest: Path) -> None:
    """SQLite's online backup: a consistent snapshot while others write."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
    os.chmod(dest, 0o600)


def _copy_blobs(src: Path, dest: Path) -> int:
    count = 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] == ".staging" or not path.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        count += 1
    return count


def backup(path: Path, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    db_path, blob_root = _sqlite_path(settings), _blob_root(settings)
    if not db_path.exists():
        raise ValidationFailed(
            f"No database at {db_path}: nothing to back up.", code=ErrorCode.NO_DATA
        )
    if path.exists() and any(path.iterdir()):
        raise Conflict(
            f"{path} is not empty; back up into a new directory.", code=ErrorCode.NOT_EMPTY
        )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _online_copy(db_path, path / "callscribe.db")
    queue = settings.DATA_DIR / "queue.db"
    if queue.exists():
        _online_copy(queue, path / "queue.db")
    blobs = _copy_blobs(blob_root, path / "blobs") if blob_root.exists() else 0
    key_file = settings.DATA_DIR / "secret.key"
    has_key = not settings.SECRET_KEY and key_file.exists()
    if has_key:
        shutil.copyfile(key_file, path / "secret.key")
        os.chmod(path / "secret.key", 0o600)
    manifest = {
        "version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "blobs": blobs,
        "secret_key": "included" if has_key else "from CALLSCRIBE_SECRET_KEY (not included)",
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def restore(path: Path, settings: Settings | None = None, *, force: bool = False) -> dict:
    settings = settings or get_settings()
    db_path, blob_root = _sqlite_path(settings), _blob_root(settings)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file() or not (path / "callscribe.db").is_file():
        raise ValidationFailed(f"{path} is not a callscribe backup.", code=ErrorCode.NOT_A_BACKUP)
    manifest = json.loads(manifest_file.read_text())
    if db_path.exists() and not force:
        raise Conflict(
            f"{db_path} exists: restore into a new data dir, or pass --force to replace it.",
            code=ErrorCode.DATA_EXISTS,
        )
    settings.DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    _online_copy(path / "callscribe.db", db_path)
    if (path / "queue.db").is_file():
        queue = settings.DATA_DIR / "queue.db"
        queue.unlink(missing_ok=True)
        _online_copy(path / "queue.db", queue)
    if (path / "blobs").is_dir():
        if force and blob_root.exists():
            shutil.rmtree(blob_root)
        _copy_blobs(path / "blobs", blob_root)
    if (path / "secret.key").is_file():
        key_file = settings.DATA_DIR / "secret.key"
        key_file.unlink(missing_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (path / "secret.key").read_bytes())
        finally:
            os.close(fd)
    return dict(manifest)
