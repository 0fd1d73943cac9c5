"""The `callscribe` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import AUDIO


def run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "callscribe.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


@pytest.mark.slow
def test_transcribe_prints_minutes_and_transcript_as_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = run(
        ["transcribe", str(AUDIO / "stereo_diarization.wav"), "--format", "json"],
        {"CALLSCRIBE_DATA_DIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["channels"] == 2
    assert {t["role"] for t in body["turns"]} == {"agent", "customer"}
    assert body["minutes"]["summary"]


@pytest.mark.slow
def test_transcribe_markdown_and_bad_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = run(["transcribe", str(AUDIO / "jfk.flac")], {"CALLSCRIBE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "## Transcript" in out.stdout or "Transcript" in out.stdout
    assert "country" in out.stdout.lower()
    junk = tmp_path / "notes.wav"
    junk.write_text("not audio")
    out = run(["transcribe", str(junk)], {"CALLSCRIBE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert "error" in out.stderr.lower()


def test_admin_creates_company_and_key_that_authenticates(app_env) -> None:  # type: ignore[no-untyped-def]
    out = run(["admin", "create-company", "Globex"], app_env)
    assert out.returncode == 0, out.stderr
    company_id = out.stdout.strip()
    out = run(["admin", "create-api-key", "Globex"], app_env)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key.startswith("cs_")
    from callscribe.auth.api_keys import authenticate_api_key
    from callscribe.db import session_scope

    with session_scope() as s:
        assert str(authenticate_api_key(s, key).company_id) == company_id
    out = run(["admin", "create-api-key", "Nope Inc"], app_env)
    assert out.returncode == 1 and "No company" in out.stderr
    assert key not in run(["admin", "create-api-key", "Globex"], app_env).stdout
