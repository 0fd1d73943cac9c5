"""tus 1.0 resumable uploads (core + creation + termination) at /api/uploads/.

Bytes go straight to a staging file at the offset the server confirmed; a dropped
connection keeps what arrived, and the client resumes from `HEAD`'s Upload-Offset. The
last byte creates the call with the metadata of `Upload-Metadata` (base64 pairs:
filename, customer_name, customer_phone, external_id, user_id, extension_id, order_id,
direction, started_at)."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import or_, select, update
from starlette.requests import ClientDisconnect

from callscribe.auth.deps import CurrentPrincipal
from callscribe.auth.principal import Principal
from callscribe.db import session_scope, utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    Conflict,
    ErrorCode,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from callscribe.ingest import service
from callscribe.ingest.models import TusUpload
from callscribe.settings import get_settings

router = APIRouter(prefix="/uploads", tags=["resumable uploads (tus)"])

TUS_HEADERS = {"Tus-Resumable": service.TUS_VERSION}
# One PATCH at a time per upload, whichever web process it reaches: a PATCH holds a lease
# on the upload's row (renewed every LEASE_RENEW_S as it streams; one older than LEASE_S
# belongs to a process that died). A resumed client's PATCH, or HEAD, waits up to
# HEAD_WAIT_S for the dropped request to be wound up instead of racing it.
HEAD_WAIT_S = 10
LEASE_S = 60
LEASE_RENEW_S = 10
LEASE_POLL_S = 0.1


class PreconditionFailed(CallscribeError):
    code, status = "unsupported_tus_version", 412


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != service.TUS_VERSION:
        raise PreconditionFailed(f"Send Tus-Resumable: {service.TUS_VERSION}.")


# ASCII digits only (str.isdigit() takes '²' and int() then fails), and no more than
# fit a 64-bit offset (a 5,000-digit value overflowed the database column)
_HEADER_INT = re.compile(r"[0-9]{1,18}")


def _header_int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if _HEADER_INT.fullmatch(raw) else None


def _int_header(request: Request, name: str) -> int:
    value = _header_int(request.headers.get(name))
    if value is None:
        raise BadRequest(f"Send the {name} header as a non-negative integer (at most 18 digits).")
    return value


@router.options(
    "/",
    status_code=204,
    summary="tus capabilities",
    responses={204: {"description": "Tus-Version, Tus-Extension and Tus-Max-Size headers"}},
)
def tus_options() -> Response:
    return Response(
        status_code=204,
        headers={
            **TUS_HEADERS,
            "Tus-Version": service.TUS_VERSION,
            "Tus-Extension": service.TUS_EXTENSIONS,
            "Tus-Max-Size": str(get_settings().max_upload_bytes),
        },
    )


@router.post(
    "/",
    status_code=201,
    summary="Create an upload (tus creation)",
    openapi_extra={
        "parameters": [
            {
                "name": "Tus-Resumable",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": ["1.0.0"]},
            },
            {
                "name": "Upload-Length",
                "in": "header",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
                "example": 209715200,
            },
            {
                "name": "Upload-Metadata",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "example": "filename Y2FsbC53YXY=,customer_name QWNtZSBDb3Jw,external_id b3JkLTE=",
            },
        ]
    },
    responses={
        201: {"description": "Location: the upload's URL"},
        412: {"description": "Wrong Tus-Resumable"},
        413: {"description": "Upload-Length over Tus-Max-Size"},
    },
)
def tus_create(request: Request, principal: CurrentPrincipal) -> Response:
    _check_version(request)
    if request.headers.get("upload-defer-length"):
        raise BadRequest("Upload-Defer-Length is not supported; send Upload-Length.")
    length = _int_header(request, "upload-length")
    meta = service.parse_upload_metadata(request.headers.get("upload-metadata"))
    with session_scope() as session:
        upload = service.create_tus_upload(session, principal, length, meta)
        upload_id = upload.id
        expires = _http_date(service.tus_expires_at(upload))
    base = get_settings().PUBLIC_URL or str(request.base_url)  # the public URL behind a proxy
    location = f"{base.rstrip('/')}/api/uploads/{upload_id}"
    return Response(
        status_code=201,
        headers={**TUS_HEADERS, "Location": location, "Upload-Expires": expires},
    )


def _http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _expires_from_now() -> str:
    """Upload-Expires after a PATCH: the TTL runs again from the last write."""
    return _http_date(datetime.now(UTC) + service.TUS_TTL)


def _state(
    principal: Principal, upload_id: str
) -> tuple[uuid.UUID, int, int, str, str, str | None]:
    with session_scope() as session:
        u = service.get_tus_upload(session, principal, upload_id)
        call = str(u.engagement_id) if u.engagement_id else None
        return u.id, u.length, u.offset, u.part_path, u.status, call


@router.head(
    "/{upload_id}",
    status_code=200,
    summary="The upload's offset (resume from here)",
    responses={200: {"description": "Upload-Offset, Upload-Length; Callscribe-Call-Id when done"}},
)
async def tus_head(upload_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    _check_version(request)
    uid, *_ = await run_in_threadpool(_state, principal, upload_id)
    # A PATCH whose connection just dropped may still be writing its last bytes: wait for
    # it (briefly) so the offset we give is the one the next PATCH will be checked against.
    deadline = time.monotonic() + HEAD_WAIT_S
    while await run_in_threadpool(_leased, uid) and time.monotonic() < deadline:
        await asyncio.sleep(LEASE_POLL_S)
    _uid, length, offset, _path, status, call_id = await run_in_threadpool(
        _state, principal, upload_id
    )
    headers = {
        **TUS_HEADERS,
        "Upload-Offset": str(offset),
        "Upload-Length": str(length),
        "Cache-Control": "no-store",
        "Callscribe-Upload-Status": status,
    }
    if call_id:
        headers["Callscribe-Call-Id"] = call_id
    else:
        headers["Upload-Expires"] = await run_in_threadpool(_expires_of, principal, upload_id)
    return Response(status_code=200, headers=headers)


def _expires_of(principal: Principal, upload_id: str) -> str:
    with session_scope() as session:
        return _http_date(
            service.tus_expires_at(service.get_tus_upload(session, principal, upload_id))
        )


@router.patch(
    "/{upload_id}",
    status_code=204,
    summary="Append bytes at Upload-Offset (application/offset+octet-stream)",
    openapi_extra={
        "parameters": [
            {
                "name": "Tus-Resumable",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": ["1.0.0"]},
            },
            {
                "name": "Upload-Offset",
                "in": "header",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        },
    },
    responses={
        204: {"description": "New Upload-Offset; Callscribe-Call-Id after the last byte"},
        409: {"description": "Upload-Offset is not the server's offset"},
        415: {"description": "Wrong Content-Type"},
    },
)
async def tus_patch(upload_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    _check_version(request)
    if (
        request.headers.get("content-type", "").split(";")[0].strip()
        != "application/offset+octet-stream"
    ):
        raise UnsupportedMediaType("PATCH needs Content-Type: application/offset+octet-stream.")
    client_offset = _int_header(request, "upload-offset")
    uid, *_ = await run_in_threadpool(_state, principal, upload_id)
    async with _lease(uid) as renew:
        _uid, length, offset, path, status, call_id = await run_in_threadpool(
            _state, principal, upload_id
        )
        if status != "open":
            raise Conflict(f"This upload is {status}.", code="upload_closed")
        if client_offset != offset:
            raise Conflict(
                f"Upload-Offset {client_offset} does not match the server's {offset}.",
                code="offset_mismatch",
            )
        declared = _header_int(request.headers.get("content-length"))
        if declared is not None and offset + declared > length:
            raise PayloadTooLarge("The PATCH goes past Upload-Length.")
        written, too_long = 0, False
        with open(path, "r+b" if os.path.exists(path) else "w+b") as fh:
            fh.seek(offset)
            fh.truncate()  # bytes past the confirmed offset are from a dropped request
            try:
                async for chunk in request.stream():
                    if offset + written + len(chunk) > length:
                        too_long = True
                        break
                    fh.write(chunk)
                    written += len(chunk)
                    await renew()
            except ClientDisconnect:
                pass  # keep what arrived; the client resumes from HEAD's offset
            fh.flush()
            os.fsync(fh.fileno())
        new_offset = offset + written
        call_id = await run_in_threadpool(_advance, principal, uid, new_offset, length)
    if too_long:
        raise PayloadTooLarge("The PATCH goes past Upload-Length.")
    headers = {**TUS_HEADERS, "Upload-Offset": str(new_offset)}
    if call_id:
        headers["Callscribe-Call-Id"] = call_id
    else:
        headers["Upload-Expires"] = _expires_from_now()
    return Response(status_code=204, headers=headers)


class UploadBusy(Conflict):
    code = ErrorCode.UPLOAD_BUSY


def _leased(uid: uuid.UUID) -> bool:
    """A live PATCH (in any process) holds the upload."""
    with session_scope() as session:
        at = session.scalar(select(TusUpload.patch_lease_at).where(TusUpload.id == uid))
    return at is not None and at > utcnow() - timedelta(seconds=LEASE_S)


def _claim(uid: uuid.UUID, owner: str) -> bool:
    now = utcnow()
    with session_scope() as session:
        result = session.execute(
            update(TusUpload)
            .where(
                TusUpload.id == uid,
                or_(
                    TusUpload.patch_lease_at.is_(None),
                    TusUpload.patch_lease_at < now - timedelta(seconds=LEASE_S),
                ),
            )
            .values(patch_lease_at=now, patch_lease_owner=owner)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _renew(uid: uuid.UUID, owner: str, release: bool = False) -> None:
    with session_scope() as session:
        session.execute(
            update(TusUpload)
            .where(TusUpload.id == uid, TusUpload.patch_lease_owner == owner)
            .values(
                patch_lease_at=None if release else utcnow(),
                patch_lease_owner=None if release else owner,
            )
            .execution_options(synchronize_session=False)
        )


@asynccontextmanager
async def _lease(uid: uuid.UUID) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Hold the upload's lease for the block (waiting up to HEAD_WAIT_S for another
    PATCH to finish, then 409 upload_busy); yields `renew`, which the block calls as it
    streams (it touches the row at most every LEASE_RENEW_S)."""
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + HEAD_WAIT_S
    while not await run_in_threadpool(_claim, uid, owner):
        if time.monotonic() >= deadline:
            raise UploadBusy(
                "Another PATCH of this upload is still being written; send HEAD for the "
                "offset and try again."
            )
        await asyncio.sleep(LEASE_POLL_S)
    last = time.monotonic()

    async def renew() -> None:
        nonlocal last
        if time.monotonic() - last >= LEASE_RENEW_S:
            last = time.monotonic()
            await run_in_threadpool(_renew, uid, owner)

    try:
        yield renew
    finally:
        await run_in_threadpool(_renew, uid, owner, True)


def _advance(principal: Principal, uid: uuid.UUID, new_offset: int, length: int) -> str | None:
    """Record the new offset; after the last byte, create the call (enqueued when its
    transaction commits)."""
    with session_scope() as session:
        upload = service.get_tus_upload(session, principal, str(uid))
        upload.offset = new_offset
        if new_offset < length:
            return None
    try:
        with session_scope() as session:
            upload = service.get_tus_upload(session, principal, str(uid))
            call = service.complete_tus_upload(session, principal, upload)
            call_id = call.id
    except CallscribeError as exc:
        with session_scope() as session:
            upload = service.get_tus_upload(session, principal, str(uid))
            service.fail_tus_upload(upload, exc.message)
        raise
    return str(call_id)


@router.delete(
    "/{upload_id}",
    status_code=204,
    summary="Terminate an upload (tus termination)",
    responses={204: {"description": "Gone"}, 404: {"description": "Not found"}},
)
def tus_delete(upload_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    _check_version(request)
    with session_scope() as session:
        upload = service.get_tus_upload(session, principal, upload_id)
        if upload.status == "completed":
            raise Conflict("This upload already became a call.", code="upload_completed")
        service.terminate_tus_upload(session, upload)
    return Response(status_code=204, headers=TUS_HEADERS)
