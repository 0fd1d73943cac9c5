"""What the help-desk connectors (Zendesk, Freshdesk) share: a ticket and its messages
as one text engagement on the `ticket` channel.

- Public messages are the turns, oldest first: the requester's (and other end users')
  as `customer`, agents' as `agent`. A ticket is one engagement, refreshed when it
  changes (CallRef.updatable), and its own thread (thread_id = the ticket id).
- Internal notes are not turns: the customer never saw them, and what reads turns
  (response times, talk share, summaries, QA reviews, the journey) reads them as what
  was said between the agent and the customer. They are kept apart in
  `meta["internal_notes"]` (author, time, text masked of PII at once, as meta is shown
  as stored) and counted in the fact `internal_notes`.
- The satisfaction rating is the fact `csat` (a number) and the attribute `csat` (the
  provider's word for it); status, priority, type and tags are attributes; the group is
  the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from callscribe.connectors.base import AgentInfo, FetchedCall, ProviderError, origin
from callscribe.ingest.parsers.json_messages import JsonMessagesParser
from callscribe.privacy.masking import mask_texts

ATTRIBUTE_MAX = 100  # engagement attributes are texts of at most 100 characters
MAX_NOTES = 50  # internal notes kept in meta, the latest first out
NOTE_MAX_CHARS = 2000


@dataclass
class TicketMessage:
    role: str  # agent | customer
    text: str
    author: str | None
    sent_at: datetime | None
    internal: bool = False


@dataclass
class TicketPerson:
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time of the provider ("2026-01-01T10:00:00Z"), aware UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def attribute(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return str(value)[:ATTRIBUTE_MAX]


def same_origin_path(url: str, base_url: str) -> str:
    """A next-page URL the provider gave, as a path on our base URL: credentials only
    ever go to the configured origin, whatever the body says."""
    if not url.startswith("http"):
        return url
    if origin(url) != origin(base_url):
        parts = urlsplit(url)
        raise ProviderError(
            f"The provider's next page points elsewhere ({parts.hostname}); not followed.",
            transient=False,
        )
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ticket_call(
    *,
    provider: str,
    ticket_id: str,
    messages: Sequence[TicketMessage],
    created_at: datetime | None,
    requester: TicketPerson | None,
    assignee: AgentInfo | None,
    queue: str | None,
    attributes: dict[str, Any],
    facts: dict[str, float],
    meta: dict[str, Any],
) -> FetchedCall:
    """The FetchedCall of one ticket. ProviderError (not transient) when it has no
    public message with text yet (nothing to analyse)."""
    ordered = sorted(
        (m for m in messages if m.text.strip()),
        key=lambda m: m.sent_at or datetime.min.replace(tzinfo=UTC),
    )
    public = [m for m in ordered if not m.internal]
    notes = [m for m in ordered if m.internal]
    if not public:
        raise ProviderError(
            f"{provider} ticket {ticket_id} has no public message yet; it is imported once "
            "it has one.",
            transient=False,
        )
    turns = JsonMessagesParser().from_messages(
        [
            {
                "role": m.role,
                "text": m.text.strip(),
                "author": m.author,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in public
        ]
    )
    times = [m.sent_at for m in public if m.sent_at is not None]
    duration = (max(times) - min(times)).total_seconds() if times else None
    kept_notes = notes[-MAX_NOTES:]
    masked = mask_texts([m.text.strip()[:NOTE_MAX_CHARS] for m in kept_notes])
    note_meta = [
        {"author": m.author, "at": iso(m.sent_at) if m.sent_at else None, "text": text}
        for m, text in zip(kept_notes, masked, strict=True)
    ]
    clean_attributes = {k: a for k, v in attributes.items() if (a := attribute(v)) is not None}
    all_facts = {**facts, "internal_notes": float(len(notes))}
    return FetchedCall(
        external_id=ticket_id,
        channel="ticket",
        direction="inbound" if public[0].role == "customer" else "outbound",
        agent=assignee,
        customer_name=requester.name if requester else None,
        customer_email=requester.email if requester else None,
        customer_phone=requester.phone if requester else None,
        started_at=created_at or (min(times) if times else None),
        duration_s=duration,
        turns=turns,
        thread_id=ticket_id,
        columns={
            **({"queue": queue[:100]} if queue else {}),
            "attributes": clean_attributes,
            "facts": all_facts,
        },
        meta={**meta, **({"internal_notes": note_meta} if note_meta else {})},
    )
