"""Indexing an engagement from the pipeline, and repairing what failed.

A failure to index never fails the call: by the time the Index step runs the transcript
and the Minutes are stored, and the call's automations should not wait on search. So
the step *marks and sweeps*: it records in the engagement's `meta["search"]` whether
its turns are in the index (`{"indexed": true, "turns": n}`, or `{"indexed": false,
"error": ...}`), the call goes on to `completed`, and the "unindexed turns" sweep
(worker.SWEEPS) enqueues `search.index` for every completed engagement marked false
until it succeeds. `callscribe search reindex` rebuilds everything by hand.

The marker is written in the transaction that writes the index entries (a database
index), so "indexed: true" is never committed without them."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callscribe.calls.models import Engagement, EngagementStatus
from callscribe.db import session_scope
from callscribe.errors import CallscribeError
from callscribe.search import service

log = logging.getLogger(__name__)

META_KEY = "search"
SWEEP_BATCH = 200  # engagements re-enqueued per sweep run


def index_call(call_id: uuid.UUID, meta: dict[str, Any]) -> dict[str, Any]:
    """Index the engagement's turns (replacing earlier entries); returns its meta with
    the marker, as stored. Never raises for a failure of the index itself."""
    try:
        with session_scope() as session:
            count = service.index_engagement(session, call_id)
            meta = {**meta, META_KEY: {"indexed": True, "turns": count}}
            _write_meta(session, call_id, meta)
        return meta
    except Exception as exc:
        reason = (
            exc.message
            if isinstance(exc, CallscribeError)
            else f"internal error ({type(exc).__name__})"
        )
        # the type only in the log: a message from a remote embedder may quote its input
        log.warning(
            "search: indexing %s failed (%s); the sweep retries", call_id, type(exc).__name__
        )
        meta = {**meta, META_KEY: {"indexed": False, "error": reason[:300]}}
        with session_scope() as session:
            _write_meta(session, call_id, meta)
        return meta


def reindex_marked(call_id: uuid.UUID) -> bool:
    """The sweep's job: index one engagement again; True when it is in the index now."""
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        if call is None:
            return False
        meta = dict(call.meta or {})
    return bool(index_call(call_id, meta)[META_KEY]["indexed"])


def find_unindexed(session: Session, limit: int = SWEEP_BATCH) -> list[uuid.UUID]:
    """Completed engagements whose last indexing failed."""
    indexed = Engagement.meta[(META_KEY, "indexed")].as_boolean()
    return list(
        session.scalars(
            select(Engagement.id)
            .where(Engagement.status == EngagementStatus.COMPLETED, indexed.is_(False))
            .order_by(Engagement.created_at)
            .limit(limit)
        )
    )


def _write_meta(session: Session, call_id: uuid.UUID, meta: dict[str, Any]) -> None:
    session.execute(
        update(Engagement)
        .where(Engagement.id == call_id)
        .values(meta=meta)
        .execution_options(synchronize_session=False)
    )
