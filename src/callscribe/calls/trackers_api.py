"""The trackers API: /api/trackers (list, create, change, delete; writing needs
`forms.manage`) and an engagement's matches, /api/calls/{id}/trackers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from callscribe.auth.deps import CurrentPrincipal, DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls import service
from callscribe.calls import trackers as trackers_service

router = APIRouter(prefix="/api", tags=["trackers"])
TrackersManager = Annotated[Principal, Depends(require(Permission.FORMS_MANAGE))]
Role = Literal["agent", "customer", "bot", "unknown"]


class TrackerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40, description="facts.tracker_<name>")
    terms: list[str] = Field(min_length=1, max_length=trackers_service.MAX_TERMS)
    roles: list[Role] = Field(default_factory=list, description="[]: every speaker")
    mode: Literal["stem", "exact"] = "stem"
    enabled: bool = True


class TrackerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=40)
    terms: list[str] | None = Field(None, min_length=1, max_length=trackers_service.MAX_TERMS)
    roles: list[Role] | None = None
    mode: Literal["stem", "exact"] | None = None
    enabled: bool | None = None


class TrackerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    terms: list[str]
    roles: list[str]
    mode: str
    enabled: bool
    created_at: datetime


class TrackerMatchOut(BaseModel):
    tracker: str
    role: str
    term: str
    turn_seq: int
    start_ms: int


@router.get("/trackers", response_model=list[TrackerOut])
def list_trackers(principal: CurrentPrincipal, session: DbSession) -> list[TrackerOut]:
    rows = trackers_service.list_trackers(session, principal.company_id)
    return [TrackerOut.model_validate(t) for t in rows]


@router.post("/trackers", response_model=TrackerOut, status_code=201)
def create_tracker(body: TrackerIn, principal: TrackersManager, session: DbSession) -> TrackerOut:
    tracker = trackers_service.create_tracker(session, principal.company_id, **body.model_dump())
    return TrackerOut.model_validate(tracker)


@router.patch("/trackers/{tracker_id}", response_model=TrackerOut)
def update_tracker(
    tracker_id: uuid.UUID, body: TrackerPatch, principal: TrackersManager, session: DbSession
) -> TrackerOut:
    tracker = trackers_service.update_tracker(
        session, principal.company_id, tracker_id, **body.model_dump(exclude_unset=True)
    )
    return TrackerOut.model_validate(tracker)


@router.delete("/trackers/{tracker_id}", status_code=204)
def delete_tracker(
    tracker_id: uuid.UUID, principal: TrackersManager, session: DbSession
) -> Response:
    trackers_service.delete_tracker(session, principal.company_id, tracker_id)
    return Response(status_code=204)


@router.get("/calls/{call_id}/trackers", response_model=list[TrackerMatchOut])
def call_tracker_matches(
    call_id: str, principal: CurrentPrincipal, session: DbSession
) -> list[TrackerMatchOut]:
    call = service.get_call(session, principal, call_id)
    return [TrackerMatchOut(**m) for m in trackers_service.matches_of(session, call.id)]
