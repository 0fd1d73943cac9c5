"""The steps, in order. A new step (Index, AutoReview, Stats) is one class here and one
entry in STEPS."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update

from callscribe.accounts.models import CompanySettings
from callscribe.calls import service as calls_service
from callscribe.calls import trackers as calls_trackers
from callscribe.calls.models import (
    Channel,
    Engagement,
    EngagementStatus,
    Timing,
    Turn,
    TurnRole,
)
from callscribe.crm.models import Customer
from callscribe.db import session_scope, utcnow
from callscribe.events import CALL_COMPLETED, record_event
from callscribe.minutes import service as minutes_service
from callscribe.pipeline.base import DONE, Step, StepResult, WaitFor
from callscribe.pipeline.context import PipelineContext
from callscribe.privacy.detectors import KnownIdentity, detect_turns
from callscribe.privacy.masking import mask_text, spans_to_json
from callscribe.privacy.redaction import audio_ranges_ms, silence
from callscribe.retention import service as retention
from callscribe.reviews import service as reviews_service
from callscribe.search import indexing as search_indexing
from callscribe.settings import get_settings
from callscribe.speech import service as speech
from callscribe.speech import stats as conversation_stats
from callscribe.speech.audio import decode_mono, decode_pcm, write_wav
from callscribe.speech.diarization import Diarization, get_diarizer
from callscribe.speech.diarization.base import split_by_speaker
from callscribe.speech.diarization.roles import assign_speaker_roles
from callscribe.speech.roles import agent_channel_of, guess_agent_channel
from callscribe.speech.settings import speech_key
from callscribe.storage import get_store, readable_source

DEFAULT_CHANNEL_ROLES = {"0": TurnRole.AGENT.value, "1": TurnRole.CUSTOMER.value}
STREAM_EVERY_S = 0.5  # new turns and progress are committed at most this often


def channel_roles(cs: CompanySettings, source: str) -> dict[str, str]:
    configured = cs.channel_roles or {}
    return configured.get(source) or configured.get("*") or DEFAULT_CHANNEL_ROLES


def _roles_configured(ctx: PipelineContext) -> bool:
    configured = ctx.settings.channel_roles or {}
    return bool(ctx.meta.get("channel_roles") or configured.get(ctx.source) or configured.get("*"))


def speech_config_for(cs: CompanySettings) -> speech.SpeechConfig:
    overrides: dict[str, Any] = {}
    if cs.speech_engine:
        overrides["engine"] = cs.speech_engine
    if cs.speech_model:
        overrides["model"] = cs.speech_model
    if cs.speech_base_url:
        overrides["base_url"] = cs.speech_base_url
    key = speech_key(cs)
    if key:
        overrides["api_key"] = key
    if cs.speech_language:
        overrides["language"] = cs.speech_language
    return speech.speech_config_from_settings(get_settings(), **overrides)


class Transcribe:
    """Decode, split channels, transcribe in windows and stream segments into turns.
    Text engagements (and voice calls whose transcript came with them) skip it."""

    name = "transcribe"
    status: str | None = EngagementStatus.TRANSCRIBING

    def applies(self, ctx: PipelineContext) -> bool:
        return ctx.channel == Channel.VOICE and not ctx.transcript_complete

    def run(self, ctx: PipelineContext) -> StepResult:
        call_id, cs = ctx.call_id, ctx.settings
        assert ctx.audio_key
        # a connector that built the stereo file itself says which side is which
        from_connector = bool(ctx.meta.get("channel_roles"))
        roles = ctx.meta.get("channel_roles") or channel_roles(cs, ctx.source)
        heard: list[tuple[int, float, str]] = []  # (channel, start_s, text): the role guess
        engine = speech.get_engine(speech_config_for(cs))
        # how this transcript was decoded, kept with it (same settings, same text)
        decoding = getattr(engine, "decoding", None) or {"engine": getattr(engine, "name", "?")}
        # word timestamps bound each turn by its first and last word; bare segments can
        # span a pause and the other side's words, so no response time is read from them
        timing = Timing.REAL if decoding.get("word_timestamps") else Timing.SEGMENTS
        ctx.meta = {**ctx.meta, "speech": decoding, "timing": timing}
        with session_scope() as session:
            # people's reviews of the old turns wait (anchored) for the new ones
            reviews_service.detach_turn_reviews(session, call_id)
            session.execute(delete(Turn).where(Turn.engagement_id == call_id))
            _update(session, call_id, meta=ctx.meta)
        ctx.turns = None

        state = {"progress": 0.0, "last_write": 0.0}
        pending: list[Turn] = []
        seq = 0

        def on_progress(fraction: float) -> None:
            state["progress"] = max(state["progress"], min(fraction, 1.0))

        def flush(force: bool = False) -> None:
            now = time.monotonic()
            if not force and now - state["last_write"] < STREAM_EVERY_S:
                return
            state["last_write"] = now
            with session_scope() as s:
                s.add_all(pending)
                _update(s, call_id, progress=round(state["progress"], 4), heartbeat_at=utcnow())
            pending.clear()

        # an S3 store: the decoder streams the recording through a presigned GET
        with readable_source(ctx.audio_key) as path:
            # a mono recording: who spoke when, from the audio, before the words
            diarized = self._diarize(ctx, path)
            for segment in speech.transcribe_file(
                path,
                engine,
                split_stereo=True,
                window_s=get_settings().SPEECH_WINDOW_S,
                language=cs.speech_language,
                on_progress=on_progress,
            ):
                text = segment.text.strip()
                if not text:
                    continue
                role: str
                if segment.channel is None:
                    role = TurnRole.UNKNOWN
                else:
                    role = roles.get(str(segment.channel), TurnRole.UNKNOWN)
                pieces: list[tuple[float, float, str, str | None]] = [
                    (segment.start_s, segment.end_s, text, None)
                ]
                if diarized is not None and segment.channel is None:
                    pieces = split_by_speaker(
                        diarized, segment.start_s, segment.end_s, text, segment.words
                    )
                for start_s, end_s, piece, label in pieces:
                    pending.append(
                        Turn(
                            company_id=ctx.company_id,
                            engagement_id=call_id,
                            seq=seq,
                            role=role,
                            speaker=label or (ctx.agent_name if role == TurnRole.AGENT else None),
                            channel=segment.channel,
                            start_ms=int(start_s * 1000),
                            end_ms=int(end_s * 1000),
                            text=piece,
                        )
                    )
                    seq += 1
                if segment.channel is not None:
                    heard.append((segment.channel, segment.start_s, text))
                flush()
            state["progress"] = 1.0
            flush(force=True)
        # a mono recording: roles from what each diarized speaker says
        mono_roles = self._settle_speaker_roles(ctx, diarized, roles) if diarized else None
        ctx.meta = {
            **ctx.meta,
            "roles": mono_roles
            or self._settle_roles(ctx, roles, heard, trust_configured=from_connector),
            "transcript_complete": True,
        }
        # the language spoken: the company's setting, else what the model detected
        language = cs.speech_language or getattr(engine, "detected_language", None)
        if language:
            ctx.meta = {**ctx.meta, "language": language}
        with session_scope() as session:
            _update(session, call_id, meta=ctx.meta)
            reviews_service.reattach_turn_reviews(session, call_id)
        return DONE

    @staticmethod
    def _diarize(ctx: PipelineContext, path: Any) -> Diarization | None:
        """Who spoke when on a one-channel recording (None for two channels). A phone
        call has two speakers; `meta.num_speakers` says otherwise (None: estimated)."""
        if speech.probe_audio(path).channels != 1:
            return None
        audio = decode_mono(path).astype(np.float32) / 32768.0
        return get_diarizer().diarize(audio, num_speakers=ctx.meta.get("num_speakers", 2))

    @staticmethod
    def _settle_speaker_roles(
        ctx: PipelineContext, diarized: Diarization, roles: dict[str, str]
    ) -> dict[str, Any]:
        """Agent/customer per diarized speaker where the text cues are clear (else the
        turns stay unknown); the turns already carry their S1, S2, … labels."""
        with session_scope() as session:
            turns = session.scalars(
                select(Turn).where(Turn.engagement_id == ctx.call_id, Turn.channel.is_(None))
            ).all()
            # only a source's own channel_roles is a prior (the default is no evidence)
            configured = roles if _roles_configured(ctx) else None
            guess = assign_speaker_roles(
                [(t.speaker, t.start_ms / 1000, t.text) for t in turns if t.speaker],
                configured=configured,
            )
            for turn in turns:
                turn.role = guess.roles.get(turn.speaker or "", TurnRole.UNKNOWN)
        ctx.turns = None
        return {
            "mono": True,
            "agent_channel": None,
            "method": f"diarized:{diarized.method}",
            "speakers": diarized.speakers,
            **guess.as_meta(),
        }

    @staticmethod
    def _settle_roles(
        ctx: PipelineContext,
        roles: dict[str, str],
        heard: list[tuple[int, float, str]],
        *,
        trust_configured: bool,
    ) -> dict[str, Any]:
        """Which channel is the agent, and how sure: the configured side is the prior of
        speech.roles' guess; when the guess disagrees the streamed turns are swapped.
        A connector that built the stereo file knows the sides: no guess then."""
        configured = agent_channel_of(roles)
        if not heard:
            return {"mono": True, "agent_channel": None, "method": "none", "confidence": 0.0}
        if trust_configured or configured is None:
            return {
                "mono": False,
                "agent_channel": configured,
                "method": "connector",
                "confidence": 1.0,
            }
        guess = guess_agent_channel(heard, prior_agent_channel=configured)
        if guess.agent_channel != configured:
            with session_scope() as session:
                call = session.get(Engagement, ctx.call_id)
                assert call is not None
                calls_service.swap_channel_roles(session, call, ctx.agent_name)
            ctx.turns = None
        return {
            **guess.as_meta(),
            "mono": False,
            "method": "guessed",
            "configured_agent_channel": configured,
        }


class Redact:
    """PII of every turn: the spans are found and stored (`turns.pii_spans`, so every
    surface masks cheaply at read time). For a company with `redact_pii` on (PCI) the
    stored text is replaced by the masked text and the card data (number, CVV, expiry)
    of the stored audio is silenced on every channel, so nothing recoverable stays.
    Idempotent: redacted text has nothing left to find, silenced audio stays silent."""

    name = "redact"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        turns = ctx.load_turns()
        with session_scope() as session:
            call = session.get(Engagement, ctx.call_id)
            assert call is not None
            known = known_identity_of(session, call)
        redact = bool(ctx.settings.redact_pii)
        found = detect_turns([t.text for t in turns], known, strict=redact)
        if redact and ctx.channel == Channel.VOICE and ctx.audio_key:
            # the audio first: should this run die after it, the next run finds the same
            # spans in the text again and silences the (already silent) audio again
            ranges = [
                r
                for turn, spans in zip(turns, found, strict=True)
                for r in audio_ranges_ms(turn.text, turn.start_ms, turn.end_ms, spans)
            ]
            if ranges:
                silence_stored_audio(ctx.call_id, ctx.audio_key, ranges)
        with session_scope() as session:
            for turn, spans in zip(turns, found, strict=True):
                values: dict[str, Any] = {"pii_spans": spans_to_json(spans)}
                if redact and spans:
                    values = {"text": mask_text(turn.text, spans), "pii_spans": []}
                for key, value in values.items():
                    setattr(turn, key, value)
                session.execute(
                    update(Turn)
                    .where(Turn.id == turn.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        return DONE


def known_identity_of(session: Any, call: Engagement) -> KnownIdentity:
    """The customer's own name, phones and emails, from the CRM record when linked."""
    names, phones, emails = call.customer_name, [], []
    if call.customer_phone:
        phones.append(call.customer_phone)
    customer = session.get(Customer, call.customer_id) if call.customer_id else None
    if customer is not None:
        names = names or customer.name
        phones += list(customer.phones or [])
        emails += list(customer.emails or [])
    return KnownIdentity(name=names or None, phones=tuple(phones), emails=tuple(emails))


def silence_stored_audio(call_id: Any, key: str, ranges_ms: list[tuple[int, int]]) -> None:
    """Decode the stored recording, zero `ranges_ms` on every channel and store it back
    under the same key as 16-bit WAV (the original is replaced, not kept beside it)."""
    store = get_store()
    with store.local_path(key) as path:
        pcm, rate = decode_pcm(path)
    silence(pcm, rate, ranges_ms)
    handle, staged = store.staging_file()
    with handle:
        write_wav(handle, pcm, rate)
    size = store.put_file(key, staged)
    with session_scope() as session:
        _update(
            session,
            call_id,
            audio_format="wav",
            audio_size=size,
        )


class Stats:
    """Conversation stats (speech.stats) from the turns, after Redact: the full result in
    `meta["stats"]`, the numbers as flat `facts` for analytics (`facts.talk_s_agent`...),
    replacing what an earlier run stored; the engagement's other facts stay."""

    name = "stats"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        turns = ctx.load_turns()
        with session_scope() as session:
            call = session.get(Engagement, ctx.call_id)
            assert call is not None
            spans = [
                conversation_stats.TurnSpan(t.role, t.start_ms, t.end_ms, t.text) for t in turns
            ]
            duration = call.duration_s
            stats = conversation_stats.conversation_stats(
                spans,
                voice=call.channel == Channel.VOICE,
                times_real=calls_service.times_are_real(call),
                duration_ms=int(duration * 1000) if duration else None,
            )
            stale = conversation_stats.stats_facts((call.meta or {}).get("stats") or {})
            call.meta = {**(call.meta or {}), "stats": stats}
            calls_service.set_computed_facts(call, stale, conversation_stats.stats_facts(stats))
            ctx.meta = dict(call.meta)
        return DONE


class Analyze:
    """Minutes and action items from the turns, by the company's analyzer; waits when
    the analyzer it names has no API key."""

    name = "analyze"
    status: str | None = EngagementStatus.ANALYZING

    def applies(self, ctx: PipelineContext) -> bool:
        # "Create AI summaries of recorded calls" off (Settings -> Retention): a recorded
        # call gets its transcript and no Minutes; chats, emails and tickets still do
        recorded = ctx.channel == Channel.VOICE.value and ctx.audio_key is not None
        return not recorded or retention.policy_of(ctx.settings).create_summaries

    def run(self, ctx: PipelineContext) -> StepResult:
        analyzer = minutes_service.find_analyzer(ctx.settings)
        if analyzer is None:
            return WaitFor("AI key not set", setting="ai_api_key")
        turns = ctx.load_turns()
        with session_scope() as session:
            call = session.get(Engagement, ctx.call_id)
            assert call is not None
            context = minutes_service.analysis_context(call, ctx.settings, ctx.agent_name)
            try:
                minutes_service.analyze_turns(session, call, analyzer, turns, context)
            except minutes_service.AnalyzerUnreachable as exc:
                minutes_service.fall_back_to_local(session, call, ctx.settings, turns, context, exc)
        return DONE


class Index:
    """Every turn into the search index (search.service.index_engagement), replacing
    what an earlier run indexed: voice calls, chats, emails and tickets alike, after
    Redact so no redacted PII is indexed. A failure does not fail the call (the
    transcript and Minutes are stored): the engagement is marked and the "unindexed
    turns" sweep indexes it again (search.indexing)."""

    name = "index"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        ctx.meta = search_indexing.index_call(ctx.call_id, ctx.meta)
        return DONE


class AutoReview:
    """Every enabled tag's auto-review classifier over the engagement's turns (embedded
    once for all tags), after Index: AI reviews with a confidence, replacing what an
    earlier run flagged; people's reviews are never touched. A failure does not fail the
    call: the Minutes and the transcript stand, the error is kept in
    `meta["auto_review"]`, and the tag's next backfill reviews the turns again."""

    name = "auto_review"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        try:
            with session_scope() as session:
                reviews_service.auto_review_engagement(session, ctx.call_id)
            ctx.meta.pop("auto_review", None)
        except Exception as exc:  # noqa: BLE001 -- reviewing never fails the call
            ctx.meta["auto_review"] = {"error": str(exc)[:300]}
            with session_scope() as session:
                _update(session, ctx.call_id, meta=dict(ctx.meta))
        return DONE


class Trackers:
    """The company's keyword and phrase trackers over the turns (calls.trackers), after
    the Minutes so a `tracker.matched` delivery carries them: the matches, the
    `facts.tracker_<name>` counts and the event, in one transaction."""

    name = "trackers"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        turns = ctx.load_turns()
        with session_scope() as session:
            call = session.get(Engagement, ctx.call_id)
            assert call is not None
            calls_trackers.track_engagement(session, call, turns)
        return DONE


class Complete:
    """`completed` and the `call.completed` outbox event, in one transaction: the
    automations fire for every completed call, even when the worker dies right after."""

    name = "complete"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return True

    def run(self, ctx: PipelineContext) -> StepResult:
        with session_scope() as session:
            call = session.get(Engagement, ctx.call_id)
            assert call is not None
            done = utcnow()
            call.status, call.progress, call.heartbeat_at = EngagementStatus.COMPLETED, 1.0, None
            call.completed_at = done
            started = call.processing_started_at or done
            call.processing_time_ms = int((done - started).total_seconds() * 1000)
            record_event(
                session, CALL_COMPLETED, {"call_id": str(call.id)}, company_id=call.company_id
            )
        return DONE


STEPS: tuple[Step, ...] = (
    Transcribe(),
    Redact(),
    Stats(),
    Analyze(),
    Index(),
    AutoReview(),
    Trackers(),
    Complete(),
)


def _update(session: Any, call_id: Any, **values: Any) -> None:
    session.execute(
        update(Engagement)
        .where(Engagement.id == call_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
