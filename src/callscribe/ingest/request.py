"""What every ingest source hands to `ingest.service.create_engagement`: one typed
request, whichever door the engagement came in by (upload page, add-calls, audio URL,
signed-URL v2, tus, sheets, tickets, connector imports, and the coming ZIP ingest)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callscribe.auth.principal import Principal
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.storage.staging import StagedAudio

# fixed forever: every stored PID was made with it (migration 0007 keeps a copy)
PID_NAMESPACE = uuid.UUID("5d0c3f0e-7a8b-5c1e-9f4a-2b6d8e1c0a37")


def pid_for(
    company_id: uuid.UUID, source: str, data_set: str | None, external_id: str
) -> uuid.UUID:
    """The PID of an item from outside: UUIDv5 of (company, source, data set, external
    id), so the same item sent again finds its engagement instead of adding one."""
    key = "\x1f".join((str(company_id), source, data_set or "", external_id))
    return uuid.uuid5(PID_NAMESPACE, key)


@dataclass
class AgentHints:
    """Who the agent is, as the source knows them. Tried in this order: the source's
    external id, our agent (or user) id, extension id, email, phone; `create` makes the
    agent from `name` when none matches; `required` refuses the request instead."""

    user_id: str | None = None
    extension_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    external_id: str | None = None
    is_bot: bool = False
    create: bool = False
    required: bool = False
    missing_code: str = "agent_not_found"
    missing_message: str | None = None

    def given(self) -> bool:
        return bool(
            self.user_id or self.extension_id or self.email or self.phone or self.external_id
        ) or bool(self.create and self.name)


@dataclass
class CustomerHints:
    """The other party: our customer id, else found by phone (E.164), email or name and
    created when new (crm.service.resolve_customer)."""

    customer_id: uuid.UUID | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class CrmObjects:
    """Definite CRM objects of one integration connection (signed-URL v2 `crmObjects`)."""

    connection_id: str
    objects: list[tuple[str, str]]  # (object type, object id)


# engagement columns a source may set as given (the ZIP ingest's engagements data set)
ENGAGEMENT_COLUMNS = frozenset(
    {
        "queue",
        "outcome",
        "location",
        "engaged_team",
        "engaged_department",
        "talk_s",
        "hold_s",
        "wait_s",
        "wrapup_s",
        "is_technical",
        "attributes",
        "facts",
    }
)


@dataclass
class StoredBlob:
    """A recording already in the store (a signed-URL upload PUT straight to S3): it is
    copied to its place server-side and probed through a presigned GET (ranged reads),
    never streamed through this process. `head` is its first bytes, for the format."""

    key: str
    filename: str | None
    head: bytes


@dataclass
class IngestRequest:
    company_id: uuid.UUID
    source: str  # upload | api | api-v2 | tus | sheet | tickets | <connector type>
    channel: str = "voice"
    data_set: str | None = None  # a batch within the source (ZIP ingest); part of the PID
    external_id: str | None = None
    # grouping into conversations (ingest.service.group_into_conversation): an explicit
    # conversation id (company-wide), else a thread id of this source (ticket/email)
    conversation_id: str | None = None
    thread_id: str | None = None
    direction: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None  # text engagements; audio is probed
    agent: AgentHints = field(default_factory=AgentHints)
    customer: CustomerHints = field(default_factory=CustomerHints)
    # the seed API's `order_id`. Stored and returned as `worker_id`: that is the
    # documented contract of our developer API, so the name stays.
    worker_id: str | None = None
    crm_objects: CrmObjects | None = None
    suggest_customers: bool = False  # list likely customers for a person to confirm
    audio: StagedAudio | None = None  # a staged blob: moved into the store, or discarded
    stored: StoredBlob | None = None  # or a blob already in the store (server-side copy)
    turns: list[ParsedTurn] | None = None  # a text engagement
    # the turns come later in the same batch (ZIP ingest): the engagement is stored
    # `waiting` for them, not enqueued; the batch hands it to the pipeline at its end
    turns_follow: bool = False
    # nothing to transcribe, on purpose (a missed call): stored with no audio and no turns
    no_media: bool = False
    columns: dict[str, Any] = field(default_factory=dict)  # of ENGAGEMENT_COLUMNS
    meta: dict[str, Any] = field(default_factory=dict)
    # who asks, when a person or key does (None: a connector's own import); without
    # CALLS_ATTRIBUTE_ANY the resolved agent must be the principal's own or none
    principal: Principal | None = None

    @property
    def pid(self) -> uuid.UUID | None:
        if not self.external_id:
            return None
        return pid_for(self.company_id, self.source, self.data_set, self.external_id)

    def discard(self) -> None:
        if self.audio is not None:
            self.audio.discard()
