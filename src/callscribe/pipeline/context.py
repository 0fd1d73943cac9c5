"""What the steps of one run share, read once: the engagement's fields, the company's
settings, the agent, and the turns once the transcript is in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent, CompanySettings
from callscribe.calls.models import Engagement, Turn
from callscribe.db import session_scope


@dataclass
class PipelineContext:
    call_id: uuid.UUID
    company_id: uuid.UUID
    channel: str
    source: str
    audio_key: str | None
    customer_name: str | None
    started_at: datetime
    meta: dict[str, Any]
    agent_name: str | None
    settings: CompanySettings  # detached: read, never written through
    # None until read (after the transcript is in); a step that rewrites turns sets
    # them here or back to None
    turns: list[Turn] | None = field(default=None, repr=False)

    @property
    def transcript_complete(self) -> bool:
        return bool(self.meta.get("transcript_complete"))

    def load_turns(self) -> list[Turn]:
        """The engagement's turns in order, read once per run (detached copies)."""
        if self.turns is None:
            with session_scope() as session:
                self.turns = list(
                    session.scalars(
                        select(Turn)
                        .where(Turn.engagement_id == self.call_id)
                        .order_by(Turn.start_ms, Turn.seq)
                    )
                )
        return self.turns


def load_context(call_id: uuid.UUID) -> PipelineContext:
    with session_scope() as session:
        call = session.get(Engagement, call_id)
        assert call is not None
        agent = session.get(Agent, call.agent_id) if call.agent_id else None
        return PipelineContext(
            call_id=call.id,
            company_id=call.company_id,
            channel=call.channel,
            source=call.source,
            audio_key=call.audio_key,
            customer_name=call.customer_name,
            started_at=call.started_at or call.created_at,
            meta=dict(call.meta or {}),
            agent_name=agent.name if agent else None,
            settings=accounts.get_company_settings(session, call.company_id),
        )
