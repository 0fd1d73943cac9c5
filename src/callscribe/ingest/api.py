"""Ingest APIs: add-calls and the audio URL API (the seed contract), OAuth apps and
tokens, the three-step recording upload, tickets and sheets; tus resumable uploads come
from `ingest.tus`. Thin: parse, call the service,
commit, enqueue, answer."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import from_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.auth import oauth, ratelimit
from callscribe.auth.deps import CurrentPrincipal, DbSession, resolve_principal
from callscribe.auth.principal import check_attribution
from callscribe.auth.sessions import client_ip
from callscribe.calls import service as calls
from callscribe.crm.models import Customer
from callscribe.db import session_scope
from callscribe.errors import (
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    from_validation,
)
from callscribe.ingest import service
from callscribe.ingest.models import SheetRow
from callscribe.ingest.schemas import (
    AddCallOut,
    CallFields,
    CallFromUrl,
    LinkOut,
    OAuthAppCreated,
    OAuthAppIn,
    OAuthAppOut,
    OAuthTokenOut,
    RecordingV2In,
    RecordingV2Out,
    SheetIn,
    SheetOut,
    SheetRowError,
    SheetRowsAccepted,
    SignedUrlIn,
    SignedUrlOut,
    TicketIn,
    TicketOut,
    UploadAccepted,
    dump,
)
from callscribe.ingest.tus import router as tus_router
from callscribe.ingest.upload import MultipartUpload
from callscribe.settings import get_settings
from callscribe.storage.staging import StagedAudio

router = APIRouter(prefix="/api")
router.include_router(tus_router)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request"},
    401: {"description": "Missing or invalid credentials"},
    404: {"description": "Not found"},
    409: {"description": "Conflict with the current state"},
    422: {"description": "Invalid field values"},
}


# -- add-calls and the audio URL API ------------------------------------------------

QUEUED_MESSAGE = "Call uploaded successfully and queued for processing"
DUPLICATE_MESSAGE = "Call already received; returning the existing call"


def _fields(raw: dict[str, Any]) -> CallFields:
    known = {k: v for k, v in raw.items() if k in CallFields.model_fields}
    try:
        return CallFields.model_validate(known)
    except ValidationError as exc:
        raise from_validation(exc) from exc


def _ingest_answer(result: service.IngestResult, started: float) -> JSONResponse:
    call = result.engagement
    body = AddCallOut(
        call_id=call.id,
        message=DUPLICATE_MESSAGE if result.duplicate else QUEUED_MESSAGE,
        audio_url=calls.audio_url(call) or "",
        duration_seconds=round(call.duration_s or 0),
        processing_time_ms=int((time.perf_counter() - started) * 1000),
        duplicate=result.duplicate,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if result.duplicate else 201)


def _store_and_enqueue(
    request: Request,
    staged: StagedAudio,
    fields: CallFields,
    api_key: str | None,
    source: str,
) -> service.IngestResult:
    # processing is enqueued when this session commits (create_engagement)
    with session_scope() as session:
        try:
            principal = resolve_principal(request, session, api_key=api_key)
        except BaseException:
            staged.discard()
            raise
        return service.add_recording(session, principal, staged, fields, source=source)


@router.post(
    "/add-calls",
    tags=["calls"],
    status_code=201,
    response_model=AddCallOut,
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
                            "conversation_id": {
                                "type": "string",
                                "description": "Your conversation id: the same one groups "
                                "engagements into one conversation",
                            },
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
    await upload.read(
        request.stream(), before_file=lambda fields: _authenticate_early(request, fields)
    )
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


async def _authenticate_early(request: Request, fields: dict[str, str]) -> None:
    """The credentials are checked when the file part begins, not after 500 MB: the
    header, or an `api_key` field sent before the file (the documented curl does)."""

    def check() -> None:
        with session_scope() as session:
            resolve_principal(request, session, api_key=fields.get("api_key"))

    await run_in_threadpool(check)


def _fetch_and_store(
    request: Request, url: str, fields: CallFields, api_key: str | None
) -> service.IngestResult:
    # authenticate before fetching anything on the caller's behalf
    with session_scope() as session:
        resolve_principal(request, session, api_key=api_key)
    staged = StagedAudio()
    try:
        service.download_to_stage(url, staged)
    except BaseException:
        staged.discard()
        raise
    return _store_and_enqueue(request, staged, fields, api_key, "api")


@router.post(
    "/calls/from-url",
    tags=["calls"],
    status_code=201,
    response_model=AddCallOut,
    summary="Audio URL API",
)
def add_call_from_url(payload: CallFromUrl, request: Request) -> JSONResponse:
    """The server downloads the recording (SSRF-guarded, size-limited, time-limited)."""
    started = time.perf_counter()
    fields = CallFields.model_validate(payload.model_dump(exclude={"api_key", "audio_url"}))
    result = _fetch_and_store(request, payload.audio_url, fields, payload.api_key)
    return _ingest_answer(result, started)


def _app_out(app: Any) -> OAuthAppOut:
    return OAuthAppOut(
        id=app.id,
        name=app.name,
        client_id=app.client_id,
        created_at=app.created_at,
        revoked_at=app.revoked_at,
    )


@router.post(
    "/oauth/apps",
    status_code=201,
    response_model=OAuthAppCreated,
    tags=["oauth"],
    summary="Create an OAuth app (client id and secret)",
    responses={403: {"description": "Only a company API key can create apps"}, **ERRORS},
)
def create_oauth_app(
    body: OAuthAppIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    """The `clientSecret` is shown once. Exchange id and secret for access tokens at
    `POST /api/oauth/token` (client-credentials grant)."""
    app, secret = oauth.create_oauth_app(session, principal, body.name)
    session.commit()
    out = OAuthAppCreated(**_app_out(app).model_dump(), client_secret=secret)
    return JSONResponse(dump(out), status_code=201)


@router.get("/oauth/apps", response_model=list[OAuthAppOut], tags=["oauth"], responses=ERRORS)
def list_oauth_apps(principal: CurrentPrincipal, session: DbSession) -> JSONResponse:
    return JSONResponse(
        [dump(_app_out(a)) for a in oauth.list_oauth_apps(session, principal.company_id)]
    )


@router.delete(
    "/oauth/apps/{app_id}",
    response_model=OAuthAppOut,
    tags=["oauth"],
    summary="Revoke an OAuth app and every token it was given",
    responses=ERRORS,
)
def revoke_oauth_app(
    app_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    app = oauth.revoke_oauth_app(session, principal, app_id)
    session.commit()
    return JSONResponse(dump(_app_out(app)))


TOKEN_FORM = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string"},
    },
    "example": {
        "grant_type": "client_credentials",
        "client_id": "csapp_Zk3...",
        "client_secret": "cssec_q9X...",
    },
}


@router.post(
    "/oauth/token",
    response_model=OAuthTokenOut,
    tags=["oauth"],
    summary="Client-credentials grant: an access token valid for 16 hours",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": TOKEN_FORM},
                "application/json": {"schema": TOKEN_FORM},
            },
        }
    },
    responses=ERRORS,
)
async def oauth_token(request: Request) -> JSONResponse:
    """Send `client_id` and `client_secret` in the body or as HTTP Basic credentials.
    Use the token as `Authorization: Bearer <access_token>` on any endpoint."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > 16 * 1024:
        raise PayloadTooLarge("The token request is too large.")
    form: dict[str, Any]
    if ctype == "application/json":
        try:
            form = from_json(raw or b"{}")
        except ValueError as exc:
            raise BadRequest("The body is not valid JSON.") from exc
        if not isinstance(form, dict):
            raise BadRequest("Send a JSON object.")
    elif ctype == "application/x-www-form-urlencoded" or not raw:
        from urllib.parse import parse_qsl

        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    else:
        raise UnsupportedMediaType("Send application/x-www-form-urlencoded or JSON.")
    if form.get("grant_type") != "client_credentials":
        raise BadRequest(
            "Only grant_type=client_credentials is supported.", code="unsupported_grant_type"
        )
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            client_id, _, client_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("The Basic credentials are not valid base64.") from exc
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id:
        raise BadRequest("Send client_id and client_secret.", code="invalid_request")

    limits = ratelimit.oauth_client_limits(client_ip(request), client_id)

    def issue() -> str:
        # failed client checks per address and client id (issue 17 #12): 429 past the limit
        ratelimit.raise_if_limited(limits, "Too many failed token requests.")
        try:
            with session_scope() as session:
                _token, plain = oauth.issue_oauth_token(session, client_id, client_secret)
                return plain
        except Unauthorized:
            ratelimit.record_failure(limits)
            raise

    plain = await run_in_threadpool(issue)
    body = OAuthTokenOut(access_token=plain, expires_in=oauth.OAUTH_TOKEN_TTL_S)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


# -- three-step recording upload ---------------------------------------------------------


@router.post(
    "/v1/recordings/signed-urls",
    status_code=201,
    response_model=SignedUrlOut,
    tags=["recordings"],
    summary="Step 1: get a signed upload URL and the download URL for step 3",
    responses=ERRORS,
)
def create_signed_url(
    principal: CurrentPrincipal,
    session: DbSession,
    body: SignedUrlIn | None = Body(
        None,
        openapi_examples={
            "sized": {
                "summary": "With the size you will PUT",
                "value": {"filename": "call-1234.mp3", "contentLength": 482113},
            },
            "empty": {"summary": "No body: defaults", "value": {}},
        },
    ),
) -> JSONResponse:
    """`uploadUrl` takes one `PUT` of the audio bytes until `expiresAt`; `downloadUrl`
    identifies the upload in `POST /api/v2/recordings`."""
    body = body or SignedUrlIn.model_validate({})
    upload = service.create_signed_upload(
        session,
        principal,
        filename=body.filename,
        content_length=body.content_length,
        expires_in=body.expires_in,
    )
    session.commit()
    out = SignedUrlOut(
        upload_url=service.upload_url_for(upload),
        download_url=service.download_url_for(upload),
        expires_at=upload.expires_at,
    )
    return JSONResponse(dump(out), status_code=201)


@router.put(
    "/v1/recordings/uploads/{upload_id}",
    response_model=UploadAccepted,
    tags=["recordings"],
    summary="Step 2: PUT the audio bytes to the signed uploadUrl",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "<the audio bytes: MP3, WAV, M4A, WebM, MP4, OGG, FLAC or AAC>",
                }
            },
        }
    },
    responses={
        403: {"description": "Expired or tampered URL"},
        413: {"description": "Over the size limit"},
        **ERRORS,
    },
)
async def put_upload(
    upload_id: str,
    request: Request,
    token: str | None = Query(None, description="The signature that came in uploadUrl"),
) -> JSONResponse:
    """No other credentials: the signature in the URL is the permission. The size limit
    is enforced while the bytes stream in."""
    uid = service.check_upload_token(upload_id, token)
    settings = get_settings()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Recordings are limited to {settings.MAX_UPLOAD_MB} MB.")

    def check() -> None:
        with session_scope() as session:
            service.get_upload_for_put(session, uid)

    await run_in_threadpool(check)
    staged = StagedAudio()
    try:
        async for chunk in request.stream():
            if chunk:
                staged.write(chunk)
    except BaseException:
        staged.discard()
        raise

    def store() -> int:
        with session_scope() as session:
            return service.store_upload(session, uid, staged).size or 0

    size = await run_in_threadpool(store)
    return JSONResponse(UploadAccepted(size=size).model_dump())


def _link_out(session: Session, link: Any, obj: Any = None) -> LinkOut:
    customer = session.get(Customer, link.customer_id) if link.customer_id else None
    return LinkOut(
        id=link.id,
        kind=link.kind,
        reason=link.reason,
        score=link.score,
        customer_id=link.customer_id,
        customer_name=customer.name if customer else None,
        connection_id=obj.connection_id if obj else None,
        object_type=obj.object_type if obj else None,
        object_id=obj.object_id if obj else None,
    )


@router.post(
    "/v2/recordings",
    status_code=201,
    response_model=RecordingV2Out,
    tags=["recordings"],
    summary="Step 3: turn the uploaded recording into a call",
    responses={
        200: {"description": "The same upload again: the existing call"},
        **ERRORS,
    },
)
def create_recording(
    body: RecordingV2In,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    """The rep is `userId`, else `userEmail`, else `userPhone` (422 when none resolves;
    nothing is created). `crmObjects` of `integrationConnectionId` are definite links
    (unknown ones are reported); without them, `customerPhone` / `customerName` give
    suggested links listed on the call for a person to confirm."""
    from callscribe.crm import service as crm
    from callscribe.crm.models import CrmObjectLink

    result = service.create_recording(session, principal, body)
    call = result.engagement
    links = crm.engagement_links(session, call.id)
    objects = {
        link.crm_object_id: session.get(CrmObjectLink, link.crm_object_id)
        for link in links
        if link.crm_object_id
    }
    out = RecordingV2Out(
        call_id=call.id,
        status=call.status,
        agent_id=call.agent_id,
        duplicate=result.duplicate,
        crm_links=[
            _link_out(session, link, objects.get(link.crm_object_id))
            for link in links
            if link.kind in ("definite", "confirmed") and link.crm_object_id
        ],
        unknown_crm_objects=[
            {"objectType": t, "objectId": i}  # type: ignore[misc]
            for t, i in result.unknown
        ],
        suggested_links=[_link_out(session, link) for link in links if link.kind == "suggested"],
    )
    session.commit()  # processing is enqueued, and the upload's blob deleted, after it
    return JSONResponse(dump(out), status_code=200 if result.duplicate else 201)


# -- tickets -----------------------------------------------------------------------------


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketOut,
    tags=["tickets"],
    summary="Add a chat, email or ticket (analysed into Minutes like a call)",
    responses={200: {"description": "The same external_id again: the existing one"}, **ERRORS},
)
def create_ticket(
    body: TicketIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    """Messages become turns on the ticket's channel; the pipeline analyses them (no speech
    step) and the automations deliver the result."""
    result = service.create_ticket(session, principal, body)
    call = result.call
    check_attribution(principal, call.agent_id)  # refused: the request rolls back
    out = TicketOut(
        call_id=call.id,
        channel=call.channel,
        status=call.status,
        turns=result.turns,
        customer_id=call.customer_id,
        agent_id=call.agent_id,
        duplicate=result.duplicate,
    )
    session.commit()  # processing is enqueued after it
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if result.duplicate else 201)


# -- sheets ------------------------------------------------------------------------------

MAX_ROWS_BODY = 32 * 1024 * 1024


def _sheet_out(session: Session, job: Any) -> SheetOut:
    counts = service.sheet_counts(session, job)
    done, failed = counts.get("done", 0), counts.get("error", 0)
    errors = session.execute(
        select(SheetRow.row_no, SheetRow.error)
        .where(SheetRow.job_id == job.id, SheetRow.status == "error")
        .order_by(SheetRow.row_no)
        .limit(1000)
    ).all()
    call_ids = session.scalars(
        select(SheetRow.engagement_id)
        .where(SheetRow.job_id == job.id, SheetRow.engagement_id.is_not(None))
        .order_by(SheetRow.row_no)
        .limit(10_000)
    ).all()
    total = job.total_rows
    return SheetOut(
        id=job.id,
        name=job.name,
        status=job.status,
        mapping=job.mapping or {},
        total_rows=total,
        processed_rows=done + failed,
        failed_rows=failed,
        progress=round((done + failed) / total, 4) if total else 0.0,
        created_at=job.created_at,
        finalized_at=job.finalized_at,
        completed_at=job.completed_at,
        call_ids=[c for c in call_ids if c],
        errors=[SheetRowError(row=r, error=e or "") for r, e in errors],
    )


@router.post(
    "/sheets",
    status_code=201,
    response_model=SheetOut,
    tags=["sheets"],
    responses=ERRORS,
    summary="Create a sheet job with its column mapping",
)
def create_sheet(
    body: SheetIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    """Then send rows (`POST /api/sheets/{id}/rows`) and finalize."""
    job = service.create_sheet(session, principal, body)
    session.commit()
    return JSONResponse(_sheet_out(session, job).model_dump(mode="json"), status_code=201)


@router.post(
    "/sheets/{sheet_id}/rows",
    response_model=SheetRowsAccepted,
    tags=["sheets"],
    summary="Add a batch of rows (JSON array or NDJSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": [
                        {"Recording": "https://files.example.com/c1.mp3", "Call ID": "c1"},
                        {"Transcript": "Customer: Hi\nAgent: Hello!", "Call ID": "c2"},
                    ],
                },
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": '{"Recording": "https://files.example.com/c1.mp3", "Call ID": '
                    '"c1"}\n'
                    '{"Transcript": "Customer: Hi\\nAgent: Hello!", "Call ID": "c2"}\n',
                },
            },
        }
    },
    responses=ERRORS,
)
async def add_sheet_rows(
    sheet_id: str, request: Request, principal: CurrentPrincipal
) -> JSONResponse:
    """Rows are objects keyed by your column names. Refused (409) after finalize."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_ROWS_BODY:
        raise PayloadTooLarge("Send rows in batches of at most 32 MB.")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > MAX_ROWS_BODY:
            raise PayloadTooLarge("Send rows in batches of at most 32 MB.")
    text = bytes(buf).decode("utf-8", "replace")
    rows: Any
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(from_json(line))
                except ValueError as exc:
                    raise BadRequest(f"NDJSON line {n} is not valid JSON.") from exc
    elif ctype == "application/json":
        try:
            rows = from_json(text)
        except ValueError as exc:
            raise BadRequest("The body is not valid JSON.") from exc
        if not isinstance(rows, list):
            raise ValidationFailed("Send a JSON array of row objects.")
    else:
        raise UnsupportedMediaType("Send application/json (an array) or application/x-ndjson.")

    def add() -> SheetRowsAccepted:
        with session_scope() as session:
            job = service.get_sheet(session, principal, sheet_id)
            accepted = service.add_sheet_rows(session, job, rows)
            return SheetRowsAccepted(accepted=accepted, total_rows=job.total_rows)

    return JSONResponse((await run_in_threadpool(add)).model_dump())


@router.post(
    "/sheets/{sheet_id}/finalize",
    status_code=202,
    response_model=SheetOut,
    tags=["sheets"],
    summary="Start processing: each row becomes a call (audio URL) or a ticket (text)",
    responses=ERRORS,
)
def finalize_sheet(
    sheet_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    from callscribe.ingest.tasks import enqueue_sheet

    job = service.get_sheet(session, principal, sheet_id)
    service.finalize_sheet(session, job)
    session.commit()
    enqueue_sheet(job.id)
    return JSONResponse(_sheet_out(session, job).model_dump(mode="json"), status_code=202)


@router.get(
    "/sheets/{sheet_id}",
    response_model=SheetOut,
    tags=["sheets"],
    responses=ERRORS,
    summary="Progress and per-row errors",
)
def get_sheet(
    sheet_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> JSONResponse:
    job = service.get_sheet(session, principal, sheet_id)
    return JSONResponse(_sheet_out(session, job).model_dump(mode="json"))
