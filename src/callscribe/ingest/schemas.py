"""Request and response shapes of the integration APIs. The recording upload (v1/v2) uses
the camelCase names integrations already send; the rest of the API is snake_case."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from callscribe.kit.schemas import InstantIn


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- add-calls and the audio URL API (the seed contract, snake_case) --------------------


class CallFields(BaseModel):
    """Optional metadata that comes with a recording (seed API fields plus a few more)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_name: str | None = Field(None, max_length=200)
    customer_phone: str | None = Field(None, max_length=40)
    user_id: str | None = Field(None, max_length=100, description="Internal agent (or user) id")
    extension_id: str | None = Field(None, max_length=100, description="External agent id")
    # stored and returned as the call's `worker_id`: that name is the documented contract
    # of our developer API
    order_id: str | None = Field(None, max_length=100, description="Stored as the call's worker_id")
    external_id: str | None = Field(
        None, max_length=200, description="Your reference; the same one again is the same call"
    )
    direction: Literal["inbound", "outbound", "internal"] | None = None
    started_at: InstantIn | None = None
    conversation_id: str | None = Field(
        None,
        max_length=200,
        description="Your conversation id: engagements sent with the same one (from any "
        "source) form one conversation",
    )

    @field_validator("*", mode="before")
    @classmethod
    def empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v


class CallFromUrl(CallFields):
    api_key: str | None = Field(None, description="Or send Authorization: Bearer <key>")
    audio_url: str = Field(..., max_length=2000)


class AddCallOut(BaseModel):
    """The answer of add-calls and the audio URL API (the seed contract)."""

    success: bool = True
    call_id: uuid.UUID
    message: str
    audio_url: str
    duration_seconds: int
    processing_time_ms: int
    duplicate: bool = False


# -- OAuth -------------------------------------------------------------------------------


class OAuthAppIn(StrictModel):
    name: str = Field(..., min_length=1, max_length=200)

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "Dialer integration"}]},
    )


class OAuthAppOut(BaseModel):
    id: uuid.UUID
    name: str
    client_id: str = Field(serialization_alias="clientId")
    created_at: datetime
    revoked_at: datetime | None


class OAuthAppCreated(OAuthAppOut):
    client_secret: str = Field(
        serialization_alias="clientSecret", description="Shown once; store it now."
    )


class OAuthTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires (16 hours).")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"access_token": "csat_3q2...", "token_type": "Bearer", "expires_in": 57600}
            ]
        }
    )


# -- three-step recording upload ---------------------------------------------------------


class SignedUrlIn(StrictModel):
    filename: str | None = Field(None, max_length=300)
    content_length: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices("contentLength", "content_length"),
        description="Bytes you will PUT; a PUT of another size is refused.",
    )
    expires_in: int = Field(
        3600,
        ge=60,
        le=7 * 24 * 3600,
        validation_alias=AliasChoices("expiresIn", "expires_in"),
        description="Lifetime of the upload URL in seconds.",
    )

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"filename": "call-1234.mp3", "contentLength": 482113}]},
    )


class SignedUrlOut(BaseModel):
    upload_url: str = Field(serialization_alias="uploadUrl")
    download_url: str = Field(serialization_alias="downloadUrl")
    method: Literal["PUT"] = "PUT"
    expires_at: datetime = Field(serialization_alias="expiresAt")


class UploadAccepted(BaseModel):
    success: bool = True
    size: int


class CrmObjectRef(StrictModel):
    object_type: str = Field(
        ...,
        min_length=1,
        max_length=60,
        validation_alias=AliasChoices("objectType", "object_type"),
        serialization_alias="objectType",
    )
    object_id: str = Field(
        ...,
        min_length=1,
        max_length=200,
        validation_alias=AliasChoices("objectId", "object_id"),
        serialization_alias="objectId",
    )


class RecordingV2In(StrictModel):
    download_url: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        validation_alias=AliasChoices("downloadUrl", "download_url"),
        description="The downloadUrl from step 1 (after the PUT of step 2).",
    )
    date_created: InstantIn = Field(
        ...,
        validation_alias=AliasChoices("dateCreated", "date_created"),
        description="When the call really took place; kept as its start.",
    )
    user_id: str | None = Field(
        None, max_length=100, validation_alias=AliasChoices("userId", "user_id")
    )
    user_email: str | None = Field(
        None, max_length=320, validation_alias=AliasChoices("userEmail", "user_email")
    )
    user_phone: str | None = Field(
        None, max_length=40, validation_alias=AliasChoices("userPhone", "user_phone")
    )
    integration_connection_id: str | None = Field(
        None,
        max_length=100,
        validation_alias=AliasChoices("integrationConnectionId", "integration_connection_id"),
    )
    crm_objects: list[CrmObjectRef] = Field(
        default_factory=list,
        max_length=50,
        validation_alias=AliasChoices("crmObjects", "crm_objects"),
    )
    customer_phone: str | None = Field(
        None, max_length=40, validation_alias=AliasChoices("customerPhone", "customer_phone")
    )
    customer_name: str | None = Field(
        None, max_length=200, validation_alias=AliasChoices("customerName", "customer_name")
    )
    external_id: str | None = Field(
        None, max_length=200, validation_alias=AliasChoices("externalId", "external_id")
    )
    direction: Literal["inbound", "outbound", "internal"] | None = None

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "downloadUrl": "https://callscribe.example.com/api/v1/recordings/uploads/"
                    "9b7c0c2e-6a55-4d0b-9b61-2f1f0d1e7a10",
                    "dateCreated": "2026-11-20T14:03:00Z",
                    "userEmail": "dana@example.com",
                    "integrationConnectionId": "hubspot-main",
                    "crmObjects": [{"objectType": "deal", "objectId": "D-1001"}],
                    "customerPhone": "+1 415 555 0134",
                    "customerName": "Crystal Minh",
                }
            ]
        },
    )


class LinkOut(BaseModel):
    id: uuid.UUID
    kind: str
    reason: str | None
    score: float | None
    customer_id: uuid.UUID | None = Field(serialization_alias="customerId")
    customer_name: str | None = Field(serialization_alias="customerName")
    connection_id: str | None = Field(None, serialization_alias="connectionId")
    object_type: str | None = Field(None, serialization_alias="objectType")
    object_id: str | None = Field(None, serialization_alias="objectId")


class RecordingV2Out(BaseModel):
    success: bool = True
    call_id: uuid.UUID = Field(serialization_alias="callId")
    status: str
    agent_id: uuid.UUID | None = Field(serialization_alias="agentId")
    duplicate: bool = False
    crm_links: list[LinkOut] = Field(serialization_alias="crmLinks")
    unknown_crm_objects: list[CrmObjectRef] = Field(serialization_alias="unknownCrmObjects")
    suggested_links: list[LinkOut] = Field(serialization_alias="suggestedLinks")


# -- tickets -----------------------------------------------------------------------------


class MessageIn(StrictModel):
    role: Literal["agent", "customer", "bot"]
    text: str = Field(..., min_length=1, max_length=100_000)
    sent_at: InstantIn | None = None
    author: str | None = Field(None, max_length=200)


class TicketAgent(StrictModel):
    id: str | None = Field(None, max_length=100, description="Our agent id or your agent id")
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=200, description="Creates the agent if unknown")


class TicketCustomer(StrictModel):
    id: uuid.UUID | None = Field(None, description="A callscribe customer id")
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)


class TicketIn(StrictModel):
    channel: Literal["chat", "email", "ticket"]
    external_id: str | None = Field(None, max_length=200, description="Same id again: same ticket")
    conversation_id: str | None = Field(
        None,
        max_length=200,
        description="Your conversation id: engagements sent with the same one (from any "
        "source) form one conversation",
    )
    thread_id: str | None = Field(
        None,
        max_length=200,
        description="The ticket or email thread: messages of one thread sent as several "
        "tickets form one conversation",
    )
    subject: str | None = Field(None, max_length=300)
    direction: Literal["inbound", "outbound", "internal"] | None = None
    agent: TicketAgent | None = None
    customer: TicketCustomer | None = None
    messages: list[MessageIn] = Field(..., min_length=1, max_length=5000)

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "channel": "chat",
                    "external_id": "chat-3592",
                    "agent": {"email": "dana@example.com", "name": "Dana"},
                    "customer": {"name": "Crystal Minh", "email": "cminh730@email.com"},
                    "messages": [
                        {
                            "role": "customer",
                            "text": "I need to return an item.",
                            "sent_at": "2026-11-20T14:03:00Z",
                        },
                        {
                            "role": "agent",
                            "text": "Sure, may I have your order ID?",
                            "sent_at": "2026-11-20T14:03:40Z",
                        },
                    ],
                }
            ]
        },
    )


class TicketOut(BaseModel):
    success: bool = True
    call_id: uuid.UUID
    channel: str
    status: str
    turns: int
    customer_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    duplicate: bool = False


# -- sheets ------------------------------------------------------------------------------

SHEET_TARGETS = (
    "audio_url",
    "text",
    "external_id",
    "customer_name",
    "customer_phone",
    "customer_email",
    "agent_email",
    "agent_id",
    "started_at",
    "direction",
    "channel",
    "subject",
    "conversation_id",
    "thread_id",
)


class SheetIn(StrictModel):
    name: str | None = Field(None, max_length=200)
    mapping: dict[str, str] = Field(
        ...,
        description="Our field -> your column name. Needs `audio_url` or `text`. Fields: "
        + ", ".join(SHEET_TARGETS),
    )
    default_channel: Literal["chat", "email", "ticket"] = Field(
        "ticket", description="Channel of text rows without a `channel` column"
    )

    @field_validator("mapping")
    @classmethod
    def known_targets(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in v if k not in SHEET_TARGETS]
        if unknown:
            raise ValueError(f"unknown fields {unknown}; use {list(SHEET_TARGETS)}")
        if "audio_url" not in v and "text" not in v:
            raise ValueError("map a column to audio_url or to text")
        for column in v.values():
            if not column or len(column) > 200:
                raise ValueError("column names are 1-200 characters")
        return v

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "November calls",
                    "mapping": {
                        "audio_url": "Recording",
                        "text": "Transcript",
                        "external_id": "Call ID",
                        "customer_name": "Customer",
                        "agent_email": "Rep",
                    },
                }
            ]
        },
    )


class SheetRowError(BaseModel):
    row: int
    error: str


class SheetOut(BaseModel):
    success: bool = True
    id: uuid.UUID
    name: str | None
    status: str
    mapping: dict[str, str]
    total_rows: int
    processed_rows: int
    failed_rows: int
    progress: float
    created_at: datetime
    finalized_at: datetime | None
    completed_at: datetime | None
    call_ids: list[uuid.UUID]
    errors: list[SheetRowError]


class SheetRowsAccepted(BaseModel):
    success: bool = True
    accepted: int
    total_rows: int


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
