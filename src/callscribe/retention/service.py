"""Retention policy (in the company's settings), deleting engagements and erasing a
customer. Blobs are deleted before rows: a failure in between leaves a row whose audio
is gone (the row is deleted on the next try), never a blob nobody refers to."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import CompanySettings
from callscribe.calls.models import (
    ACTIVE_STATUSES,
    Conversation,
    Direction,
    Engagement,
    EngagementStatus,
    Turn,
)
from callscribe.crm.models import Customer
from callscribe.db import utcnow
from callscribe.errors import ErrorCode, NotFound, ValidationFailed
from callscribe.search import service as search
from callscribe.storage import get_store

log = logging.getLogger(__name__)

# not yet processed: the pipeline holds the recording (and the transcript) until it is
HELD = [s.value for s in (*ACTIVE_STATUSES, EngagementStatus.WAITING)]

POLICY_KEY = "retention"
LOG_SOURCE = "retention"
MAX_DAYS = 3650
MIN_DAYS_FOR_SUMMARIES = 7
# the seed's words, shown next to the recordings field
ZERO_DAYS_WARNING = (
    "With a storage duration of 0 days no summary can be created; set at least 7 days."
)


@dataclass
class Policy:
    recordings_days: int | None = None  # None: kept; 0: deleted once processed
    transcripts_days: int | None = None  # None: kept
    create_summaries: bool = True  # "Create AI summaries of recorded calls"
    apply_to_internal: bool = False  # "Also apply to internal calls"

    @property
    def warning(self) -> str | None:
        short = self.recordings_days is not None and self.recordings_days < MIN_DAYS_FOR_SUMMARIES
        return ZERO_DAYS_WARNING if self.create_summaries and short else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "warning": self.warning}


def _days(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} is a number of days.", code=ErrorCode.BAD_RETENTION)
    try:
        days = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"{field} is a number of days.", code=ErrorCode.BAD_RETENTION
        ) from exc
    if not 0 <= days <= MAX_DAYS:
        raise ValidationFailed(
            f"{field} must be between 0 and {MAX_DAYS} days (empty: keep).",
            code=ErrorCode.BAD_RETENTION,
        )
    return days


def get_policy(session: Session, company_id: uuid.UUID) -> Policy:
    return policy_of(accounts.get_company_settings(session, company_id))


def policy_of(cs: CompanySettings) -> Policy:
    """The policy in a company's settings row (the pipeline reads its detached copy)."""
    raw = (cs.extra or {}).get(POLICY_KEY) or {}
    return Policy(
        recordings_days=raw.get("recordings_days"),
        transcripts_days=raw.get("transcripts_days"),
        create_summaries=bool(raw.get("create_summaries", True)),
        apply_to_internal=bool(raw.get("apply_to_internal", False)),
    )


def set_policy(
    session: Session,
    company_id: uuid.UUID,
    *,
    recordings_days: Any,
    transcripts_days: Any,
    create_summaries: bool,
    apply_to_internal: bool,
    changed_by: str,
) -> Policy:
    policy = Policy(
        recordings_days=_days(recordings_days, "Keep recordings"),
        transcripts_days=_days(transcripts_days, "Keep transcripts"),
        create_summaries=bool(create_summaries),
        apply_to_internal=bool(apply_to_internal),
    )
    cs = accounts.get_company_settings(session, company_id)
    cs.extra = {**(cs.extra or {}), POLICY_KEY: asdict(policy)}
    accounts.log_technical(
        session,
        company_id,
        LOG_SOURCE,
        f"Retention changed by {changed_by}: recordings {_shown(policy.recordings_days)}, "
        f"transcripts {_shown(policy.transcripts_days)}, summaries "
        f"{'on' if policy.create_summaries else 'off'}, internal calls "
        f"{'included' if policy.apply_to_internal else 'excluded'}.",
        level="info",
    )
    session.flush()
    return policy


def _shown(days: int | None) -> str:
    return "kept" if days is None else f"{days} days"


# -- deleting ----------------------------------------------------------------------------


def _delete_engagements(session: Session, calls: list[Engagement]) -> int:
    """Blobs, then index entries, then rows (turns, Minutes, links cascade)."""
    store = get_store()
    blobs = 0
    for call in calls:
        if call.audio_key:
            store.delete(call.audio_key)
            blobs += 1
    for call in calls:
        search.remove_engagement(session, call.id)
    ids = [c.id for c in calls]
    if ids:
        session.execute(delete(Turn).where(Turn.engagement_id.in_(ids)))
        session.execute(delete(Engagement).where(Engagement.id.in_(ids)))
        session.expire_all()
    return blobs


def delete_engagement(session: Session, call: Engagement, *, deleted_by: str) -> None:
    company_id, call_id = call.company_id, call.id
    blobs = _delete_engagements(session, [call])
    accounts.log_technical(
        session,
        company_id,
        LOG_SOURCE,
        f"Engagement {call_id} deleted by {deleted_by} ({blobs} recording(s) removed).",
        level="info",
        ref=str(call_id),
    )
    session.flush()


def erase_customer(
    session: Session, company_id: uuid.UUID, customer_id: uuid.UUID, *, erased_by: str
) -> dict[str, int]:
    """Everything of one customer: their engagements with turns, Minutes, recordings
    and search entries, their conversations, then the customer with its identities."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.company_id != company_id:
        raise NotFound("Customer not found.")
    calls = list(
        session.scalars(
            select(Engagement).where(
                Engagement.company_id == company_id, Engagement.customer_id == customer_id
            )
        )
    )
    blobs = _delete_engagements(session, calls)
    session.execute(
        delete(Conversation).where(
            Conversation.company_id == company_id, Conversation.customer_id == customer_id
        )
    )
    session.execute(delete(Customer).where(Customer.id == customer_id))
    accounts.log_technical(
        session,
        company_id,
        LOG_SOURCE,
        f"Customer {customer_id} erased by {erased_by}: {len(calls)} engagement(s), "
        f"{blobs} recording(s).",
        level="info",
        ref=str(customer_id),
    )
    session.flush()
    return {"engagements": len(calls), "recordings": blobs}


# -- the daily task ----------------------------------------------------------------------


def _in_scope(policy: Policy) -> Any:
    if policy.apply_to_internal:
        return True
    return or_(Engagement.direction.is_(None), Engagement.direction != Direction.INTERNAL.value)


def _when() -> Any:
    return Engagement.created_at


def apply_policy(session: Session, company_id: uuid.UUID, now: datetime | None = None) -> dict:
    """Delete the company's recordings and transcripts past their time. A recording of
    an engagement the pipeline has not finished is held until it has."""
    policy = get_policy(session, company_id)
    now = now or utcnow()
    done = {"recordings": 0, "transcripts": 0}
    store = get_store()
    if policy.recordings_days is not None:
        cutoff = now - timedelta(days=policy.recordings_days)
        for call in session.scalars(
            select(Engagement).where(
                Engagement.company_id == company_id,
                Engagement.audio_key.is_not(None),
                Engagement.status.not_in(HELD),
                _when() <= cutoff,
                _in_scope(policy),
            )
        ):
            if call.audio_key:  # not None: filtered
                store.delete(call.audio_key)
            call.audio_key = None
            done["recordings"] += 1
    if policy.transcripts_days is not None:
        cutoff = now - timedelta(days=policy.transcripts_days)
        ids = list(
            session.scalars(
                select(Engagement.id).where(
                    Engagement.company_id == company_id,
                    Engagement.status.not_in(HELD),
                    _when() <= cutoff,
                    _in_scope(policy),
                    select(Turn.id).where(Turn.engagement_id == Engagement.id).exists(),
                )
            )
        )
        for call_id in ids:
            search.remove_engagement(session, call_id)
        if ids:
            session.execute(delete(Turn).where(Turn.engagement_id.in_(ids)))
        done["transcripts"] = len(ids)
    if any(done.values()):
        accounts.log_technical(
            session,
            company_id,
            LOG_SOURCE,
            f"Retention: {done['recordings']} recording(s) and the transcripts of "
            f"{done['transcripts']} engagement(s) deleted past their storage duration.",
            level="info",
        )
    session.flush()
    return done


def companies_with_policy(session: Session) -> list[uuid.UUID]:
    return [
        cs.company_id
        for cs in session.scalars(select(CompanySettings))
        if (cs.extra or {}).get(POLICY_KEY)
    ]
