"""Queue tasks of the ZIP ingest API (thin: `runner` does the work), and the sweep that
hands a batch whose worker died (or whose job was lost) to another worker."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import or_, select

from callscribe.accounts import service as accounts
from callscribe.calls.models import Engagement
from callscribe.db import session_scope, utcnow
from callscribe.errors import CallscribeError
from callscribe.ingest import service as ingest
from callscribe.ingest.zipbatch import runner
from callscribe.ingest.zipbatch.models import BatchStatus, IngestBatch
from callscribe.ingest.zipbatch.service import LOG_SOURCE
from callscribe.queue import configure_queue, huey
from callscribe.settings import get_settings
from callscribe.storage import get_store, new_audio_key
from callscribe.storage.base import Capability
from callscribe.storage.staging import StagedAudio

log = logging.getLogger(__name__)


@huey.task(name="ingest.process_batch")
def process_batch(batch_id: str) -> str:
    return runner.run_batch(uuid.UUID(batch_id))


@huey.task(name="ingest.fetch_recording")
def fetch_recording(engagement_id: str) -> str:
    return fetch_recording_now(uuid.UUID(engagement_id))


def fetch_recording_now(engagement_id: uuid.UUID) -> str:
    """Download an engagement's `recording_url` through the SSRF guard (every hop
    checked, size-limited while streaming) into the store, for playback. A failure is a
    line in the technical log; the engagement keeps its transcript and Minutes."""
    with session_scope() as session:
        call = session.get(Engagement, engagement_id)
        if call is None or call.audio_key or not (call.meta or {}).get("recording_url"):
            return "skipped"
        url, company_id = str(call.meta["recording_url"]), call.company_id
        if accounts.get_company_settings(session, company_id).redact_pii:
            # the card data in it would be kept: the Redact step silences audio it
            # transcribed itself, and this engagement's words came as text
            accounts.log_technical(
                session,
                company_id,
                LOG_SOURCE,
                f"The recording of engagement {engagement_id} was not fetched: the company "
                "redacts PII and an imported recording cannot be redacted.",
                data_set="engagements",
                ref=str(engagement_id),
            )
            return "skipped"
    staged = StagedAudio()
    try:
        ingest.download_to_stage(url, staged)
        fmt = ingest._audio_format(staged)
    except CallscribeError as exc:
        staged.discard()
        with session_scope() as session:
            accounts.log_technical(
                session,
                company_id,
                LOG_SOURCE,
                f"The recording of engagement {engagement_id} could not be fetched: {exc.message}",
                data_set="engagements",
                ref=str(engagement_id),
            )
        return "failed"
    except BaseException:
        staged.discard()
        raise
    key = new_audio_key(company_id, engagement_id, fmt)
    size = get_store().put_file(key, staged.path)
    with session_scope() as session:
        call = session.get(Engagement, engagement_id)
        if call is None:
            get_store().delete(key)
            return "skipped"
        call.audio_key, call.audio_format, call.audio_size = key, fmt, size
        call.audio_filename = staged.filename
    return "fetched"


def enqueue_batch(batch_id: uuid.UUID) -> None:
    configure_queue()
    process_batch(str(batch_id))


def mark_presigned_uploads() -> list[uuid.UUID]:
    """With a store that takes presigned PUTs the bytes never pass through us: a pending
    batch whose ZIP is in the store is `uploaded` (the worker runs the ZIP checks before
    it loads anything)."""
    store = get_store()
    if Capability.PRESIGNED_PUT not in store.capabilities:
        return []
    found: list[uuid.UUID] = []
    with session_scope() as session:
        for batch in session.scalars(
            select(IngestBatch).where(IngestBatch.status == BatchStatus.PENDING).limit(1000)
        ):
            if store.exists(batch.blob_key):
                batch.status, batch.uploaded_at = BatchStatus.UPLOADED, utcnow()
                batch.size = store.size(batch.blob_key)
                found.append(batch.id)
    return found


def sweep_stalled_batches() -> int:
    """The worker's sweep (worker.SWEEPS): batches uploaded but not started, or being
    processed by a worker whose lease ran out, are enqueued again; the claim makes sure
    only one worker goes on with each."""
    cutoff = utcnow() - timedelta(seconds=get_settings().STALE_AFTER_S)
    with session_scope() as session:
        ids = list(
            session.scalars(
                select(IngestBatch.id).where(
                    or_(
                        (IngestBatch.status == BatchStatus.UPLOADED)
                        & (IngestBatch.uploaded_at < cutoff),
                        (IngestBatch.status == BatchStatus.PROCESSING)
                        & or_(
                            IngestBatch.heartbeat_at.is_(None), IngestBatch.heartbeat_at < cutoff
                        ),
                    )
                )
            )
        )
    ids += mark_presigned_uploads()
    for batch_id in ids:
        enqueue_batch(batch_id)
    if ids:
        log.info("sweep: re-enqueued %d ingest batch(es)", len(ids))
    return len(ids)
