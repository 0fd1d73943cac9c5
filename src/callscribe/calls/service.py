"""Calls: queries and the engagement's state (retry, resume, lost-job detection).

received -> transcribing -> analyzing -> completed | failed, and waiting(reason); the
transitions are made by the pipeline (callscribe.pipeline.runner). Ingestion
(ingest.service.create_engagement) stores the blob and commits the call as `received`;
it is enqueued after the commit.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.orm import Session

from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls.models import (
    ACTIVE_STATUSES,
    ActionItem,
    Channel,
    Engagement,
    EngagementStatus,
    Minutes,
    Timing,
    Turn,
    TurnRole,
)
from callscribe.db import after_commit, utcnow
from callscribe.errors import (
    BadRequest,
    ErrorCode,
    Forbidden,
    NotFound,
)
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page
from callscribe.privacy.audit import record_reveal
from callscribe.privacy.detectors import KnownIdentity, Span
from callscribe.privacy.masking import mask_text, reveal, spans_for
from callscribe.queue import configure_queue, enqueue_named
from callscribe.security.crypto import sign, verify_signature
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

SUPPORTED_FORMATS = ("mp3", "wav", "m4a", "webm", "mp4", "ogg", "flac", "aac")
CHUNK = 1024 * 1024


# -- ingestion ---------------------------------------------------------------------------


# The pipeline's task: enqueued by name, since calls sits below the pipeline.
PROCESS_TASK = "pipeline.process"


# `meta["computed_facts"]`: the names of the facts the pipeline computed (conversation
# stats, tracker counts), kept apart from the source system's own facts
COMPUTED_FACTS = "computed_facts"


def computed_facts(call: Engagement) -> dict[str, Any]:
    """The facts the pipeline computed (a re-sent record keeps them)."""
    names = (call.meta or {}).get(COMPUTED_FACTS) or []
    facts = call.facts or {}
    return {k: facts[k] for k in names if k in facts}


def set_computed_facts(call: Engagement, drop: Iterable[str], new: dict[str, Any]) -> None:
    """Replace the computed facts named in `drop` by `new`; the others stay."""
    gone = set(drop) - set(new)
    call.facts = {**{k: v for k, v in (call.facts or {}).items() if k not in gone}, **new}
    names = (set((call.meta or {}).get(COMPUTED_FACTS) or []) - gone) | set(new)
    call.meta = {**(call.meta or {}), COMPUTED_FACTS: sorted(names)}


def times_are_real(call: Engagement) -> bool:
    """Whether the call's turn times are real enough for response times and overlaps
    (`meta["timing"]`, calls.models.Timing). Calls stored before the flag: transcribed
    here, real only with word timestamps; otherwise a voice call's times came with it,
    and a text thread's may be the made-up clock its parser kept the order with."""
    meta = call.meta or {}
    timing = meta.get("timing")
    if timing is not None:
        return bool(timing == Timing.REAL)
    if meta.get("speech"):
        return bool(meta["speech"].get("word_timestamps"))
    return call.channel == Channel.VOICE


def call_names(
    session: Session, company_id: uuid.UUID, call_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """What a list that points at calls calls them (the delivery log): the Minutes'
    subject, else the recording's file name, else the customer and the date."""
    ids = [c for c in set(call_ids) if c is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(
            Engagement.id,
            Minutes.subject,
            Engagement.audio_filename,
            Engagement.customer_name,
            Engagement.started_at,
            Engagement.created_at,
            Engagement.channel,
        )
        .outerjoin(Minutes, Minutes.engagement_id == Engagement.id)
        .where(Engagement.company_id == company_id, Engagement.id.in_(ids))
    )
    names: dict[uuid.UUID, str] = {}
    for call_id, subject, filename, customer, started, created, channel in rows:
        if subject and subject.strip():
            names[call_id] = subject.strip()
        elif filename:
            names[call_id] = filename
        else:
            when = (started or created).strftime("%Y-%m-%d %H:%M")
            kind = "Call" if channel == Channel.VOICE else str(channel).capitalize()
            names[call_id] = f"{kind} with {customer}, {when}" if customer else f"{kind}, {when}"
    return names


def request_processing(session: Session, call_ids: list[uuid.UUID], *, mark: bool = True) -> None:
    """Ask for these calls to be processed, as part of the caller's transaction: the
    enqueue time is written now (`mark`; the sweep tells a lost job from a queued one by
    it) and the jobs go to the queue once the transaction commits, never before — a
    worker must not see a call that is not there yet, and a rollback enqueues nothing.
    The one way every domain hands a call to the pipeline."""
    ids = list(call_ids)
    if not ids:
        return
    if mark:
        mark_enqueued(session, ids)
    after_commit(session, lambda: enqueue_now(ids))


def enqueue_now(call_ids: list[uuid.UUID]) -> None:
    """Put processing jobs on the queue (for rows already committed: the sweep)."""
    configure_queue()
    for call_id in call_ids:
        enqueue_named(PROCESS_TASK, str(call_id))


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


def swap_channel_roles(session: Session, call: Engagement, agent_name: str | None) -> None:
    """Agent <-> customer on every turn of a two-channel call (the speaker label follows
    the role). The pipeline uses it when its guess disagrees with the configured side;
    people use it (swap_roles) when the guess was wrong."""
    turns = session.scalars(
        select(Turn).where(Turn.engagement_id == call.id, Turn.channel.is_not(None))
    ).all()
    for turn in turns:
        if turn.role == TurnRole.AGENT:
            turn.role, turn.speaker = TurnRole.CUSTOMER, None
        elif turn.role == TurnRole.CUSTOMER:
            turn.role, turn.speaker = TurnRole.AGENT, agent_name
    session.flush()


def swap_roles(
    session: Session, principal: Principal, call_id: uuid.UUID, agent_name: str | None
) -> Engagement:
    """A person says the roles are the wrong way round: swap them on the turns, record
    it in call.meta["roles"], and queue the call to make its Minutes again from the
    corrected transcript (the transcript itself is kept). The caller enqueues."""
    call = get_call(session, principal, call_id)
    if call.status in ACTIVE_STATUSES and not _lease_expired(call):
        raise BadRequest("The call is being processed; wait for it to finish.", code=ErrorCode.BUSY)
    roles = dict((call.meta or {}).get("roles") or {})
    if roles.get("mono") or not session.scalar(
        select(func.count()).where(Turn.engagement_id == call.id, Turn.channel.is_not(None))
    ):
        raise BadRequest(
            "This recording is mono: there are no agent and customer channels to swap.",
            code=ErrorCode.MONO_RECORDING,
        )
    swap_channel_roles(session, call, agent_name)
    agent_channel = roles.get("agent_channel")
    roles.update(
        agent_channel=None if agent_channel is None else 1 - int(agent_channel),
        method="swapped",
        confidence=1.0,
        swapped_by=principal.user_id and str(principal.user_id),
    )
    call.meta = {**(call.meta or {}), "roles": roles}
    reset_for_processing(call, keep_transcript=True)
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


# -- progress ----------------------------------------------------------------------------


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


# -- PII: masked on every read, revealed one value at a time -----------------------------


def known_identity(call: Engagement) -> KnownIdentity:
    """What the engagement itself knows of the customer (the CRM record's emails are
    added where crm is reachable: the pipeline and ingest, which store the spans)."""
    return KnownIdentity(
        name=call.customer_name or None,
        phones=(call.customer_phone,) if call.customer_phone else (),
    )


def turn_spans(turn: Turn, known: KnownIdentity | None = None) -> list[Span]:
    return spans_for(turn.text, turn.pii_spans, known)


def masked_turn_text(turn: Turn, known: KnownIdentity | None = None) -> str:
    return mask_text(turn.text, turn_spans(turn, known))


def mask(text: str | None, known: KnownIdentity | None = None) -> str:
    """Free text derived from the turns (Minutes, action items): detected on read."""
    return mask_text(text, None, known) if text else (text or "")


def reveal_turn_value(
    session: Session, principal: Principal, turn_id: int, index: int, actor: str
) -> tuple[str, str]:
    """The kind and original text of the `index`-th masked value of a turn, for a
    principal with `pii.reveal` who may see the call; the reveal is written to the
    audit log in the same transaction (never the value)."""
    if not principal.can(Permission.PII_REVEAL):
        raise Forbidden("Your role may not reveal masked values.")
    turn = session.get(Turn, turn_id)
    if turn is None:
        raise NotFound("Turn not found.")
    call = get_call(session, principal, turn.engagement_id)  # 404 unless visible
    found = reveal(turn.text, turn_spans(turn, known_identity(call)), index)
    if found is None:
        raise NotFound("This turn has no masked value at that index.")
    kind, value = found
    record_reveal(
        session,
        company_id=call.company_id,
        actor=actor,
        kind=kind.value,
        engagement_id=call.id,
        turn_id=turn.id,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        oauth_app_id=principal.oauth_app_id,
    )
    return kind.value, value


def principal_label(session: Session, principal: Principal) -> str:
    """Who, as the audit log shows it: the user's email, or the key or app."""
    from callscribe.accounts.models import User

    if principal.user_id is not None:
        user = session.get(User, principal.user_id)
        return user.email if user is not None else f"user {principal.user_id}"
    if principal.oauth_app_id is not None:
        return f"OAuth app {principal.oauth_app_id}"
    if principal.api_key_id is not None:
        return f"API key {principal.api_key_id}"
    return "company"


def masked_minutes(minutes: Minutes, known: KnownIdentity | None = None) -> dict[str, Any]:
    """The Minutes' text fields masked: what every surface shows or sends."""
    return {
        "subject": mask(minutes.subject, known),
        "summary": mask(minutes.summary, known),
        "overview": mask(minutes.overview, known),
        "sections": [
            {
                **section,
                "heading": mask(section.get("heading", ""), known),
                "bullets": [mask(b, known) for b in section.get("bullets", [])],
            }
            for section in (minutes.sections or [])
        ],
        "notes": [mask(n, known) for n in (minutes.notes or [])],
    }


def masked_meta(value: Any, known: KnownIdentity | None = None) -> Any:
    """The engagement's metadata with PII in its strings masked (a customer email or a
    phone that came with the ingest request)."""
    if isinstance(value, str):
        return mask(value, known)
    if isinstance(value, dict):
        return {k: masked_meta(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_meta(v, known) for v in value]
    return value
