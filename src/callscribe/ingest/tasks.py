"""Queue tasks of ingestion: sheets are processed in the background, row by row, each row
in its own transaction so one bad row never undoes the others."""

from __future__ import annotations

import logging
import uuid

from pydantic import ValidationError
from sqlalchemy import select

from callscribe.db import session_scope, utcnow
from callscribe.errors import CallscribeError, from_validation
from callscribe.ingest import service
from callscribe.ingest.models import SheetJob, SheetRow
from callscribe.queue import configure_queue, huey

log = logging.getLogger(__name__)
BATCH = 50


@huey.task(name="ingest.process_sheet")
def process_sheet(sheet_id: str) -> str:
    return run_sheet(uuid.UUID(sheet_id))


def enqueue_sheet(sheet_id: uuid.UUID) -> None:
    configure_queue()
    process_sheet(str(sheet_id))


def run_sheet(sheet_id: uuid.UUID) -> str:
    """Process the sheet's pending rows (idempotent: done rows are skipped, and a row's
    external id makes a re-run find its call instead of adding another)."""
    with session_scope() as session:
        job = session.get(SheetJob, sheet_id)
        if job is None or job.status not in ("processing", "completed"):
            return "skipped"
        principal = service.sheet_principal(job)
    while True:
        with session_scope() as session:
            row_ids = list(
                session.scalars(
                    select(SheetRow.id)
                    .where(SheetRow.job_id == sheet_id, SheetRow.status == "pending")
                    .order_by(SheetRow.row_no)
                    .limit(BATCH)
                )
            )
        if not row_ids:
            break
        for row_id in row_ids:
            try:
                with session_scope() as session:
                    job = session.get(SheetJob, sheet_id)
                    row = session.get(SheetRow, row_id)
                    assert job is not None and row is not None
                    call = service.process_sheet_row(session, principal, job, row)
                    row.status, row.error = "done", None
                    if call is not None:  # a new one is enqueued after the commit
                        row.engagement_id = call.id
            except CallscribeError as exc:
                _fail_row(row_id, exc.message)
            except ValidationError as exc:  # a cell too long or of the wrong kind
                _fail_row(row_id, from_validation(exc).message)
            except Exception as exc:  # a bug in one row must not stop the sheet
                log.exception("sheet %s row %s failed", sheet_id, row_id)
                _fail_row(row_id, f"Internal error ({type(exc).__name__}).")
    with session_scope() as session:
        job = session.get(SheetJob, sheet_id)
        assert job is not None
        job.status, job.completed_at = "completed", utcnow()
    return "completed"


def _fail_row(row_id: int, message: str) -> None:
    with session_scope() as session:
        row = session.get(SheetRow, row_id)
        if row is not None:
            row.status, row.error = "error", message[:2000]


def sweep_expired_uploads() -> int:
    """The worker's sweep (worker.SWEEPS): abandoned tus and signed uploads, bytes too."""
    with session_scope() as session:
        gone = service.expire_uploads(session)
    if gone:
        log.info("sweep: deleted %d expired upload(s)", gone)
    return gone
