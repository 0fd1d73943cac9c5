"""The ZIP ingest API: ingestion sources and ingest keys (a company API key or a signed-in
admin), the upload URL (an ingest key), the PUT of the ZIP (the signature is the
permission) and the batch's status. Thin: parse, call the service, commit, answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from callscribe.auth import ratelimit
from callscribe.auth.deps import DbSession, bearer_token, check, require_principal
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.auth.sessions import client_ip
from callscribe.db import session_scope
from callscribe.errors import CallscribeError, Unauthorized
from callscribe.ingest.zipbatch import access, service
from callscribe.ingest.zipbatch.access import INGEST_KEY_PREFIX
from callscribe.ingest.zipbatch.models import IngestKey
from callscribe.ingest.zipbatch.safety import ZipRefused
from callscribe.ingest.zipbatch.schemas import (
    BatchOut,
    KeyIn,
    KeyOut,
    SourceIn,
    SourceOut,
    UploadUrlIn,
    UploadUrlOut,
)

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest batches"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request"},
    401: {"description": "Missing or invalid credentials"},
    403: {"description": "Not allowed, or an expired / tampered upload URL"},
    404: {"description": "Not found"},
    409: {"description": "Already uploaded"},
    413: {"description": "Over the batch size limit"},
    422: {"description": "Invalid fields, or a ZIP refused by the safety checks"},
    429: {"description": "Past the account's batches or volume per window (Retry-After)"},
}


def _admin(request: Request) -> Principal:
    principal = require_principal(request)
    check(principal, Permission.API_KEYS_MANAGE)
    return principal


def _ingest_key(request: Request, session: Session) -> IngestKey:
    """The ingest key of the Authorization header; a bad one counts against the caller's
    address (429 past the budget), as a bad API key does."""
    try:
        return access.authenticate_key(session, bearer_token(request))
    except Unauthorized:
        limits = ratelimit.credential_limits(client_ip(request))
        ratelimit.record_failure(limits)
        ratelimit.raise_if_limited(limits, "Too many requests with a bad ingest key.", past=True)
        raise


@router.post(
    "/sources",
    status_code=201,
    response_model=SourceOut,
    responses=ERRORS,
    summary="Create an ingestion source (its Source ID goes into every item's PID)",
)
def create_source(
    request: Request,
    session: DbSession,
    body: SourceIn = Body(openapi_examples={"pbx": {"value": {"name": "Legacy PBX export"}}}),
) -> JSONResponse:
    principal = _admin(request)
    source = access.create_source(session, principal.company_id, body.name, principal.user_id)
    session.commit()
    out = SourceOut(ingestion_source_id=str(source.id), name=source.name)
    return JSONResponse(out.model_dump(by_alias=True), status_code=201)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyOut,
    responses=ERRORS,
    summary="Create an ingest API key (the secret is shown once)",
)
def create_key(
    request: Request,
    session: DbSession,
    body: KeyIn | None = Body(None, openapi_examples={"named": {"value": {"name": "Nightly job"}}}),
) -> JSONResponse:
    principal = _admin(request)
    _row, plain = access.create_key(
        session, principal.company_id, body.name if body else None, principal.user_id
    )
    session.commit()
    return JSONResponse(KeyOut(secret=plain).model_dump(), status_code=201)


@router.post(
    "/upload-url",
    response_model=UploadUrlOut,
    responses=ERRORS,
    summary="Step 1: a signed, time-limited URL to PUT one batch (a ZIP) to",
)
def create_upload_url(
    request: Request,
    session: DbSession,
    body: UploadUrlIn = Body(
        openapi_examples={
            "source": {"value": {"ingestionSourceId": "0b7f2c1e-4a8d-4e2f-9c51-6a3d2b1f0e9a"}}
        }
    ),
) -> JSONResponse:
    """`Authorization: Bearer <ingest secret>`."""
    key = _ingest_key(request, session)
    batch = service.create_batch(session, key, body.ingestion_source_id)
    session.commit()
    out = UploadUrlOut(
        upload_url=service.upload_url_for(batch),
        batch_id=str(batch.id),
        expires_at=batch.expires_at,
    )
    return JSONResponse(out.model_dump(mode="json", by_alias=True))


@router.put(
    "/uploads/{batch_id}",
    status_code=202,
    responses=ERRORS,
    summary="Step 2: PUT the ZIP to the uploadUrl; the batch is queued",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/zip": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "<the ZIP: agents.jsonl, engagements.jsonl, turns-1.jsonl.gz ...>",
                }
            },
        }
    },
)
async def put_batch(
    batch_id: str,
    request: Request,
    token: str | None = Query(None, description="The signature that came in uploadUrl"),
) -> Response:
    """The signature in the URL is the permission. The size limits are enforced while
    the bytes stream in; the ZIP checks run before anything of it is stored."""
    bid = service.check_upload_token(batch_id, token)
    declared_raw = request.headers.get("content-length")
    declared = int(declared_raw) if declared_raw and declared_raw.isdigit() else None

    def prepare() -> service.StagedZip:
        with session_scope() as session:
            batch = service.batch_for_upload(session, bid)
            return service.stage_for(session, batch, declared)

    staged = await run_in_threadpool(prepare)
    try:
        async for chunk in request.stream():
            if chunk:
                staged.write(chunk)
    except ZipRefused as refused:
        staged.discard()
        await run_in_threadpool(_refuse, bid, refused)
        raise
    except BaseException:
        staged.discard()
        raise

    def store() -> dict[str, Any]:
        refused: CallscribeError | None = None
        with session_scope() as session:
            try:
                batch = service.receive_zip(session, bid, staged)
                return {"batchId": str(batch.id), "status": str(batch.status), "size": batch.size}
            except CallscribeError as exc:
                refused = exc  # the failed batch is committed with its reason
        raise refused

    body = await run_in_threadpool(store)
    return JSONResponse(body, status_code=202)


def _refuse(batch_id: Any, refused: ZipRefused) -> None:
    with session_scope() as session:
        service.refuse_upload(session, batch_id, refused)


@router.get(
    "/batches/{batch_id}",
    response_model=BatchOut,
    responses=ERRORS,
    summary="Step 3: a batch's status, counts per file and data set, first messages",
)
def get_batch(batch_id: str, request: Request, session: DbSession) -> JSONResponse:
    """An ingest key (`Bearer csi_...`), a company API key or a signed-in admin."""
    token = bearer_token(request)
    if token and token.startswith(INGEST_KEY_PREFIX):
        company_id = _ingest_key(request, session).company_id
    else:
        company_id = _admin(request).company_id
    batch = service.get_batch(session, company_id, batch_id)
    return JSONResponse(service.batch_report(session, batch))
