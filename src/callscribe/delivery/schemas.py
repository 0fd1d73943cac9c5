"""Request and response shapes of automations, deliveries and SMTP settings. Secrets
go in; only hints (host and last 4 characters, "set") come out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, model_validator

from callscribe.delivery.models import DeliveryStatus
from callscribe.kit.schemas import OutModel

Kind = Literal["slack", "webhook", "email"]
Direction = Literal["inbound", "outbound"]


EventName = Literal["call.completed", "tracker.matched"]  # delivery.service.SUBSCRIBABLE


class AutomationIn(BaseModel):
    kind: Kind
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    url: str | None = Field(None, max_length=2000, description="Slack or webhook URL")
    method: Literal["POST", "PUT"] = "POST"
    timeout_s: float = Field(10, ge=1, le=10, description="webhook timeout, 1-10 s")
    secret: str | None = Field(None, max_length=500, description="optional signing secret")
    recipients: list[str] = Field(default_factory=list, description="fixed email addresses")
    send_to_agent: bool = True
    include_internal: bool = False
    agent_id: uuid.UUID | None = None
    direction: Direction | None = None
    events: list[EventName] = Field(
        default_factory=lambda: list[EventName](["call.completed"]),
        description="outbox events it delivers",
    )


class AutomationPatch(BaseModel):
    """Only the fields sent change. A URL or secret is replaced only when given;
    `secret: ""` removes the signing secret."""

    name: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool | None = None
    url: str | None = Field(None, max_length=2000)
    method: Literal["POST", "PUT"] | None = None
    timeout_s: float | None = Field(None, ge=1, le=10)
    secret: str | None = Field(None, max_length=500)
    recipients: list[str] | None = None
    send_to_agent: bool | None = None
    include_internal: bool | None = None
    agent_id: uuid.UUID | None = None
    direction: Direction | None = None
    events: list[EventName] | None = None


class AttemptOut(OutModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    ok: bool
    http_status: int | None
    smtp_reply: str | None
    response: str | None
    error: str | None
    retry_in_s: float | None


class DeliveryOut(OutModel):
    id: uuid.UUID
    automation_id: uuid.UUID
    call_id: uuid.UUID | None = Field(validation_alias=AliasChoices("engagement_id", "call_id"))
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    attempt_log: list[AttemptOut] = []

    @model_validator(mode="after")
    def next_attempt_only_when_retrying(self) -> DeliveryOut:
        if self.status != DeliveryStatus.RETRYING:
            self.next_attempt_at = None
        return self


class DeliveryPage(BaseModel):
    total: int
    page: int
    page_size: int
    deliveries: list[DeliveryOut]


class AutomationOut(OutModel):
    id: uuid.UUID
    kind: str
    name: str
    enabled: bool
    target: str | None = Field(
        None,
        description="host and last 4 characters of the URL",
        validation_alias=AliasChoices("target_hint", "target"),
    )
    method: str | None = None
    timeout_s: float | None = None
    secret_set: bool = False
    secret_last4: str | None = None
    recipients: list[str] = []
    send_to_agent: bool | None = None
    include_internal: bool
    agent_id: uuid.UUID | None
    direction: str | None
    events: list[str] = ["call.completed"]
    consecutive_failures: int
    disabled_reason: str | None
    last_delivery: DeliveryOut | None = None
    created_at: datetime
    standard_webhooks_secret: str | None = Field(
        None, description="shown once, when created or when the secret changes"
    )


class SmtpSettingsIn(BaseModel):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535)
    tls_mode: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = Field(None, max_length=320)
    password: str | None = Field(None, max_length=500, description="kept when omitted")
    from_address: str = Field(min_length=3, max_length=320)


class SmtpSettingsOut(OutModel):
    configured: bool
    host: str | None = None
    port: int | None = None
    tls_mode: str | None = None
    username: str | None = None
    password_set: bool = False
    from_address: str | None = None


class PrivateTargets(BaseModel):
    """Private hosts, IPs or CIDRs webhook and Slack deliveries may reach (e.g.
    "10.20.0.0/16", "127.0.0.1", "crm.internal"). Link-local and metadata addresses
    (169.254.0.0/16, fd00:ec2::254, ...) are refused even when listed."""

    hosts: list[str] = Field(default_factory=list, max_length=50)
