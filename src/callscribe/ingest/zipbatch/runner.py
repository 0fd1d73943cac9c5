"""Processing one batch, resumably: claim it (a lease kept by a heartbeat with each
chunk), verify every member by reading it through the ZIP limits (nothing is loaded
from a ZIP that fails), plan its files (data-set order), then stream each file a chunk of
lines at a time, each chunk committed with the file's line offset, its counts and its
messages, so a worker killed mid-batch goes on after the last committed chunk and loads
nothing twice (and PIDs make a re-sent item an update, never a copy). Last, the
engagements the batch touched go to the pipeline."""

from __future__ import annotations

import functools
import json
import logging
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.calls import service as calls
from callscribe.calls.models import Engagement, Turn
from callscribe.db import after_commit, session_scope, utcnow
from callscribe.errors import CallscribeError
from callscribe.ingest.zipbatch.loaders import ORDER, get_loader
from callscribe.ingest.zipbatch.loaders.base import (
    Chunk,
    Item,
    Level,
    Message,
    MessageCode,
    Outcome,
)
from callscribe.ingest.zipbatch.models import (
    BatchStatus,
    IngestBatch,
    IngestBatchEngagement,
    IngestBatchFile,
)
from callscribe.ingest.zipbatch.safety import (
    Budget,
    ZipLimits,
    ZipMember,
    ZipRefused,
    check_zip,
    iter_lines,
    open_member,
)
from callscribe.ingest.zipbatch.service import LOG_SOURCE, fail_batch
from callscribe.queue import enqueue_named
from callscribe.settings import get_settings
from callscribe.storage import get_store

log = logging.getLogger(__name__)
COUNT_KEYS = ("created", "updated", "unchanged", "rejected", "warnings")
MAX_REFS = 200_000  # reference cache entries kept across chunks
RELEASE_CHUNK = 200
BEAT_BYTES = 256 * 1024 * 1024  # decompressed bytes verified between two heartbeats
FETCH_TASK = "ingest.fetch_recording"


def claim(batch_id: uuid.UUID) -> bool:
    """Take the batch: uploaded, or processing with a lease nobody renewed."""
    stale = utcnow() - timedelta(seconds=get_settings().STALE_AFTER_S)
    with session_scope() as session:
        result = session.execute(
            update(IngestBatch)
            .where(
                IngestBatch.id == batch_id,
                or_(
                    IngestBatch.status == BatchStatus.UPLOADED,
                    (IngestBatch.status == BatchStatus.PROCESSING)
                    & or_(IngestBatch.heartbeat_at.is_(None), IngestBatch.heartbeat_at < stale),
                ),
            )
            .values(status=BatchStatus.PROCESSING, heartbeat_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


@contextmanager
def _archive(blob_key: str) -> Iterator[zipfile.ZipFile]:
    with get_store().local_path(blob_key) as path, zipfile.ZipFile(path) as archive:
        yield archive


def run_batch(batch_id: uuid.UUID | str) -> str:
    """Process (or go on with) one batch; returns its final status or "skipped"."""
    batch_id = uuid.UUID(str(batch_id))
    if not claim(batch_id):
        return "skipped"
    with session_scope() as session:
        batch = session.get(IngestBatch, batch_id)
        assert batch is not None
        started = batch.started_at is not None
        blob_key, company_id, source_id = batch.blob_key, batch.company_id, str(batch.source_id)
        if not started:
            batch.started_at = utcnow()
    try:
        if not started:
            _verify_and_plan(batch_id, blob_key)
        refs: dict[tuple[str, str], uuid.UUID | None] = {}
        with _archive(blob_key) as archive:
            while (file_id := _next_file(batch_id)) is not None:
                _load_file(archive, batch_id, company_id, source_id, file_id, refs)
        release_engagements(batch_id)
    except ZipRefused as exc:  # found before any item was loaded: nothing stays
        with session_scope() as session:
            batch = session.get(IngestBatch, batch_id)
            assert batch is not None
            fail_batch(session, batch, exc.code, exc.message)
        get_store().delete(blob_key)
        return BatchStatus.FAILED
    except CallscribeError as exc:
        log.warning("batch %s failed: %s", batch_id, exc.message)
        with session_scope() as session:
            batch = session.get(IngestBatch, batch_id)
            assert batch is not None
            fail_batch(session, batch, exc.code, exc.message)
        return BatchStatus.FAILED
    except Exception as exc:  # a bug: fail the batch rather than retry it forever
        log.exception("batch %s failed", batch_id)
        with session_scope() as session:
            batch = session.get(IngestBatch, batch_id)
            assert batch is not None
            fail_batch(session, batch, "error", f"Internal error ({type(exc).__name__}).")
        return BatchStatus.FAILED
    with session_scope() as session:
        batch = session.get(IngestBatch, batch_id)
        assert batch is not None
        batch.status = (
            BatchStatus.COMPLETED_WITH_WARNINGS if batch.message_count else BatchStatus.COMPLETED
        )
        batch.finished_at, batch.heartbeat_at = utcnow(), None
        shown = len(batch.messages or [])
        if batch.message_count > shown:
            accounts.log_technical(
                session,
                company_id,
                LOG_SOURCE,
                f"{batch.message_count - shown} more message(s) of this batch are not listed.",
                ref=str(batch_id),
            )
        return str(batch.status)


def _verify_and_plan(batch_id: uuid.UUID, blob_key: str) -> None:
    """Before any item is loaded: the ZIP checks again (a presigned upload never passed
    ours), every member read through the decompression limits, then the file plan."""
    limits = ZipLimits.from_settings()
    with get_store().local_path(blob_key) as path:
        members = check_zip(path, limits)
        budget = Budget(limits)
        with zipfile.ZipFile(path) as archive:
            read = 0
            for member in members:
                stream = open_member(archive, member, budget)
                while data := stream.read(1024 * 1024):
                    read += len(data)
                    if read >= BEAT_BYTES:  # a large ZIP: keep the lease while reading
                        _beat(batch_id)
                        read = 0
    order = {name: i for i, name in enumerate(ORDER)}
    ranked = sorted(
        enumerate(members),
        key=lambda im: (order.get(im[1].data_set or "", len(order)), im[1].name, im[0]),
    )
    with session_scope() as session:
        batch = session.get(IngestBatch, batch_id)
        assert batch is not None
        messages: list[Message] = []
        for position, (_i, member) in enumerate(ranked):
            known = get_loader(member.data_set) is not None
            session.add(
                IngestBatchFile(
                    batch_id=batch_id,
                    name=member.name[:300],
                    data_set=member.data_set if known else None,
                    position=position,
                    status="pending" if known else "skipped",
                    lines_done=0,
                    counts={},
                )
            )
            if not known:
                messages.append(_skipped(member))
        _record_messages(session, batch, messages)


def _beat(batch_id: uuid.UUID) -> None:
    with session_scope() as session:
        session.execute(
            update(IngestBatch).where(IngestBatch.id == batch_id).values(heartbeat_at=utcnow())
        )


def _skipped(member: ZipMember) -> Message:
    if member.data_set is None:
        return Message(
            Level.WARNING,
            MessageCode.NOT_A_DATA_FILE,
            f"{member.name[:200]!r} is not named <dataset>[-<part>].jsonl[.gz]; skipped.",
            file=member.name[:300],
        )
    return Message(
        Level.WARNING,
        MessageCode.UNKNOWN_DATA_SET,
        f"{member.data_set!r} is not a data set this server loads; {member.name[:200]!r} skipped.",
        data_set=member.data_set[:40],
        file=member.name[:300],
    )


def _next_file(batch_id: uuid.UUID) -> int | None:
    with session_scope() as session:
        return session.scalar(
            select(IngestBatchFile.id)
            .where(IngestBatchFile.batch_id == batch_id, IngestBatchFile.status == "pending")
            .order_by(IngestBatchFile.position)
            .limit(1)
        )


def _load_file(
    archive: zipfile.ZipFile,
    batch_id: uuid.UUID,
    company_id: uuid.UUID,
    source_id: str,
    file_id: int,
    refs: dict[tuple[str, str], uuid.UUID | None],
) -> None:
    with session_scope() as session:
        row = session.get(IngestBatchFile, file_id)
        assert row is not None and row.data_set is not None
        name, data_set, done = row.name, row.data_set, row.lines_done
    loader = get_loader(data_set)
    assert loader is not None
    member = ZipMember(name, data_set, None, name.endswith(".gz"))
    stream = open_member(archive, member, Budget(ZipLimits.from_settings()))
    size = max(1, get_settings().INGEST_CHUNK_ITEMS)
    pending: list[tuple[int, bytes | None]] = []
    last = done
    for line in iter_lines(stream, skip=done):
        last = line.number
        if line.data is not None and not line.data.strip():
            continue  # a blank line: counted for the offset, not an item
        pending.append((line.number, line.data))
        if len(pending) >= size:
            _load_chunk(batch_id, company_id, source_id, file_id, loader, pending, last, refs)
            pending = []
    _load_chunk(
        batch_id, company_id, source_id, file_id, loader, pending, last, refs, last_chunk=True
    )


def _load_chunk(
    batch_id: uuid.UUID,
    company_id: uuid.UUID,
    source_id: str,
    file_id: int,
    loader: Any,
    lines: list[tuple[int, bytes | None]],
    last_line: int,
    refs: dict[tuple[str, str], uuid.UUID | None],
    *,
    last_chunk: bool = False,
) -> None:
    """One transaction: the chunk's items, the file's offset and counts, the batch's
    counts and messages, the engagements it touched."""
    if len(refs) > MAX_REFS:
        refs.clear()
    with session_scope() as session:
        row = session.get(IngestBatchFile, file_id)
        batch = session.get(IngestBatch, batch_id)
        assert row is not None and batch is not None and row.data_set is not None
        chunk = Chunk(session, company_id, source_id, batch_id, row.data_set, row.name, refs)
        items: list[Item] = []
        early: list[Message] = []
        for number, data in lines:
            message = None
            parsed: Any = None
            if data is None:
                message = (MessageCode.LINE_TOO_LONG, "Rejected: the line is longer than 8 MB.")
            else:
                try:
                    parsed = json.loads(data)
                except (ValueError, UnicodeDecodeError) as exc:
                    message = (MessageCode.BAD_JSON, f"Rejected: the line is not JSON ({exc}).")
                else:
                    if not isinstance(parsed, dict):
                        message = (MessageCode.BAD_JSON, "Rejected: the line is not a JSON object.")
            if message is not None:
                early.append(
                    Message(Level.ERROR, message[0], message[1], row.data_set, row.name, number)
                )
                continue
            items.append(Item(chunk, number, parsed))
        outcomes = loader.load_chunk(chunk, items) if items else []
        counts = {k: 0 for k in COUNT_KEYS}
        counts["rejected"] += len(early)
        messages = list(early)
        for item, outcome in zip(items, outcomes, strict=True):
            counts[Outcome(outcome).value] += 1
            messages.extend(item.messages)
        counts["warnings"] = sum(1 for m in messages if m.level == Level.WARNING)
        row.counts = _add(row.counts, counts)
        batch.counts = {
            **(batch.counts or {}),
            row.data_set: _add((batch.counts or {}).get(row.data_set), counts),
        }
        row.lines_done = last_line
        if last_chunk:
            row.status = "done"
        batch.heartbeat_at = utcnow()
        _record_messages(session, batch, messages)
        if chunk.touched:
            known = set(
                session.scalars(
                    select(IngestBatchEngagement.engagement_id).where(
                        IngestBatchEngagement.batch_id == batch_id,
                        IngestBatchEngagement.engagement_id.in_(list(chunk.touched)),
                    )
                )
            )
            for engagement_id in chunk.touched - known:
                session.add(IngestBatchEngagement(batch_id=batch_id, engagement_id=engagement_id))


def _add(old: dict[str, int] | None, new: dict[str, int]) -> dict[str, int]:
    old = old or {}
    return {k: int(old.get(k, 0)) + int(new.get(k, 0)) for k in COUNT_KEYS}


def _record_messages(session: Session, batch: IngestBatch, messages: list[Message]) -> None:
    """The first INGEST_BATCH_MESSAGES messages are kept with the batch and written to
    the technical log (data set, ref = the batch id); the rest are counted."""
    if not messages:
        return
    room = max(0, get_settings().INGEST_BATCH_MESSAGES - len(batch.messages or []))
    kept = messages[:room]
    if kept:
        batch.messages = [*(batch.messages or []), *(m.as_json() for m in kept)]
        for m in kept:
            where = f"{m.file}:{m.line}" if m.file and m.line else (m.file or "")
            ident = f" (id {m.item_id})" if m.item_id else ""
            accounts.log_technical(
                session,
                batch.company_id,
                LOG_SOURCE,
                f"{where}{ident}: {m.message} [{m.code.value}]".strip(),
                level=m.level.value,
                data_set=m.data_set,
                ref=str(batch.id),
            )
    batch.message_count = (batch.message_count or 0) + len(messages)


def release_engagements(batch_id: uuid.UUID) -> None:
    """Every engagement the batch touched: with turns, back to `received` and enqueued
    (Analyze, Index ... no speech step: it is a text transcript); without, left waiting
    for its turns. A recording URL is fetched after (playback). Idempotent: done rows go."""
    while True:
        _beat(batch_id)
        with session_scope() as session:
            ids = list(
                session.scalars(
                    select(IngestBatchEngagement.engagement_id)
                    .where(IngestBatchEngagement.batch_id == batch_id)
                    .limit(RELEASE_CHUNK)
                )
            )
            if not ids:
                return
            spans = dict(
                session.execute(
                    select(Turn.engagement_id, func.max(Turn.end_ms))
                    .where(Turn.engagement_id.in_(ids))
                    .group_by(Turn.engagement_id)
                ).all()
            )
            ready: list[uuid.UUID] = []
            fetch: list[uuid.UUID] = []
            for engagement in session.scalars(select(Engagement).where(Engagement.id.in_(ids))):
                if (engagement.meta or {}).get("recording_url") and not engagement.audio_key:
                    fetch.append(engagement.id)
                if engagement.id not in spans:
                    continue  # no turns yet: it waits for a batch that sends them
                calls.reset_for_processing(engagement, keep_transcript=True)
                engagement.meta = {**(engagement.meta or {}), "transcript_complete": True}
                if engagement.duration_s is None:
                    engagement.duration_s = round((spans[engagement.id] or 0) / 1000, 3)
                ready.append(engagement.id)
            session.execute(
                delete(IngestBatchEngagement).where(
                    IngestBatchEngagement.batch_id == batch_id,
                    IngestBatchEngagement.engagement_id.in_(ids),
                )
            )
            session.flush()
            calls.request_processing(session, ready)
            if fetch:
                after_commit(session, functools.partial(_enqueue_fetches, tuple(fetch)))


def _enqueue_fetches(ids: tuple[uuid.UUID, ...]) -> None:
    for engagement_id in ids:
        enqueue_named(FETCH_TASK, str(engagement_id))
