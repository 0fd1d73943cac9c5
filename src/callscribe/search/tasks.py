"""Queue side of search: `search.index` indexes one engagement again (the sweep's job
for an engagement whose indexing failed, see search.indexing); `sweep_unindexed` is the
sweep (wired in worker.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from callscribe.db import session_scope
from callscribe.queue import configure_queue, huey
from callscribe.search import indexing

log = logging.getLogger(__name__)


@huey.task(name="search.index")
def index(engagement_id: str) -> bool:
    return indexing.reindex_marked(uuid.UUID(engagement_id))


def sweep_unindexed() -> int:
    """Enqueue `search.index` for completed engagements whose indexing failed."""
    with session_scope() as session:
        ids = indexing.find_unindexed(session)
    if ids:
        log.info("search sweep: re-indexing %d engagement(s)", len(ids))
        enqueue_index(ids)
    return len(ids)


def enqueue_index(engagement_ids: Iterable[uuid.UUID]) -> None:
    configure_queue()
    for engagement_id in engagement_ids:
        index(str(engagement_id))
