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


@pytest.mark.slow
def test_transcribe_unavailable_model_is_one_line_and_leaves_no_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    out = run(
        ["transcribe", str(AUDIO / "jfk.flac"), "--model", "small.en"],
        {"CALLSCRIBE_DATA_DIR": str(data), "COLUMNS": "80"},
    )
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "small.en" in lines[0] and "tiny.en" in lines[0] and "Traceback" not in out.stderr
    assert not data.exists()


@pytest.mark.slow
def test_transcribe_agent_channel_option_and_plain_markdown_when_piped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    env = {"CALLSCRIBE_DATA_DIR": str(data)}
    wav = str(AUDIO / "stereo_diarization.wav")
    right = run(["transcribe", wav, "--agent-channel", "right", "-f", "json"], env)
    assert right.returncode == 0, right.stderr
    turns = json.loads(right.stdout)["turns"]
    # the left channel says "wizard", the right "horizon"
    agent = " ".join(t["text"] for t in turns if t["role"] == "agent").lower()
    assert "horizon" in agent and "wizard" not in agent
    auto = run(["transcribe", wav], env)
    assert auto.returncode == 0, auto.stderr
    assert "guessed" in auto.stderr and "% sure" in auto.stderr
    assert auto.stdout.startswith("# ")  # piped: Markdown as text, not rendered
    assert not data.exists()
    bad = run(["transcribe", wav, "--agent-channel", "middle"], env)
    assert bad.returncode == 2


def test_admin_commands_say_which_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = run(["admin", "create-company", "Acme"], {"CALLSCRIBE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert str(tmp_path.resolve()) in out.stderr.replace("\n", "")
    assert len(out.stdout.strip().splitlines()) == 1  # stdout stays the id alone
