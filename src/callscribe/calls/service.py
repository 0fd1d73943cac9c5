"""Calls: queries and the processing state machine.

received -> transcribing -> analyzing -> completed | failed, and waiting(reason).
Ingestion (ingest.service.create_engagement) stores the blob and commits the call as
`received`; it is enqueued after the commit. `process_call` is the one long-running
operation here: it commits after each step (and while streaming turns) so progress is
visible to other processes, which is why it opens its own sessions instead of receiving
one.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, false, func, or_, select, update
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent, CompanySettings
from callscribe.accounts.service import Principal
from callscribe.calls.models import ACTIVE_STATUSES, Engagement, EngagementStatus, Turn
from callscribe.db import session_scope, utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    ErrorCode,
    NotFound,
)
from callscribe.events import emit
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page
from callscribe.minutes.models import ActionItem, Minutes
from callscribe.security.crypto import sign, verify_signature
from callscribe.settings import get_settings
from callscribe.storage import get_store

log = logging.getLogger(__name__)

SUPPORTED_FORMATS = ("mp3", "wav", "m4a", "webm", "mp4", "ogg", "flac", "aac")
CHUNK = 1024 * 1024
DEFAULT_CHANNEL_ROLES = {"0": "agent", "1": "customer"}


# -- ingestion ---------------------------------------------------------------------------


def mark_enqueued(session: Session, call_ids: list[uuid.UUID]) -> None:
    if call_ids:
        session.execute(
            update(Engagement).where(Engagement.id.in_(call_ids)).values(enqueued_at=utcnow())
        )


# -- queries -----------------------------------------------------------------------------


def scoped_calls(principal: Principal) -> Select[Engagement]:
    stmt = select(Engagement).where(Engagement.company_id == principal.company_id)
    if principal.sees_only_own_calls:
        if principal.agent_id is None:  # an agent user not linked to an agent record
            return stmt.where(false())
        stmt = stmt.where(Engagement.agent_id == principal.agent_id)
    return stmt


def get_call(session: Session, principal: Principal, call_id: uuid.UUID | str) -> Engagement:
    try:
        call_uuid = uuid.UUID(str(call_id))
    except ValueError as exc:
        raise NotFound("Call not found.") from exc
    call = session.scalars(scoped_calls(principal).where(Engagement.id == call_uuid)).first()
    if call is None:
        raise NotFound("Call not found.")
    return call


class CallFilters(EngagementFilter):
    """The calls list: which calls (the engagement filter) and in what order."""

    sort: str = "-created_at"


SORTS = {
    "created_at": Engagement.created_at,
    "started_at": Engagement.started_at,
    "duration": Engagement.duration_s,
    "status": Engagement.status,
}


def list_calls(
    session: Session, principal: Principal, filters: CallFilters, page: int, page_size: int
) -> Page[Engagement]:
    stmt = filters.apply(scoped_calls(principal), Engagement)
    column = SORTS.get(filters.sort.lstrip("-"), Engagement.created_at)
    order = column.desc() if filters.sort.startswith("-") else column.asc()
    return paginate(session, stmt, page, page_size, order_by=(order, Engagement.id))


def list_turns(session: Session, call_id: uuid.UUID, after_seq: int = -1) -> list[Turn]:
    return list(
        session.scalars(
            select(Turn)
            .where(Turn.engagement_id == call_id, Turn.seq > after_seq)
            .order_by(Turn.start_ms, Turn.seq)
        )
    )


def get_minutes(session: Session, call_id: uuid.UUID) -> Minutes | None:
    return session.get(Minutes, call_id)


def list_call_action_items(session: Session, call_id: uuid.UUID) -> list[ActionItem]:
    return list(
        session.scalars(
            select(ActionItem).where(ActionItem.engagement_id == call_id).order_by(ActionItem.seq)
        )
    )


@dataclass(frozen=True)
class ActionItemFilters:
    """Action items by their own status, priority and creation date, of the calls that
    `calls` matches (and the principal may see)."""

    status: str | None = None
    priority: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    calls: EngagementFilter = field(default_factory=lambda: EngagementFilter())


def list_action_items(
    session: Session, principal: Principal, filters: ActionItemFilters, page: int, page_size: int
) -> Page[ActionItem]:
    calls = filters.calls.apply(scoped_calls(principal), Engagement).with_only_columns(
        Engagement.id
    )
    stmt = select(ActionItem).where(
        ActionItem.company_id == principal.company_id, ActionItem.engagement_id.in_(calls)
    )
    if filters.status:
        stmt = stmt.where(ActionItem.status == filters.status)
    if filters.priority:
        stmt = stmt.where(ActionItem.priority == filters.priority)
    if filters.date_from:
        stmt = stmt.where(ActionItem.created_at >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(ActionItem.created_at <= filters.date_to)
    return paginate(
        session, stmt, page, page_size, order_by=(ActionItem.created_at.desc(), ActionItem.seq)
    )


def update_action_item(
    session: Session, principal: Principal, item_id: uuid.UUID, **changes: Any
) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None or item.company_id != principal.company_id:
        raise NotFound("Action item not found.")
    get_call(session, principal, item.engagement_id)  # agents: only their own calls
    for key, value in changes.items():
        if value is not None:
            setattr(item, key, value)
    session.flush()
    return item


def audio_token(call: Engagement, ttl_s: int | None = None) -> str:
    ttl = ttl_s or get_settings().AUDIO_URL_TTL_S
    return sign(f"audio:{call.id}", int(time.time()) + ttl)


def audio_url(call: Engagement) -> str | None:
    if not call.audio_key:
        return None
    return f"{get_settings().public_url}/api/calls/{call.id}/audio?token={audio_token(call)}"


def verify_audio_token(call_id: uuid.UUID, token: str) -> bool:
    return verify_signature(f"audio:{call_id}", token)


def retry_call(session: Session, principal: Principal, call_id: uuid.UUID) -> Engagement:
    call = get_call(session, principal, call_id)
    if call.status in ACTIVE_STATUSES and not _lease_expired(call):
        raise BadRequest("The call is being processed; wait for it to finish.", code=ErrorCode.BUSY)
    reset_for_processing(call, keep_transcript=False)
    session.flush()
    return call


def reset_for_processing(call: Engagement, *, keep_transcript: bool) -> None:
    call.status = EngagementStatus.RECEIVED
    call.status_reason = None
    call.error = None
    call.progress = 0.0
    call.heartbeat_at = None
    call.attempts = 0
    call.processing_started_at = None  # processing time counts from the new start
    if not keep_transcript:
        call.meta = {k: v for k, v in (call.meta or {}).items() if k != "transcript_complete"}


def resume_waiting(session: Session, company_id: uuid.UUID) -> list[uuid.UUID]:
    """Calls waiting for a setting go back to `received`; the caller enqueues the ids
    after commit."""
    calls = session.scalars(
        select(Engagement).where(
            Engagement.company_id == company_id,
            Engagement.status == EngagementStatus.WAITING,
        )
    ).all()
    for call in calls:
        reset_for_processing(call, keep_transcript=True)
    session.flush()
    return [c.id for c in calls]


def _lease_expired(call: Engagement) -> bool:
    stale = timedelta(seconds=get_settings().STALE_AFTER_S)
    return call.heartbeat_at is None or call.heartbeat_at < utcnow() - stale


def find_lost_calls(session: Session, queued: set[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Calls that should be in progress but whose job is gone: nobody holds their lease,
    they were last enqueued long enough ago, and they are not waiting in the queue
    (`queued`: ids of pending jobs, None when unknown). Marks them enqueued again."""
    settings = get_settings()
    cutoff = utcnow() - timedelta(seconds=settings.STALE_AFTER_S)
    ids = [
        call_id
        for call_id in session.scalars(
            select(Engagement.id).where(
                Engagement.status.in_(ACTIVE_STATUSES),
                or_(Engagement.heartbeat_at.is_(None), Engagement.heartbeat_at < cutoff),
                or_(Engagement.enqueued_at.is_(None), Engagement.enqueued_at < cutoff),
            )
        )
        if queued is None or call_id not in queued
    ]
    mark_enqueued(session, ids)
    return ids


# -- processing --------------------------------------------------------------------------


def _claim(call_id: uuid.UUID) -> bool:
    """Take the call's lease. False when another worker holds a fresh one, or the call
    is not waiting to be processed."""
    now = utcnow()
    cutoff = now - timedelta(seconds=get_settings().STALE_AFTER_S)
    with session_scope() as session:
        result = session.execute(
            update(Engagement)
            .where(
                Engagement.id == call_id,
                Engagement.status.in_(ACTIVE_STATUSES),
                or_(Engagement.heartbeat_at.is_(None), Engagement.heartbeat_at < cutoff),
            )
            .values(
                heartbeat_at=now,
                attempts=Engagement.attempts + 1,
                processing_started_at=func.coalesce(Engagement.processing_started_at, now),
            )
            .execution_options(synchronize_session=False)
        )
        return (getattr(result, "rowcount", 0) or 0) == 1


@contextmanager
def _heartbeat(call_id: uuid.UUID) -> Iterator[None]:
    """Keep the lease fresh while a step runs, even through long silent stretches."""
    stop = threading.Event()
    interval = max(0.5, get_settings().STALE_AFTER_S / 4)

    def beat() -> None:
        while not stop.wait(interval):
            with suppress(Exception), session_scope() as session:
                session.execute(
                    update(Engagement)
                    .where(Engagement.id == call_id)
                    .values(heartbeat_at=utcnow())
                    .execution_options(synchronize_session=False)
                )

    thread = threading.Thread(target=beat, name=f"heartbeat-{call_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _set(call_id: uuid.UUID, **values: Any) -> None:
    with session_scope() as session:
        session.execute(
            update(Engagement)
            .where(Engagement.id == call_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def process_call(call_id: uuid.UUID | str) -> str:
    """Run the pipeline for one call; returns the final status. Idempotent: each step
    replaces what an earlier attempt of it produced."""
    call_id = uuid.UUID(str(call_id))
    if not _claim(call_id):
        return "skipped"
    settings = get_settings()
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        if call.attempts > settings.MAX_ATTEMPTS:
            call.status, call.heartbeat_at = "failed", None
            call.error = f"Processing was interrupted {call.attempts - 1} times; gave up."
            return "failed"
    try:
        with _heartbeat(call_id):
            status = _run_steps(call_id)
    except CallscribeError as exc:
        _set(call_id, status="failed", error=exc.message, heartbeat_at=None, progress=0.0)
        log.info("call %s failed: %s", call_id, exc.message)
        return "failed"
    except Exception as exc:
        log.exception("call %s failed unexpectedly", call_id)
        _set(
            call_id,
            status="failed",
            error=f"Internal error while processing ({type(exc).__name__}). Retry the call.",
            heartbeat_at=None,
        )
        return "failed"
    if status == "completed":
        emit("call.completed", call_id=call_id)
    return status


def _run_steps(call_id: uuid.UUID) -> str:
    from callscribe.minutes import service as minutes_service

    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        needs_transcript = call.channel == "voice" and not (call.meta or {}).get(
            "transcript_complete"
        )
        cs = accounts.get_company_settings(session, call.company_id)
        try:
            analyzer = minutes_service.analyzer_for(cs)
        except CallscribeError as exc:
            if exc.code == "ai_key_missing":
                analyzer = None
            else:
                raise
    if needs_transcript:
        transcribe_call(call_id)
    if analyzer is None:
        _set(
            call_id,
            status="waiting",
            status_reason="AI key not set",
            heartbeat_at=None,
            progress=0.0,
        )
        return "waiting"
    _set(call_id, status="analyzing", progress=0.0)
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        minutes_service.analyze_engagement(session, call, analyzer)
        done = utcnow()
        call.status, call.progress, call.heartbeat_at = "completed", 1.0, None
        call.completed_at = done
        started = call.processing_started_at or done
        call.processing_time_ms = int((done - started).total_seconds() * 1000)
    return "completed"


def channel_roles(cs: CompanySettings, source: str) -> dict[str, str]:
    configured = cs.channel_roles or {}
    return configured.get(source) or configured.get("*") or DEFAULT_CHANNEL_ROLES


def transcribe_call(call_id: uuid.UUID) -> None:
    """Decode, split channels, transcribe in windows and stream segments into turns."""
    from callscribe.speech.service import get_engine, transcribe_file

    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None and call.audio_key
        cs = accounts.get_company_settings(session, call.company_id)
        # a connector that built the stereo file itself says which side is which
        roles = (call.meta or {}).get("channel_roles") or channel_roles(cs, call.source)
        engine = get_engine(speech_config_for(cs))
        agent = session.get(Agent, call.agent_id) if call.agent_id else None
        agent_name = agent.name if agent else None
        company_id, audio_key, language = call.company_id, call.audio_key, cs.speech_language
        session.execute(delete(Turn).where(Turn.engagement_id == call_id))
        call.status, call.progress, call.error = "transcribing", 0.0, None
        # how this transcript was decoded, kept with it (same settings, same text)
        decoding = getattr(engine, "decoding", None) or {"engine": getattr(engine, "name", "?")}
        call.meta = {**(call.meta or {}), "speech": decoding}

    state = {"progress": 0.0, "last_write": 0.0}
    pending: list[Turn] = []
    seq = 0

    def on_progress(fraction: float) -> None:
        state["progress"] = max(state["progress"], min(fraction, 1.0))

    def flush(force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - state["last_write"] < 0.5:
            return
        state["last_write"] = now
        with session_scope() as s:
            s.add_all(pending)
            s.execute(
                update(Engagement)
                .where(Engagement.id == call_id)
                .values(progress=round(state["progress"], 4), heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        pending.clear()

    store = get_store()
    with store.local_path(audio_key) as path:
        for segment in transcribe_file(
            path,
            engine,
            split_stereo=True,
            window_s=get_settings().SPEECH_WINDOW_S,
            language=language,
            on_progress=on_progress,
        ):
            text = segment.text.strip()
            if not text:
                continue
            if segment.channel is None:
                role = "unknown"
            else:
                role = roles.get(str(segment.channel), "unknown")
            pending.append(
                Turn(
                    company_id=company_id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role,
                    speaker=agent_name if role == "agent" else None,
                    channel=segment.channel,
                    start_ms=int(segment.start_s * 1000),
                    end_ms=int(segment.end_s * 1000),
                    text=text,
                )
            )
            seq += 1
            flush()
    state["progress"] = 1.0
    flush(force=True)
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        if cs.redact_pii:
            redact_turns(session, call_id)
        call.meta = {**(call.meta or {}), "transcript_complete": True}


def speech_config_for(cs: CompanySettings):  # type: ignore[no-untyped-def]
    from callscribe.speech.service import speech_config_from_settings

    overrides: dict[str, Any] = {}
    if cs.speech_engine:
        overrides["engine"] = cs.speech_engine
    if cs.speech_model:
        overrides["model"] = cs.speech_model
    if cs.speech_base_url:
        overrides["base_url"] = cs.speech_base_url
    key = accounts.speech_key(cs)
    if key:
        overrides["api_key"] = key
    if cs.speech_language:
        overrides["language"] = cs.speech_language
    return speech_config_from_settings(get_settings(), **overrides)


PII_PATTERNS = [
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b"), "[phone]"),
]


def redact_text(text: str) -> str:
    for pattern, label in PII_PATTERNS:
        text = pattern.sub(label, text)
    return text


def redact_turns(session: Session, call_id: uuid.UUID) -> None:
    for turn in session.scalars(select(Turn).where(Turn.engagement_id == call_id)):
        turn.text = redact_text(turn.text)


def progress_snapshot(session: Session, call_id: uuid.UUID) -> dict[str, Any] | None:
    row = session.execute(
        select(
            Engagement.status,
            Engagement.progress,
            Engagement.status_reason,
            Engagement.error,
            func.max(Turn.seq),
        )
        .outerjoin(Turn, Turn.engagement_id == Engagement.id)
        .where(Engagement.id == call_id)
        .group_by(Engagement.id)
    ).first()
    if row is None:
        return None
    return {
        "status": row[0],
        "progress": row[1],
        "status_reason": row[2],
        "error": row[3],
        "max_seq": -1 if row[4] is None else row[4],
    }
