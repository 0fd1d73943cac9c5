"""Real transcripts for the search API, page and CLI tests: the ABCD customer-service
chats (MIT, tests/data/transcripts/abcd) and the Harper Valley bank call, stored as
engagements and put through the real pipeline (Analyze, Index, Complete)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import DATA, insert_text_engagement

ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"
RETURN, REFUND, PROMO = 0, 1, 2  # the three ABCD conversations, by what they are about


def abcd_turns(which: int) -> list[tuple[str, str]]:
    convo = json.loads(ABCD.read_text())[which]
    return [(role, text) for role, text in convo["original"] if role in ("agent", "customer")]


def processed(call_id: uuid.UUID) -> uuid.UUID:
    """Run the pipeline over the engagement in this process, as a worker would."""
    from callscribe.pipeline.runner import process_call

    assert process_call(call_id) == "completed"
    return call_id


def add_chat(company_id: uuid.UUID, which: int, **fields: Any) -> uuid.UUID:
    return processed(insert_text_engagement(company_id, abcd_turns(which), **fields))


def turn_ids(call_id: uuid.UUID) -> list[int]:
    """The engagement's turn ids in the order the call page shows them."""
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        return list(
            s.scalars(
                select(Turn.id)
                .where(Turn.engagement_id == call_id)
                .order_by(Turn.start_ms, Turn.seq)
            )
        )


def turn_text(turn_id: int) -> str:
    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        turn = s.get(Turn, turn_id)
        assert turn is not None
        return turn.text
