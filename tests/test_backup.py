"""`callscribe backup` / `restore` for the embedded install: a backup taken while the
database is open restores into a new data dir where the call, its recording and the
stored secrets (encrypted with the backed-up key) are there."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import insert_text_engagement, make_company

AUDIO_BYTES = b"RIFF" + bytes(range(256)) * 8


def said(out: object) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(str(getattr(out, "output", "")).split())


def _point_at(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    from callscribe import db, queue, storage
    from callscribe.settings import reset_settings

    db.dispose_engines()
    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(data_dir))
    for name in ("DATABASE_URL", "STORAGE_URL", "SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(f"CALLSCRIBE_{name}", raising=False)
    reset_settings()
    queue._configured_for = None
    storage._store_for.cache_clear()


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    from callscribe import db, queue, storage
    from callscribe.settings import reset_settings

    _point_at(monkeypatch, tmp_path / "data")
    db.migrate()
    yield tmp_path
    db.dispose_engines()
    monkeypatch.undo()
    reset_settings()
    queue._configured_for = None
    storage._store_for.cache_clear()


def test_backup_restores_into_a_new_data_dir_and_the_call_opens(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe import db
    from callscribe.app import create_app
    from callscribe.calls.models import Engagement
    from callscribe.cli import app as cli
    from callscribe.db import session_scope
    from callscribe.security.crypto import decrypt_secret, encrypt_secret
    from callscribe.storage import get_store, new_audio_key

    company = make_company("Backed Up Co")
    call_id = insert_text_engagement(company.id, [("agent", "Hello"), ("customer", "Hi")])
    token = encrypt_secret("sk-live-webhook-secret")
    store = get_store()
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        key = new_audio_key(company.id, call_id, "wav")
        fh, path = store.staging_file()
        with fh:
            fh.write(AUDIO_BYTES)
        store.put_file(key, path)
        call.audio_key, call.audio_format, call.status = key, "wav", "completed"
    runner = CliRunner()
    out = runner.invoke(cli, ["backup", str(embedded / "bk")])
    assert out.exit_code == 0, out.output
    assert "1 blobs" in said(out) and "secret key included" in said(out)
    assert stat.S_IMODE((embedded / "bk" / "secret.key").stat().st_mode) == 0o600
    # into a directory that has something in it: refused
    again = runner.invoke(cli, ["backup", str(embedded / "bk")])
    assert again.exit_code == 1 and "not empty" in said(again)

    _point_at(monkeypatch, embedded / "restored")
    out = runner.invoke(cli, ["restore", str(embedded / "bk")])
    assert out.exit_code == 0, out.output
    db.migrate()
    assert decrypt_secret(token) == "sk-live-webhook-secret"  # the same key came back
    with TestClient(create_app()) as client:
        r = client.get(f"/api/calls/{call_id}", headers=company.headers)
        assert r.status_code == 200, r.text
        assert [t["text"] for t in r.json()["turns"]] == ["Hello", "Hi"]
        audio = client.get(f"/api/calls/{call_id}/audio", headers=company.headers)
        assert audio.status_code == 200 and audio.content == AUDIO_BYTES
    # restoring over an install that has data: refused unless --force
    refused = runner.invoke(cli, ["restore", str(embedded / "bk")])
    assert refused.exit_code == 1 and "--force" in said(refused)
    db.dispose_engines()
    assert runner.invoke(cli, ["restore", str(embedded / "bk"), "--force"]).exit_code == 0


def test_restore_refuses_what_is_not_a_backup(embedded: Path) -> None:
    from callscribe.cli import app as cli

    (embedded / "junk").mkdir()
    out = CliRunner().invoke(cli, ["restore", str(embedded / "junk")])
    assert out.exit_code == 1 and "not a callscribe backup" in said(out)


def test_backup_refuses_a_postgresql_install(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.cli import app as cli
    from callscribe.settings import reset_settings

    monkeypatch.setenv(
        "CALLSCRIBE_DATABASE_URL", f"postgresql+psycopg://x@127.0.0.1:1/{uuid.uuid4().hex}"
    )
    reset_settings()
    out = CliRunner().invoke(cli, ["backup", str(embedded / "bk")])
    assert out.exit_code == 1 and "pg_dump" in said(out)
