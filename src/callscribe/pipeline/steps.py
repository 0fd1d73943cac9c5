"""The steps, in order. A new step (Index, AutoReview, Stats) is one class here and one
entry in STEPS."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, update

from callscribe.accounts.models import CompanySettings
from callscribe.calls import service as calls_service
from callscribe.calls.models import Channel, Engagement, EngagementStatus, Turn, TurnRole
from callscribe.db import session_scope, utcnow
from callscribe.events import CALL_COMPLETED, record_event
from callscribe.minutes import service as minutes_service
from callscribe.pipeline.base import DONE, Step, StepResult, WaitFor
from callscribe.pipeline.context import PipelineContext
from callscribe.privacy.redaction import redact_text
from callscribe.settings import get_settings
from callscribe.speech import service as speech
from callscribe.speech.roles import agent_channel_of, guess_agent_channel
from callscribe.speech.settings import speech_key
from callscribe.storage import get_store

DEFAULT_CHANNEL_ROLES = {"0": TurnRole.AGENT.value, "1": TurnRole.CUSTOMER.value}
STREAM_EVERY_S = 0.5  # new turns and progress are committed at most this often


def channel_roles(cs: CompanySettings, source: str) -> dict[str, str]:
    configured = cs.channel_roles or {}
    return configured.get(source) or configured.get("*") or DEFAULT_CHANNEL_ROLES


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
        ctx.meta = {**ctx.meta, "speech": decoding}
        with session_scope() as session:
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

        with get_store().local_path(ctx.audio_key) as path:
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
                pending.append(
                    Turn(
                        company_id=ctx.company_id,
                        engagement_id=call_id,
                        seq=seq,
                        role=role,
                        speaker=ctx.agent_name if role == TurnRole.AGENT else None,
                        channel=segment.channel,
                        start_ms=int(segment.start_s * 1000),
                        end_ms=int(segment.end_s * 1000),
                        text=text,
                    )
                )
                seq += 1
                if segment.channel is not None:
                    heard.append((segment.channel, segment.start_s, text))
                flush()
        state["progress"] = 1.0
        flush(force=True)
        ctx.meta = {
            **ctx.meta,
            "roles": self._settle_roles(ctx, roles, heard, trust_configured=from_connector),
            "transcript_complete": True,
        }
        with session_scope() as session:
            _update(session, call_id, meta=ctx.meta)
        return DONE

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
    """Write-time PII redaction of the turns, for companies with `redact_pii` on: the
    stored transcript, and so the minutes made from it, hold no card numbers, SSNs,
    emails or phone numbers. Idempotent: redacted text has nothing left to match."""

    name = "redact"
    status: str | None = None

    def applies(self, ctx: PipelineContext) -> bool:
        return bool(ctx.settings.redact_pii)

    def run(self, ctx: PipelineContext) -> StepResult:
        with session_scope() as session:
            for turn in ctx.load_turns():
                clean = redact_text(turn.text)
                if clean != turn.text:
                    turn.text = clean
                    session.execute(
                        update(Turn)
                        .where(Turn.id == turn.id)
                        .values(text=clean)
                        .execution_options(synchronize_session=False)
                    )
        return DONE


class Analyze:
    """Minutes and action items from the turns, by the company's analyzer; waits when
    the analyzer it names has no API key."""

    name = "analyze"
    status: str | None = EngagementStatus.ANALYZING

    def applies(self, ctx: PipelineContext) -> bool:
        return True

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


STEPS: tuple[Step, ...] = (Transcribe(), Redact(), Analyze(), Complete())


def _update(session: Any, call_id: Any, **values: Any) -> None:
    session.execute(
        update(Engagement)
        .where(Engagement.id == call_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
