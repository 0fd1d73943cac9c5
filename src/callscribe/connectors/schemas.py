from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callscribe.kit.schemas import OutModel

MIN_POLL_INTERVAL_S = 60
MAX_POLL_INTERVAL_S = 7 * 24 * 3600


class ConnectorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: str = Field(..., max_length=40)
    name: str | None = Field(None, max_length=200)
    base_url: str | None = Field(None, max_length=500, description="Default: the type's")
    credentials: dict[str, str] = Field(default_factory=dict)
    poll_interval_s: int = Field(900, ge=MIN_POLL_INTERVAL_S, le=MAX_POLL_INTERVAL_S)
    enabled: bool = True

    @field_validator("credentials")
    @classmethod
    def short_values(cls, v: dict[str, str]) -> dict[str, str]:
        if any(len(str(value)) > 2000 for value in v.values()):
            raise ValueError("credential values are at most 2000 characters")
        return v


class ConnectorUpdate(BaseModel):
    """Fields left out stay as they are; credentials given replace those fields only."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    base_url: str | None = Field(None, max_length=500)
    credentials: dict[str, str] | None = None
    poll_interval_s: int | None = Field(None, ge=MIN_POLL_INTERVAL_S, le=MAX_POLL_INTERVAL_S)
    enabled: bool | None = None


class ConnectionTest(BaseModel):
    """Test settings before saving them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: str = Field(..., max_length=40)
    base_url: str | None = Field(None, max_length=500)
    credentials: dict[str, str] = Field(default_factory=dict)


class CredentialFieldOut(OutModel):
    name: str
    label: str
    secret: bool
    placeholder: str
    help: str
    required: bool = True


class ConnectorTypeOut(OutModel):
    type: str
    label: str
    default_base_url: str
    base_url_help: str
    credential_fields: list[CredentialFieldOut]
    supports_webhook: bool


class WebhookInfo(BaseModel):
    url: str
    header: str  # "" when the provider's proof travels in the body or no header
    payload_template: str  # "" when the provider sends its own payload
    secret_set: bool
    uses_secret: bool = True  # False: verified with the provider's own credentials
    instructions: str


class WebhookSecretOut(BaseModel):
    success: bool = True
    url: str
    header: str
    secret: str


class ConnectorOut(OutModel):
    """Read from the connector; `type_label`, `syncing` and `webhook` come from its
    type and its lease (connectors.service.connector_view)."""

    id: uuid.UUID
    type: str
    type_label: str = ""
    name: str
    base_url: str
    credentials_hint: str | None
    enabled: bool
    poll_interval_s: int
    cursor: dict[str, Any] | None
    syncing: bool = False
    last_sync_at: datetime | None
    last_sync_status: str | None
    last_sync_error: str | None
    last_sync_imported: int | None
    created_at: datetime
    webhook: WebhookInfo | None = None


class ConnectorList(BaseModel):
    success: bool = True
    connectors: list[ConnectorOut]


class ConnectionResult(BaseModel):
    success: bool = True
    ok: bool
    message: str
    code: str | None = None


class SyncRunOut(OutModel):
    id: uuid.UUID
    connector_id: uuid.UUID
    trigger: str
    status: str
    seen: int
    imported: int
    duplicates: int
    pending: int
    failed: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class SyncRunList(BaseModel):
    success: bool = True
    runs: list[SyncRunOut]


class ProviderWebhookAccepted(BaseModel):
    success: bool = True
    status: str  # accepted | duplicate | ignored
    event_ids: list[uuid.UUID]
    reason: str | None = None  # why an ignored delivery asks for nothing


class WebhookAccepted(BaseModel):
    success: bool = True
    status: str  # accepted | duplicate
    event_id: uuid.UUID
