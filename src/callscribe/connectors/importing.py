"""Importing one provider call: fetch it, pick the best recording (both tracks mixed,
the mixed recording, or the provider's transcript) and hand it to the one ingest path.
Each import opens its own session and commits (a sync imports many)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from callscribe.calls import service as calls
from callscribe.calls.models import Direction, Engagement, Turn
from callscribe.connectors import service
from callscribe.connectors.base import (
    CallRef,
    ConnectorType,
    FetchedCall,
    ProviderError,
    download,
)
from callscribe.connectors.models import Connector
from callscribe.connectors.service import MAX_TRANSCRIPT_BYTES, mix_tracks
from callscribe.db import session_scope
from callscribe.errors import CallscribeError
from callscribe.ingest import service as ingest
from callscribe.ingest.parsers import ParsedTurn, get_parser
from callscribe.ingest.request import AgentHints, CustomerHints, IngestRequest
from callscribe.storage.staging import StagedAudio

log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    status: str  # imported | updated | duplicate | pending | failed
    call_id: uuid.UUID | None = None
    error: str | None = None


@dataclass
class ConnectorSnapshot:
    """What an import needs of the connector, read once (no session held meanwhile)."""

    id: uuid.UUID
    company_id: uuid.UUID
    type: str
    client: ConnectorType

    @classmethod
    def of(cls, connector: Connector) -> ConnectorSnapshot:
        return cls(
            connector.id, connector.company_id, connector.type, service.client_for(connector)
        )


def import_call(connector: ConnectorSnapshot, ref: CallRef) -> ImportResult:
    """Import one provider call unless it is already here. Raises ProviderError when the
    provider is unreachable (the sync fails); other problems are this call's `failed`.
    A new call is enqueued for processing when its transaction commits."""
    client = connector.client
    with session_scope() as session:
        existing = ingest.find_duplicate(
            session, connector.company_id, connector.type, ref.external_id[:200]
        )
        if existing is not None and not ref.updatable:
            return ImportResult("duplicate", existing.id)
        existing_id = existing.id if existing is not None else None
    try:
        fetched = client.fetch_call(ref)
        if not fetched.complete:
            return ImportResult("pending")
        if existing_id is not None:
            return _refresh_turns(existing_id, fetched)
        ingested = _store_call(connector, fetched)
    except ProviderError as exc:
        if exc.transient:
            raise
        return ImportResult("failed", error=client.redact(exc.message))
    except CallscribeError as exc:  # unsupported or empty recording, too large
        return ImportResult("failed", error=client.redact(exc.message))
    if ingested.duplicate:
        return ImportResult("duplicate", ingested.engagement.id)
    return ImportResult("imported", ingested.engagement.id)


def import_request(
    connector: ConnectorSnapshot,
    fetched: FetchedCall,
    staged: StagedAudio | None,
    how: str,
    turns: list[ParsedTurn] | None,
) -> IngestRequest:
    meta: dict[str, Any] = {
        "connector_id": str(connector.id),
        "connector_type": connector.type,
        "recording": how,
        **fetched.meta,
    }
    if how == "tracks":
        meta["channel_roles"] = {
            "0": fetched.track_roles.get("agent", "agent"),
            "1": fetched.track_roles.get("customer", "customer"),
        }
        if staged is not None:
            staged.filename = f"{connector.type}-{fetched.external_id}.wav"[:300]
    info = fetched.agent
    agent = (
        AgentHints(
            name=info.name,
            external_id=info.external_id or None,
            extension_id=info.extension_id,
            phone=info.phone,
            email=info.email,
            is_bot=info.is_bot,
            create=True,
        )
        if info and info.name
        else AgentHints()
    )
    return IngestRequest(
        company_id=connector.company_id,
        source=connector.type,
        channel=fetched.channel,
        thread_id=fetched.thread_id,
        columns=dict(fetched.columns),
        external_id=fetched.external_id[:200],
        direction=fetched.direction if fetched.direction in set(Direction) else None,
        started_at=fetched.started_at,
        duration_s=fetched.duration_s,
        agent=agent,
        customer=CustomerHints(
            name=(fetched.customer_name or None) and fetched.customer_name[:200],
            phone=(fetched.customer_phone or None) and fetched.customer_phone[:40],
            email=(fetched.customer_email or None) and fetched.customer_email[:320],
        ),
        audio=staged,
        turns=turns,
        no_media=fetched.no_media and staged is None and not turns,
        meta=meta,
    )


def _store_call(connector: ConnectorSnapshot, fetched: FetchedCall) -> ingest.IngestResult:
    if fetched.turns is not None or fetched.no_media:  # a chat, a ticket, a missed call
        staged, how, turns = None, ("messages" if fetched.turns else "none"), fetched.turns
    else:
        staged, how, turns = stage_recording(connector.client, fetched)
    request = import_request(connector, fetched, staged, how, turns)
    try:
        with session_scope() as session:
            return ingest.create_engagement(session, request)
    except BaseException:
        request.discard()
        raise


def _refresh_turns(engagement_id: uuid.UUID, fetched: FetchedCall) -> ImportResult:
    """An updatable item already here (a ticket with new comments): its turns brought up
    to date by position; reprocessed when any changed."""
    if not fetched.turns:
        return ImportResult("duplicate", engagement_id)
    with session_scope() as session:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None:
            return ImportResult("duplicate", engagement_id)
        stored = {
            t.seq: t
            for t in session.scalars(select(Turn).where(Turn.engagement_id == engagement_id))
        }
        changes = ingest.upsert_turns(session, engagement, list(enumerate(fetched.turns)), stored)
        columns_changed = _refresh_columns(engagement, fetched)
        if any(c != "unchanged" for c in changes):
            calls.reset_for_processing(engagement, keep_transcript=True)
            engagement.meta = {**(engagement.meta or {}), "transcript_complete": True}
            calls.request_processing(session, [engagement.id])
            return ImportResult("updated", engagement_id)
        if columns_changed:
            return ImportResult("updated", engagement_id)
    return ImportResult("duplicate", engagement_id)


def _refresh_columns(engagement: Engagement, fetched: FetchedCall) -> bool:
    """What the provider says of an updatable item besides its turns (a ticket's status,
    its group, a satisfaction rating given after it was solved): the given columns set,
    `attributes` and `facts` merged into what is there (the pipeline's facts stay), the
    provider's meta keys replaced. True when anything changed."""
    changed = False
    for column, value in fetched.columns.items():
        if column in ("attributes", "facts"):
            merged = {**(getattr(engagement, column) or {}), **(value or {})}
            if merged != (getattr(engagement, column) or {}):
                setattr(engagement, column, merged)
                changed = True
        elif getattr(engagement, column) != value:
            setattr(engagement, column, value)
            changed = True
    meta = {**(engagement.meta or {}), **fetched.meta}
    if meta != (engagement.meta or {}):
        engagement.meta = meta
        changed = True
    return changed


def stage_recording(
    client: ConnectorType, fetched: FetchedCall
) -> tuple[StagedAudio | None, str, list[ParsedTurn] | None]:
    """The best recording there is: both tracks mixed into one stereo file, else the mixed
    recording, else the provider's transcript. Raises ProviderError when none works."""
    problems: list[str] = []
    agent, customer = fetched.recording("agent"), fetched.recording("customer")
    if agent is not None and customer is not None:
        try:
            return mix_tracks(client, agent, customer), "tracks", None
        except ProviderError as exc:
            if exc.transient:
                raise
            problems.append(exc.message)
        except CallscribeError as exc:
            problems.append(f"The tracks could not be combined: {exc.message}")
    mixed = fetched.recording("mixed")
    if mixed is not None:
        staged = StagedAudio()
        try:
            download(mixed, staged, redact=client.redact)
            staged.filename = (
                mixed.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1][:300] or None
            )
            return staged, "mixed", None
        except ProviderError as exc:
            staged.discard()
            if exc.transient:
                raise
            problems.append(exc.message)
        except BaseException:
            staged.discard()
            raise
    transcript = fetched.recording("transcript")
    if transcript is not None:
        sink = _TextSink(MAX_TRANSCRIPT_BYTES)
        download(transcript, sink, redact=client.redact, max_bytes=MAX_TRANSCRIPT_BYTES)
        turns = get_parser("timestamped_lines").parse(sink.text())
        if turns:
            return None, "transcript", turns
        problems.append("The transcript has no turns.")
    detail = " ".join(problems) or "The provider has no recording or transcript for it."
    raise ProviderError(
        f"Call {fetched.external_id} could not be imported: {detail}", transient=False
    )


class _TextSink:
    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self.parts.append(chunk)

    def text(self) -> str:
        return b"".join(self.parts).decode("utf-8", errors="replace")
