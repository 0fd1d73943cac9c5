"""JSON API of calls: ingestion (seed contract), queries, live events, audio, retry."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from callscribe.accounts.models import Agent
from callscribe.accounts.service import Principal
from callscribe.calls import service
from callscribe.calls.models import FINAL_STATUSES, Channel, Direction, Engagement
from callscribe.calls.schemas import (
    ActionItemOut,
    AgentOut,
    CallFields,
    CallFromUrl,
    CallOut,
    CallPage,
    CallSummaryOut,
    IngestResult,
    MinutesOut,
    TurnOut,
)
from callscribe.calls.tasks import enqueue_calls
from callscribe.calls.upload import MultipartUpload
from callscribe.db import get_sessionmaker, session_scope
from callscribe.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    from_validation,
)
from callscribe.kit.pagination import PageNumber, PageSize
from callscribe.settings import get_settings
from callscribe.storage import get_store
from callscribe.web.deps import get_session, require_principal, resolve_principal

router = APIRouter(prefix="/api", tags=["calls"])

QUEUED_MESSAGE = "Call uploaded successfully and queued for processing"
DUPLICATE_MESSAGE = "Call already received; returning the existing call"


def _fields(raw: dict[str, Any]) -> CallFields:
    known = {k: v for k, v in raw.items() if k in CallFields.model_fields}
    try:
        return CallFields.model_validate(known)
    except ValidationError as exc:
        raise from_validation(exc) from exc


def _ingest_answer(result: service.Ingested, started: float) -> JSONResponse:
    call = result.call
    body = IngestResult(
        call_id=call.id,
        message=DUPLICATE_MESSAGE if result.duplicate else QUEUED_MESSAGE,
        audio_url=service.audio_url(call) or "",
        duration_seconds=round(call.duration_s or 0),
        processing_time_ms=int((time.perf_counter() - started) * 1000),
        duplicate=result.duplicate,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if result.duplicate else 201)


def _store_and_enqueue(
    request: Request,
    staged: service.StagedAudio,
    fields: CallFields,
    api_key: str | None,
    source: str,
) -> service.Ingested:
    with session_scope() as session:
        try:
            principal = resolve_principal(request, session, api_key=api_key)
        except BaseException:
            staged.discard()
            raise
        result = service.ingest_recording(session, principal, staged, fields, source=source)
    if not result.duplicate:
        enqueue_calls([result.call.id], mark=False)  # enqueued_at set with the insert
    return result


@router.post(
    "/add-calls",
    status_code=201,
    response_model=IngestResult,
    summary="Upload a recording (multipart/form-data)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "api_key": {"type": "string"},
                            "call": {"type": "string", "format": "binary"},
                            "audio_url": {"type": "string"},
                            "customer_name": {"type": "string"},
                            "customer_phone": {"type": "string"},
                            "user_id": {"type": "string"},
                            "extension_id": {"type": "string"},
                            "order_id": {"type": "string"},
                            "external_id": {"type": "string"},
                            "direction": {"enum": ["inbound", "outbound", "internal"]},
                            "started_at": {"type": "string", "format": "date-time"},
                            "source": {
                                "enum": ["api", "upload"],
                                "description": "upload: sent from the web app's upload page",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def add_calls(request: Request) -> JSONResponse:
    """Store a recording (field `call`) or fetch one (`audio_url`), queue it, answer at
    once. Formats: MP3, WAV, M4A, WebM, MP4, OGG, FLAC, AAC (recognised by content)."""
    started = time.perf_counter()
    settings = get_settings()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 1024 * 1024:
        raise PayloadTooLarge(
            f"The recording is larger than the {settings.MAX_UPLOAD_MB} MB limit."
        )
    upload = MultipartUpload(request.headers.get("content-type", ""), "call")
    await upload.read(request.stream())
    form = upload.fields
    audio_url = (form.get("audio_url") or "").strip()
    if upload.staged is not None and audio_url:
        upload.discard()
        raise BadRequest("Send either a 'call' file or an 'audio_url', not both.")
    if upload.staged is None and not audio_url:
        raise BadRequest("Send the recording in the 'call' field, or an 'audio_url'.")
    try:
        fields = _fields(form)
    except ValidationFailed:
        upload.discard()
        raise
    if upload.staged is not None:
        # the web app's upload page says so; everything else is the API
        source = "upload" if form.get("source") == "upload" else "api"
        result = await run_in_threadpool(
            _store_and_enqueue, request, upload.staged, fields, form.get("api_key"), source
        )
    else:
        result = await run_in_threadpool(
            _fetch_and_store, request, audio_url, fields, form.get("api_key")
        )
    return _ingest_answer(result, started)


def _fetch_and_store(
    request: Request, url: str, fields: CallFields, api_key: str | None
) -> service.Ingested:
    # authenticate before fetching anything on the caller's behalf
    with session_scope() as session:
        resolve_principal(request, session, api_key=api_key)
    staged = service.StagedAudio()
    try:
        service.download_to_stage(url, staged)
    except BaseException:
        staged.discard()
        raise
    return _store_and_enqueue(request, staged, fields, api_key, "api")


@router.post(
    "/calls/from-url", status_code=201, response_model=IngestResult, summary="Audio URL API"
)
def add_call_from_url(payload: CallFromUrl, request: Request) -> JSONResponse:
    """The server downloads the recording (SSRF-guarded, size-limited, time-limited)."""
    started = time.perf_counter()
    fields = CallFields.model_validate(payload.model_dump(exclude={"api_key", "audio_url"}))
    result = _fetch_and_store(request, payload.audio_url, fields, payload.api_key)
    return _ingest_answer(result, started)


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
    return CallSummaryOut.model_validate(call).model_copy(update=_extras(session, call))


def call_out(session: Session, call: Engagement) -> CallOut:
    minutes = service.get_minutes(session, call.id)
    return CallOut.model_validate(call).model_copy(
        update={
            **_extras(session, call),
            "turns": [TurnOut.model_validate(t) for t in service.list_turns(session, call.id)],
            "minutes": MinutesOut.model_validate(minutes) if minutes else None,
            "action_items": [
                ActionItemOut.model_validate(i)
                for i in service.list_call_action_items(session, call.id)
            ],
        }
    )


@router.get("/calls", response_model=CallPage)
def list_calls(
    status: str | None = Query(None, description="comma-separated statuses"),
    agent_id: uuid.UUID | None = None,
    direction: str | None = Query(None, pattern=f"^({'|'.join(Direction)})$"),
    channel: str | None = Query(None, pattern=f"^({'|'.join(Channel)})$"),
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    customer: str | None = Query(None, max_length=200),
    sort: str = Query("-created_at", pattern="^-?(created_at|started_at|duration|status)$"),
    page: PageNumber = 1,
    page_size: PageSize = 25,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
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
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> CallOut:
    return call_out(session, service.get_call(session, principal, call_id))


@router.post("/calls/{call_id}/retry", response_model=CallSummaryOut)
def retry_call(
    call_id: str,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> CallSummaryOut:
    call = service.get_call(session, principal, call_id)
    service.retry_call(session, principal, call.id)
    session.commit()
    enqueue_calls([call.id])
    return summary_out(session, call)


@router.get(
    "/calls/{call_id}/audio",
    response_class=FileResponse,
    responses={200: {"content": {"audio/*": {}}}},
)
def get_audio(
    call_id: str,
    request: Request,
    token: str | None = None,
    session: Session = Depends(get_session),
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
    with get_store().local_path(call.audio_key) as path:
        return FileResponse(path, media_type=media, filename=f"{call.id}.{call.audio_format}")


@router.get("/calls/{call_id}/events", summary="Live status and transcript (server-sent events)")
async def call_events(
    call_id: str, request: Request, principal: Principal = Depends(require_principal)
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
                turns = [TurnOut.model_validate(t).model_dump() for t in rows]
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
