"""The time-zone settings over the JSON API: the company's (admins) and the caller's own.
Times in every API answer stay UTC ISO-8601; these zones only change what pages show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from callscribe.accounts import service
from callscribe.auth.deps import CurrentPrincipal, DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.errors import BadRequest

router = APIRouter(prefix="/api", tags=["settings"])

UsersAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


class TimeZoneIn(BaseModel):
    time_zone: str | None = Field(
        None, max_length=64, description="An IANA name (zoneinfo), e.g. Europe/Berlin; null: unset"
    )


class CompanyTimeZone(BaseModel):
    time_zone: str | None = Field(description="null: UTC")


class MyTimeZone(BaseModel):
    time_zone: str | None = Field(description="The caller's own; null: the company's")
    effective_time_zone: str


@router.get("/settings/company", response_model=CompanyTimeZone)
def get_company_settings(session: DbSession, principal: UsersAdmin) -> CompanyTimeZone:
    return CompanyTimeZone(time_zone=service.company_time_zone(session, principal.company_id))


@router.put("/settings/company", response_model=CompanyTimeZone)
def put_company_settings(
    body: TimeZoneIn, session: DbSession, principal: UsersAdmin
) -> CompanyTimeZone:
    """The zone the pages show times in (users who chose none); 422 on an unknown name."""
    zone = service.set_company_time_zone(session, principal.company_id, body.time_zone)
    session.commit()
    return CompanyTimeZone(time_zone=zone)


def _user_id(principal: Principal):  # type: ignore[no-untyped-def]
    if principal.user_id is None:
        raise BadRequest("An API key or app acts for no user: sign in as the user.")
    return principal.user_id


@router.get("/me/time-zone", response_model=MyTimeZone)
def get_my_time_zone(session: DbSession, principal: CurrentPrincipal) -> MyTimeZone:
    record = service.user_record(session, _user_id(principal))
    own = record.time_zone if record else None
    company = service.company_time_zone(session, principal.company_id)
    return MyTimeZone(time_zone=own, effective_time_zone=own or company or "UTC")


@router.put("/me/time-zone", response_model=MyTimeZone)
def put_my_time_zone(
    body: TimeZoneIn, session: DbSession, principal: CurrentPrincipal
) -> MyTimeZone:
    """The caller's own zone for the pages (null: the company's); 422 on an unknown name."""
    own = service.set_user_time_zone(session, _user_id(principal), body.time_zone)
    session.commit()
    company = service.company_time_zone(session, principal.company_id)
    return MyTimeZone(time_zone=own, effective_time_zone=own or company or "UTC")
