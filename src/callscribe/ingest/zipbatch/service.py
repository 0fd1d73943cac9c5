"""Batches of the ZIP ingest API: an upload URL per batch (signed, time-limited; a
presigned PUT where the store can do one), the ZIP received (streamed to a staging file,
size- and rate-limited, checked by `safety.check_zip` before anything of it is stored),
and the batch's status. No HTTP here; the boundary owns the transaction. Processing is
`runner.run_batch`."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.auth.ratelimit import TooManyAttempts
from callscribe.db import after_commit, utcnow
from callscribe.errors import (
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    PayloadTooLarge,
)
from callscribe.ingest.zipbatch import access
from callscribe.ingest.zipbatch.models import BatchStatus, IngestBatch, IngestBatchFile, IngestKey
from callscribe.ingest.zipbatch.safety import StreamScanner, ZipRefused, check_zip
from callscribe.kit.schemas import as_utc
from callscribe.security.crypto import sign, verify_signature
from callscribe.settings import get_settings
from callscribe.storage import get_store
from callscribe.storage.base import Capability

UPLOAD_PATH = "/api/v1/ingest/uploads"
PROCESS_TASK = "ingest.process_batch"
LOG_SOURCE = "ingest-batch"


# -- limits per account ------------------------------------------------------------------


def _window_start() -> datetime:
    return utcnow() - timedelta(seconds=get_settings().INGEST_WINDOW_S)


def _retry_after(oldest: datetime | None) -> int:
    if oldest is None:
        return 1
    left = (as_utc(oldest) + timedelta(seconds=get_settings().INGEST_WINDOW_S)) - utcnow()
    return max(1, int(left.total_seconds()) + 1)


def window_usage(session: Session, company_id: uuid.UUID) -> tuple[int, int, datetime | None]:
    """Batches asked for and bytes uploaded by the account within the window (the
    database is shared by every process), and the oldest of those batches."""
    count, size, oldest = session.execute(
        select(
            func.count(IngestBatch.id),
            func.coalesce(func.sum(IngestBatch.size), 0),
            func.min(IngestBatch.created_at),
        ).where(IngestBatch.company_id == company_id, IngestBatch.created_at >= _window_start())
    ).one()
    return int(count or 0), int(size or 0), oldest


def check_batch_limit(session: Session, company_id: uuid.UUID) -> None:
    settings = get_settings()
    count, size, oldest = window_usage(session, company_id)
    minutes = settings.INGEST_WINDOW_S // 60
    if count >= settings.INGEST_MAX_BATCHES:
        raise TooManyAttempts(
            f"At most {settings.INGEST_MAX_BATCHES} batches per {minutes} minutes per account.",
            retry_after_s=_retry_after(oldest),
        )
    if size >= settings.INGEST_MAX_WINDOW_MB * 1024 * 1024:
        raise TooManyAttempts(
            f"At most {settings.INGEST_MAX_WINDOW_MB} MB of batches per {minutes} minutes per "
            "account.",
            retry_after_s=_retry_after(oldest),
        )


def upload_allowance(session: Session, company_id: uuid.UUID) -> tuple[int, int]:
    """(bytes this upload may have, Retry-After should the account's window run out)."""
    settings = get_settings()
    _count, size, oldest = window_usage(session, company_id)
    left = settings.INGEST_MAX_WINDOW_MB * 1024 * 1024 - size
    return min(settings.ingest_batch_max_bytes, left), _retry_after(oldest)


# -- step 1: the upload URL --------------------------------------------------------------


def create_batch(session: Session, key: IngestKey, source_id: str) -> IngestBatch:
    source = access.get_source(session, key.company_id, source_id)
    check_batch_limit(session, key.company_id)
    batch_id = uuid.uuid4()
    batch = IngestBatch(
        id=batch_id,
        company_id=key.company_id,
        source_id=source.id,
        key_id=key.id,
        status=BatchStatus.PENDING,
        blob_key=f"ingest/{key.company_id}/{batch_id}.zip",
        expires_at=utcnow() + timedelta(seconds=get_settings().INGEST_UPLOAD_URL_TTL_S),
        counts={},
        messages=[],
        message_count=0,
    )
    session.add(batch)
    session.flush()
    return batch


def _message(batch_id: uuid.UUID) -> str:
    return f"ingest-batch:{batch_id}"


def upload_url_for(batch: IngestBatch) -> str:
    """Our signed PUT URL; a store that declares PRESIGNED_PUT (S3-compatible, to come)
    answers with its own presigned URL instead and the bytes never pass through us (the
    worker then runs the same ZIP checks before it loads anything)."""
    expires = int(batch.expires_at.timestamp())
    store = get_store()
    if Capability.PRESIGNED_PUT in store.capabilities:
        return store.presign_put(batch.blob_key, expires)
    token = sign(_message(batch.id), expires)
    return f"{get_settings().public_url}{UPLOAD_PATH}/{batch.id}?token={token}"


def check_upload_token(batch_id: str, token: str | None) -> uuid.UUID:
    """403 for an expired (url_expired), tampered or missing signature, before any byte
    of the body is read."""
    try:
        bid = uuid.UUID(batch_id)
    except ValueError as exc:
        raise Forbidden("This upload URL is not valid.", code=ErrorCode.BAD_SIGNATURE) from exc
    if not token:
        raise Forbidden("This upload URL has no signature.", code=ErrorCode.BAD_SIGNATURE)
    if not verify_signature(_message(bid), token):
        try:
            expires = int(token.split(".", 1)[0])
        except ValueError:
            expires = 0
        if (
            expires
            and expires < time.time()
            and verify_signature(_message(bid), token, now=expires - 1)
        ):
            raise Forbidden(
                "This upload URL has expired; ask for a new one (POST /api/v1/ingest/upload-url).",
                code=ErrorCode.URL_EXPIRED,
            )
        raise Forbidden("The upload URL's signature does not match.", code=ErrorCode.BAD_SIGNATURE)
    return bid


def batch_for_upload(session: Session, batch_id: uuid.UUID) -> IngestBatch:
    batch = session.get(IngestBatch, batch_id)
    if batch is None:
        raise NotFound("No such batch.", code=ErrorCode.BATCH_NOT_FOUND)
    if batch.status != BatchStatus.PENDING:
        raise Conflict(
            f"This batch was already uploaded (it is {batch.status}); ask for a new upload URL.",
            code=ErrorCode.BATCH_UPLOADED,
        )
    return batch


# -- step 2: the ZIP ---------------------------------------------------------------------


class StagedZip:
    """The body being received into a staging file, refused past `max_bytes` as it comes
    (413 past the batch limit, 429 past what the account's window has left)."""

    def __init__(self, max_bytes: int, window_bytes: int, retry_after_s: int) -> None:
        self.max_bytes = max_bytes
        self.window_bytes = window_bytes
        self.retry_after_s = retry_after_s
        self.file: BinaryIO
        self.file, self.path = get_store().staging_file()
        self.size = 0
        self.scanner = StreamScanner()

    def write(self, chunk: bytes) -> None:
        self.scanner.feed(chunk)  # ZipRefused mid-stream: the rest never comes in
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"A batch is limited to {self.max_bytes // (1024 * 1024)} MB.",
            )
        if self.size > self.window_bytes:
            raise TooManyAttempts(
                "This batch would take the account over its upload volume for the window "
                f"({get_settings().INGEST_MAX_WINDOW_MB} MB per "
                f"{get_settings().INGEST_WINDOW_S // 60} minutes).",
                retry_after_s=self.retry_after_s,
            )
        self.file.write(chunk)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def discard(self) -> None:
        self.close()
        Path(self.path).unlink(missing_ok=True)


def stage_for(session: Session, batch: IngestBatch, declared: int | None) -> StagedZip:
    settings = get_settings()
    if declared is not None and declared > settings.ingest_batch_max_bytes:
        raise PayloadTooLarge(f"A batch is limited to {settings.INGEST_BATCH_MAX_MB} MB.")
    allowed, retry = upload_allowance(session, batch.company_id)
    if declared is not None and declared > allowed and declared <= settings.ingest_batch_max_bytes:
        raise TooManyAttempts(
            "This batch would take the account over its upload volume for the window.",
            retry_after_s=retry,
        )
    return StagedZip(settings.ingest_batch_max_bytes, allowed, retry)


def fail_batch(session: Session, batch: IngestBatch, code: str, message: str) -> None:
    batch.status = BatchStatus.FAILED
    batch.error_code, batch.error = str(code), message[:2000]
    batch.finished_at = utcnow()
    accounts.log_technical(
        session,
        batch.company_id,
        LOG_SOURCE,
        f"Batch refused: {message}",
        level="error",
        ref=str(batch.id),
    )
    session.flush()


def refuse_upload(session: Session, batch_id: uuid.UUID, refused: ZipRefused) -> None:
    """The PUT was cut off by a ZIP check while streaming: the batch fails with it."""
    batch = session.get(IngestBatch, batch_id)
    if batch is not None and batch.status == BatchStatus.PENDING:
        fail_batch(session, batch, refused.code, refused.message)


def receive_zip(session: Session, batch_id: uuid.UUID, staged: StagedZip) -> IngestBatch:
    """The staged body becomes the batch's ZIP, queued for processing, when it passes
    the ZIP checks; a refused ZIP is deleted and the batch fails with the reason (the
    caller commits that too, then raises)."""
    staged.close()
    try:
        batch = batch_for_upload(session, batch_id)  # a second PUT that lost the race
    except BaseException:
        staged.discard()
        raise
    try:
        check_zip(staged.path)
    except ZipRefused as exc:
        staged.discard()
        fail_batch(session, batch, exc.code, exc.message)
        raise
    try:
        batch.size = get_store().put_file(batch.blob_key, Path(staged.path))
    except BaseException:
        staged.discard()
        raise
    batch.status = BatchStatus.UPLOADED
    batch.uploaded_at = utcnow()
    session.flush()
    request_processing(session, batch.id)
    return batch


def request_processing(session: Session, batch_id: uuid.UUID) -> None:
    from callscribe.queue import enqueue_named

    after_commit(session, lambda: enqueue_named(PROCESS_TASK, str(batch_id)))


# -- step 3: the status ------------------------------------------------------------------


def get_batch(session: Session, company_id: uuid.UUID, batch_id: str) -> IngestBatch:
    try:
        bid = uuid.UUID(batch_id)
    except ValueError:
        bid = None
    batch = session.get(IngestBatch, bid) if bid else None
    if batch is None or batch.company_id != company_id:
        raise NotFound("No such batch in this account.", code=ErrorCode.BATCH_NOT_FOUND)
    return batch


def batch_report(session: Session, batch: IngestBatch) -> dict[str, Any]:
    files = session.scalars(
        select(IngestBatchFile)
        .where(IngestBatchFile.batch_id == batch.id)
        .order_by(IngestBatchFile.position)
    ).all()
    return {
        "batchId": str(batch.id),
        "ingestionSourceId": str(batch.source_id),
        "status": str(batch.status),
        "error": {"code": batch.error_code, "message": batch.error} if batch.error_code else None,
        "size": batch.size,
        "createdAt": batch.created_at.isoformat(),
        "uploadedAt": batch.uploaded_at.isoformat() if batch.uploaded_at else None,
        "finishedAt": batch.finished_at.isoformat() if batch.finished_at else None,
        "dataSets": batch.counts or {},
        "files": [
            {
                "name": f.name,
                "dataSet": f.data_set,
                "status": f.status,
                "lines": f.lines_done,
                **(f.counts or {}),
            }
            for f in files
        ],
        "messages": batch.messages or [],
        "messageCount": batch.message_count,
    }
