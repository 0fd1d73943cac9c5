"""JSON API of calls: queries, live events, audio, retry (ingestion is ingest.api)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from callscribe.accounts.models import Agent
from callscribe.auth.deps import CurrentPrincipal, DbSession, require, resolve_principal
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls import service
from callscribe.calls.models import (
    FINAL_STATUSES,
    ActionItem,
    Channel,
    Direction,
    Engagement,
    Minutes,
    Turn,
)
from callscribe.calls.schemas import (
    ActionItemOut,
    AgentOut,
    CallOut,
    CallPage,
    CallSummaryOut,
    MinutesOut,
    RevealIn,
    RevealLogOut,
    RevealOut,
    SectionOut,
    StatsOut,
    TurnOut,
)
from callscribe.calls.tasks import enqueue_calls
from callscribe.db import get_sessionmaker, session_scope
from callscribe.errors import (
    NotFound,
)
from callscribe.kit.pagination import PageNumber, PageSize
from callscribe.kit.schemas import InstantIn, Page
from callscribe.privacy import audit
from callscribe.privacy.detectors import KnownIdentity
from callscribe.settings import get_settings
from callscribe.storage import Capability, get_store

router = APIRouter(prefix="/api", tags=["calls"])

# -- reading -----------------------------------------------------------------------------


def agent_out(session: Session, agent_id: uuid.UUID | None) -> AgentOut | None:
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return AgentOut.model_validate(agent) if agent is not None else None


def _extras(session: Session, call: Engagement) -> dict[str, Any]:
    """What a call's answer shows that is not a column of the engagement."""
    minutes = service.get_minutes(session, call.id)
    return {
        "agent": agent_out(session, call.agent_id),
        "subject": minutes.subject if minutes else None,
        "sentiment": minutes.sentiment if minutes else None,
        "outcome": minutes.outcome if minutes else None,
        "audio_url": service.audio_url(call),
    }


def summary_out(session: Session, call: Engagement) -> CallSummaryOut:
    extras = _extras(session, call)
    extras["subject"] = service.mask(extras["subject"], service.known_identity(call))
    return CallSummaryOut.model_validate(call).model_copy(update=extras)


def turn_out(turn: Turn, known: KnownIdentity | None) -> TurnOut:
    out = TurnOut.model_validate(turn)
    return out.model_copy(update={"text": service.masked_turn_text(turn, known)})


def minutes_out(minutes: Minutes, known: KnownIdentity | None) -> MinutesOut:
    masked = service.masked_minutes(minutes, known)
    masked["sections"] = [SectionOut.model_validate(s) for s in masked["sections"]]
    return MinutesOut.model_validate(minutes).model_copy(update=masked)


def action_item_out(item: ActionItem, known: KnownIdentity | None) -> ActionItemOut:
    out = ActionItemOut.model_validate(item)
    return out.model_copy(update={"title": service.mask(item.title, known)})


def stats_out(call: Engagement) -> StatsOut | None:
    stats = (call.meta or {}).get("stats")
    return StatsOut.model_validate(stats) if isinstance(stats, dict) else None


def call_out(session: Session, call: Engagement) -> CallOut:
    """The call as the API shows it: PII in turns, Minutes and action items masked."""
    minutes = service.get_minutes(session, call.id)
    known = service.known_identity(call)
    return CallOut.model_validate(call).model_copy(
        update={
            **_extras(session, call),
            "subject": service.mask(minutes.subject, known) if minutes else None,
            "metadata": service.masked_meta(call.meta or {}, known),
            "turns": [turn_out(t, known) for t in service.list_turns(session, call.id)],
            "minutes": minutes_out(minutes, known) if minutes else None,
            "stats": stats_out(call),
            "action_items": [
                action_item_out(i, known) for i in service.list_call_action_items(session, call.id)
            ],
        }
    )


@router.get("/calls", response_model=CallPage)
def list_calls(
    principal: CurrentPrincipal,
    session: DbSession,
    status: str | None = Query(None, description="comma-separated statuses"),
    agent_id: uuid.UUID | None = None,
    direction: str | None = Query(None, pattern=f"^({'|'.join(Direction)})$"),
    channel: str | None = Query(None, pattern=f"^({'|'.join(Channel)})$"),
    date_from: InstantIn | None = None,
    date_to: InstantIn | None = None,
    customer: str | None = Query(None, max_length=200),
    sort: str = Query("-created_at", pattern="^-?(created_at|started_at|duration|status)$"),
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> CallPage:
    filters = service.CallFilters(
        status=status,
        agent_id=agent_id,
        direction=direction,
        channel=channel,
        date_from=date_from,
        date_to=date_to,
        customer=customer,
        sort=sort,
    )
    found = service.list_calls(session, principal, filters, page, page_size)
    return CallPage(
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        calls=[summary_out(session, c) for c in found.items],
    )


@router.get("/calls/{call_id}", response_model=CallOut)
def get_call(
    call_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> CallOut:
    return call_out(session, service.get_call(session, principal, call_id))


CallsManager = Annotated[Principal, Depends(require(Permission.CALLS_MANAGE))]
PiiRevealer = Annotated[Principal, Depends(require(Permission.PII_REVEAL))]
PiiAuditor = Annotated[Principal, Depends(require(Permission.PII_AUDIT))]


@router.post("/turns/{turn_id}/reveal", response_model=RevealOut)
def reveal_turn_value(
    turn_id: Annotated[int, FastPath(ge=1, le=2_147_483_647)],
    body: RevealIn,
    principal: PiiRevealer,
    session: DbSession,
) -> RevealOut:
    """The original text of one masked value of a turn (`index`: its place among the
    turn's masked values, 0-based). Needs `pii.reveal`; every reveal is written to the
    audit log (`GET /api/privacy/reveals`) with who, what kind and where, not the value."""
    actor = service.principal_label(session, principal)
    kind, text = service.reveal_turn_value(session, principal, turn_id, body.index, actor)
    session.commit()
    return RevealOut(kind=kind, text=text)


@router.get("/privacy/reveals", response_model=Page[RevealLogOut])
def list_reveals(
    principal: PiiAuditor, session: DbSession, page: PageNumber = 1, page_size: PageSize = 50
) -> Page[RevealLogOut]:
    """The reveal audit log of the company, newest first (needs `pii.audit`)."""
    found = audit.list_reveals(session, principal.company_id, page, page_size)
    return Page[RevealLogOut](
        items=[RevealLogOut.model_validate(r) for r in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.post("/calls/{call_id}/retry", response_model=CallSummaryOut)
def retry_call(
    call_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> CallSummaryOut:
    """Process a failed (or completed) call again from its recording: the transcript,
    the role guess, the Minutes and the action items are replaced."""
    call = service.get_call(session, principal, call_id)
    service.retry_call(session, principal, call.id)
    session.commit()
    enqueue_calls([call.id])
    return summary_out(session, call)


@router.post("/calls/{call_id}/reprocess", response_model=CallSummaryOut)
def reprocess_call(call_id: str, principal: CallsManager, session: DbSession) -> CallSummaryOut:
    """Transcribe and analyze a call again (completed or failed), replacing its turns,
    Minutes and action items. Refused (400 `busy`) while it is being processed."""
    call = service.get_call(session, principal, call_id)
    service.retry_call(session, principal, call.id)
    session.commit()
    enqueue_calls([call.id])
    return summary_out(session, call)


@router.post("/calls/{call_id}/swap-roles", response_model=CallSummaryOut)
def swap_roles(call_id: str, principal: CallsManager, session: DbSession) -> CallSummaryOut:
    """The agent and the customer were the wrong way round: swap them on every turn of a
    two-channel call and write its Minutes again (the transcript is kept). 400
    `mono_recording` for a mono call, 400 `busy` while it is being processed."""
    call = service.get_call(session, principal, call_id)
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    service.swap_roles(session, principal, call.id, agent.name if agent else None)
    session.commit()
    enqueue_calls([call.id])
    return summary_out(session, call)


@router.get(
    "/calls/{call_id}/audio",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/*": {}}},
        307: {"description": "A presigned URL of the object store holding the recording"},
    },
)
def get_audio(
    call_id: str,
    request: Request,
    session: DbSession,
    token: str | None = None,
) -> Response:
    """The stored recording. Authenticate with the API key, or the signed `token` that
    comes in `audio_url` (so a browser's audio player can stream it)."""
    try:
        call_uuid = uuid.UUID(call_id)
    except ValueError as exc:
        raise NotFound("Call not found.") from exc
    if token and service.verify_audio_token(call_uuid, token):
        call = session.get(Engagement, call_uuid)
        if call is None:
            raise NotFound("Call not found.")
    else:
        principal = resolve_principal(request, session)
        call = service.get_call(session, principal, call_uuid)
    if not call.audio_key:
        raise NotFound("This engagement has no audio.")
    media = {
        "mp3": "audio/mpeg",
        "wav": "audio/wav",
        "m4a": "audio/mp4",
        "mp4": "video/mp4",
        "webm": "audio/webm",
        "ogg": "audio/ogg",
        "flac": "audio/flac",
        "aac": "audio/aac",
    }.get(call.audio_format or "", "application/octet-stream")
    store = get_store()
    filename = f"{call.id}.{call.audio_format}"
    if Capability.PRESIGNED_GET in store.capabilities:
        # the bytes come straight from the store (ranges included), never through us
        expires = int(time.time()) + get_settings().AUDIO_URL_TTL_S
        url = store.presign_get(call.audio_key, expires, content_type=media, filename=filename)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    with store.local_path(call.audio_key) as path:
        return FileResponse(path, media_type=media, filename=filename)


@router.get("/calls/{call_id}/events", summary="Live status and transcript (server-sent events)")
async def call_events(
    call_id: str, request: Request, principal: CurrentPrincipal
) -> EventSourceResponse:
    """Events: `status` ({status, progress, status_reason, error}) when it changes and
    `segment` (a turn) as each is produced; the stream ends after a final status."""

    def load_call() -> uuid.UUID:
        with session_scope() as session:
            return service.get_call(session, principal, call_id).id

    call_uuid = await run_in_threadpool(load_call)

    def snapshot(after_seq: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        session = get_sessionmaker()()
        try:
            snap = service.progress_snapshot(session, call_uuid)
            turns = []
            if snap and snap["max_seq"] > after_seq:
                from sqlalchemy import select

                from callscribe.calls.models import Turn

                rows = session.scalars(
                    select(Turn)
                    .where(Turn.engagement_id == call_uuid, Turn.seq > after_seq)
                    .order_by(Turn.seq)
                )
                call = session.get(Engagement, call_uuid)
                known = service.known_identity(call) if call is not None else None
                turns = [turn_out(t, known).model_dump() for t in rows]
            return snap, turns
        finally:
            session.close()

    async def stream():  # type: ignore[no-untyped-def]
        last_status: tuple | None = None
        last_seq = -1
        while True:
            if await request.is_disconnected():
                return
            snap, turns = await run_in_threadpool(snapshot, last_seq)
            if snap is None:
                return
            for turn in turns:
                last_seq = max(last_seq, turn["seq"])
                yield {"event": "segment", "data": json.dumps(turn)}
            state = (snap["status"], round(snap["progress"], 3), snap["status_reason"])
            if state != last_status:
                last_status = state
                payload = {k: snap[k] for k in ("status", "progress", "status_reason", "error")}
                yield {"event": "status", "data": json.dumps(payload)}
            if snap["status"] in FINAL_STATUSES and snap["max_seq"] <= last_seq:
                return
            await asyncio.sleep(0.3)

    return EventSourceResponse(stream(), ping=15)
