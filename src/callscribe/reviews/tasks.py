"""Queue side of reviews: `reviews.train` trains a new version of a tag's auto-review
classifier and then reviews 100 % of the company's existing turns with it (the backfill,
its progress on the model row); `reviews.backfill` reruns only the backfill;
`sweep_stalled` (wired in worker.py) asks again for what a lost job left undone."""

from __future__ import annotations

import logging
import uuid

from callscribe.db import session_scope
from callscribe.queue import configure_queue, huey
from callscribe.reviews import service

log = logging.getLogger(__name__)


@huey.task(name="reviews.train")
def train(tag_id: str) -> int:
    flagged = service.train_and_backfill(session_scope, uuid.UUID(tag_id))
    log.info("auto review of tag %s: %d turn(s) flagged", tag_id, flagged)
    return flagged


@huey.task(name="reviews.backfill")
def backfill(model_id: str) -> int:
    return service.backfill(session_scope, uuid.UUID(model_id))


def sweep_stalled() -> int:
    with session_scope() as session:
        stalled = service.find_stalled(session)
    configure_queue()
    for tag_id in stalled.trainings:
        train(str(tag_id))
    for model_id in stalled.backfills:
        backfill(str(model_id))
    found = len(stalled.trainings) + len(stalled.backfills)
    if found:
        log.info("auto review sweep: %d stalled training(s) or backfill(s) asked again", found)
    return found
