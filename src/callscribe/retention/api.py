"""JSON API: the retention settings, deleting an engagement, erasing a customer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from callscribe.auth.deps import DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls import service as calls
from callscribe.errors import NotFound
from callscribe.retention import service

router = APIRouter(prefix="/api", tags=["retention"])

CallsManager = Annotated[Principal, Depends(require(Permission.CALLS_MANAGE))]
CustomerEraser = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]
SettingsAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


def actor(principal: Principal) -> str:
    if principal.user_id is not None:
        return f"user {principal.user_id}"
    if principal.api_key_id is not None:
        return f"API key {principal.api_key_id}"
    return f"OAuth app {principal.oauth_app_id}"


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recordings_days: int | None = Field(None, description="0: deleted once processed; null: kept")
    transcripts_days: int | None = Field(None, description="null: kept")
    create_summaries: bool = True
    apply_to_internal: bool = False


class RetentionOut(RetentionIn):
    warning: str | None = None


class ErasureOut(BaseModel):
    success: bool = True
    engagements: int
    recordings: int


@router.get("/settings/retention", response_model=RetentionOut, summary="Retention settings")
def get_retention(principal: SettingsAdmin, session: DbSession) -> dict:
    return service.get_policy(session, principal.company_id).to_dict()


@router.put("/settings/retention", response_model=RetentionOut, summary="Set retention")
def put_retention(principal: SettingsAdmin, session: DbSession, body: RetentionIn) -> dict:
    policy = service.set_policy(
        session, principal.company_id, **body.model_dump(), changed_by=actor(principal)
    )
    session.commit()
    return policy.to_dict()


@router.delete(
    "/calls/{call_id}",
    status_code=204,
    summary="Delete an engagement: its recording, turns, Minutes and search entries",
)
def delete_call(call_id: str, principal: CallsManager, session: DbSession) -> Response:
    call = calls.get_call(session, principal, call_id)
    service.delete_engagement(session, call, deleted_by=actor(principal))
    session.commit()
    return Response(status_code=204)


@router.post(
    "/customers/{customer_id}/erase",
    response_model=ErasureOut,
    summary="Erase a customer (GDPR): all their engagements, turns, recordings, index entries",
)
def erase_customer(customer_id: str, principal: CustomerEraser, session: DbSession) -> dict:
    try:
        cid = uuid.UUID(customer_id)
    except ValueError as exc:
        raise NotFound("Customer not found.") from exc
    counts = service.erase_customer(session, principal.company_id, cid, erased_by=actor(principal))
    session.commit()
    return {"success": True, **counts}
