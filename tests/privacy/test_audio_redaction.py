"""Write-time redaction of a voice call (PCI): the stored transcript holds no card
digits and the card data's time in the stored audio is silent on both channels, while
the rest of the call still sounds. The recording (tests/data/pii/card_call.wav) was
made with espeak-ng by bench/make_pii_audio.py; its turns and times are beside it."""

from __future__ import annotations

import json
import re
import shutil
import uuid

import numpy as np

from tests.conftest import DATA, CompanyCtx

WAV = DATA / "pii" / "card_call.wav"
TURNS = json.loads((DATA / "pii" / "card_call.json").read_text())["turns"]


def _voice_call_with_audio(company: CompanyCtx, tmp_path) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A voice call whose recording is stored and whose transcript came with it."""
    from callscribe.accounts import service as accounts
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.storage import get_store

    store = get_store()
    staged = tmp_path / "staged.wav"
    shutil.copyfile(WAV, staged)
    call_id = uuid.uuid4()
    key = f"{company.id}/{call_id}.wav"
    size = store.put_file(key, staged)
    with session_scope() as s:
        accounts.get_company_settings(s, company.id).redact_pii = True
        s.add(
            Engagement(
                id=call_id,
                company_id=company.id,
                channel="voice",
                source="tests",
                status="received",
                audio_key=key,
                audio_format="wav",
                audio_size=size,
                audio_channels=2,
                meta={"transcript_complete": True},
            )
        )
        s.flush()
        for seq, t in enumerate(TURNS):
            s.add(
                Turn(
                    company_id=company.id,
                    engagement_id=call_id,
                    seq=seq,
                    role=t["role"],
                    channel=t["channel"],
                    start_ms=t["start_ms"],
                    end_ms=t["end_ms"],
                    text=t["text"],
                )
            )
    return call_id


def _rms(pcm: np.ndarray, rate: int, a_ms: int, b_ms: int, channel: int) -> float:
    part = pcm[a_ms * rate // 1000 : b_ms * rate // 1000, channel].astype(np.float64)
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


def test_redaction_silences_the_card_in_the_audio_and_removes_its_digits_from_the_text(
    company: CompanyCtx, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from callscribe.calls.models import Engagement, Minutes, Turn
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from callscribe.privacy.detectors import detect
    from callscribe.privacy.redaction import audio_ranges_ms
    from callscribe.speech.audio import decode_pcm
    from callscribe.storage import get_store

    before, rate = decode_pcm(WAV)
    # where the card data was said, from the turns before redaction
    ranges = [
        r
        for i, t in enumerate(TURNS)
        for r in audio_ranges_ms(
            t["text"],
            t["start_ms"],
            t["end_ms"],
            detect(t["text"], previous=TURNS[i - 1]["text"] if i else ""),
        )
    ]
    assert len(ranges) == 2  # the card number and the security code
    for a, b in ranges:
        assert _rms(before, rate, a, b, 1) > 300  # the customer spoke there

    call_id = _voice_call_with_audio(company, tmp_path)
    assert process_call(call_id) == "completed"

    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None and call.audio_key
        texts = [t.text for t in s.scalars(select(Turn).where(Turn.engagement_id == call_id))]
        minutes = s.get(Minutes, call_id)
        with get_store().local_path(call.audio_key) as path:
            after, after_rate = decode_pcm(path)
    assert after_rate == rate and after.shape == before.shape
    joined = " ".join(texts) + (minutes.summary if minutes else "")
    assert "4111" not in joined and "737" not in joined
    assert not re.search(r"\d{3}", " ".join(texts))
    assert "[card]" in texts[1] and "[cvv]" in texts[3]

    for a, b in ranges:
        for channel in (0, 1):
            assert _rms(after, rate, a, b, channel) == 0.0
    # the rest of the call still sounds: the agent's first and last turns are untouched
    for t in (TURNS[0], TURNS[4]):
        assert _rms(after, rate, t["start_ms"], t["end_ms"], 0) > 300
        assert np.array_equal(
            after[t["start_ms"] * rate // 1000 : t["end_ms"] * rate // 1000],
            before[t["start_ms"] * rate // 1000 : t["end_ms"] * rate // 1000],
        )


def test_redacting_a_call_twice_changes_nothing_more(company: CompanyCtx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope
    from callscribe.pipeline.context import load_context
    from callscribe.pipeline.steps import Redact
    from callscribe.storage import get_store

    call_id = _voice_call_with_audio(company, tmp_path)
    Redact().run(load_context(call_id))

    def state() -> tuple[list[str], bytes]:
        with session_scope() as s:
            call = s.get(Engagement, call_id)
            assert call is not None and call.audio_key
            texts = [
                t.text
                for t in s.scalars(
                    select(Turn).where(Turn.engagement_id == call_id).order_by(Turn.seq)
                )
            ]
            with get_store().open(call.audio_key) as f:
                return texts, f.read()

    first = state()
    Redact().run(load_context(call_id))
    assert state() == first
