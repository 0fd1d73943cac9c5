"""The outbox: domain events as rows, written in the same transaction as the state
change that causes them, handed to their consumers after the commit.

`record_event(session, ...)` adds the row and asks for a dispatch once the session
commits; a crash between the commit and the dispatch leaves the row undispatched, and
the worker's sweep (`dispatch_pending`) hands it over later. Consumers are wired by the
shell (`set_consumers`, from worker.py), never by import side effects, and must be
idempotent on the event id: an event can be handed over more than once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from callscribe.db import Base, JSONType, UTCDateTime, after_commit, new_id, session_scope, utcnow
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

CALL_COMPLETED = "call.completed"
TRACKER_MATCHED = "tracker.matched"  # calls.trackers: a tracker matched in an engagement


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_undispatched", "dispatched_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(60))  # call.completed, ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # dispatches tried
    last_error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Event:
    """What a consumer receives: a detached copy of the row."""

    id: uuid.UUID
    company_id: uuid.UUID
    type: str
    payload: dict[str, Any]


# A consumer works inside the dispatcher's transaction (it flushes, never commits) and
# uses db.after_commit for anything that must wait for the commit (enqueueing jobs).
Consumer = Callable[[Session, Event], None]
_consumers: dict[str, tuple[Consumer, ...]] | None = None


def set_consumers(consumers: Mapping[str, Sequence[Consumer]] | None) -> None:
    """Wire event types to consumers for this process (the shell does it once; None:
    this process dispatches nothing and leaves its events to a worker's sweep)."""
    global _consumers
    _consumers = None if consumers is None else {k: tuple(v) for k, v in consumers.items()}


def record_event(
    session: Session, type: str, payload: dict[str, Any], *, company_id: uuid.UUID
) -> uuid.UUID:
    """Write an event in the caller's transaction; it is dispatched after the commit."""
    event = OutboxEvent(id=new_id(), company_id=company_id, type=type, payload=payload)
    session.add(event)
    session.flush()
    event_id = event.id

    def dispatch() -> None:
        dispatch_event(event_id)

    after_commit(session, dispatch)
    return event_id


def dispatch_event(event_id: uuid.UUID, *, again: bool = False) -> bool:
    """Hand one event to its consumers and mark it dispatched, in one transaction.
    False when this process does not dispatch, or the event was already dispatched
    (`again` hands it over anyway: consumers must make that a no-op)."""
    if _consumers is None or not get_settings().OUTBOX_DISPATCH:
        return False
    try:
        with session_scope() as session:
            row = session.get(OutboxEvent, event_id, with_for_update=True)
            if row is None or (row.dispatched_at is not None and not again):
                return False
            event = Event(row.id, row.company_id, row.type, dict(row.payload or {}))
            for consumer in _consumers.get(event.type, ()):
                consumer(session, event)
            row.dispatched_at = utcnow()
            row.attempts += 1
            row.last_error = None
        return True
    except Exception as exc:  # a consumer failed: keep the event for the sweep
        log.exception("dispatch of event %s failed", event_id)
        with session_scope() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(
                    attempts=OutboxEvent.attempts + 1,
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                )
                .execution_options(synchronize_session=False)
            )
        return False


def find_undispatched(session: Session, older_than_s: float | None = None) -> list[uuid.UUID]:
    """Events a crash (or a failed consumer) left undispatched, oldest first; events
    younger than `older_than_s` are still the after-commit dispatch's to hand over."""
    wait = get_settings().OUTBOX_RETRY_AFTER_S if older_than_s is None else older_than_s
    cutoff = utcnow() - timedelta(seconds=wait)
    return list(
        session.scalars(
            select(OutboxEvent.id)
            .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.created_at <= cutoff)
            .order_by(OutboxEvent.created_at)
            .limit(1000)
        )
    )


def dispatch_pending() -> int:
    """The sweep: dispatch what is left undispatched. Returns how many were handed over."""
    if _consumers is None or not get_settings().OUTBOX_DISPATCH:
        return 0
    with session_scope() as session:
        ids = find_undispatched(session)
    return sum(1 for event_id in ids if dispatch_event(event_id))
