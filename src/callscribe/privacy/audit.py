"""Writing and reading the reveal audit log (privacy.models.PiiReveal)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page
from callscribe.privacy.models import PiiReveal


def record_reveal(
    session: Session,
    *,
    company_id: uuid.UUID,
    actor: str,
    kind: str,
    engagement_id: uuid.UUID,
    turn_id: int | None,
    user_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
    oauth_app_id: uuid.UUID | None = None,
) -> PiiReveal:
    row = PiiReveal(
        company_id=company_id,
        actor=actor[:320],
        kind=kind,
        engagement_id=engagement_id,
        turn_id=turn_id,
        user_id=user_id,
        api_key_id=api_key_id,
        oauth_app_id=oauth_app_id,
    )
    session.add(row)
    session.flush()
    return row


def list_reveals(
    session: Session, company_id: uuid.UUID, page: int = 1, page_size: int = 50
) -> Page[PiiReveal]:
    query = (
        select(PiiReveal)
        .where(PiiReveal.company_id == company_id)
        .order_by(PiiReveal.created_at.desc(), PiiReveal.id)
    )
    return paginate(session, query, page, page_size)
