"""Ingestion: the one path every source takes (`create_engagement` over an
`IngestRequest`), and the sources: add-calls and audio URLs, the three-step signed-URL
upload, tickets (text conversations), tus resumable uploads and sheets. No HTTP here;
the boundary owns the transaction, processing is enqueued after it commits."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.auth.permissions import Role
from callscribe.auth.principal import Principal, check_attribution
from callscribe.calls import service as calls
from callscribe.calls.models import (
    Channel,
    Conversation,
    ConversationKind,
    Engagement,
    EngagementStatus,
    Timing,
    Turn,
)
from callscribe.crm import service as crm
from callscribe.crm.models import Customer
from callscribe.db import after_commit, after_rollback, utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from callscribe.ingest.models import RecordingUpload, SheetJob, SheetRow, TusUpload
from callscribe.ingest.parsers import get_parser
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.ingest.parsers.json_messages import JsonMessagesParser, message_span
from callscribe.ingest.request import (
    ENGAGEMENT_COLUMNS,
    AgentHints,
    CrmObjects,
    CustomerHints,
    IngestRequest,
    StoredBlob,
    pid_for,
)
from callscribe.ingest.schemas import CallFields
from callscribe.kit.schemas import as_utc, parse_instant
from callscribe.privacy.detectors import KnownIdentity, detect_turns
from callscribe.privacy.masking import mask_text, spans_to_json
from callscribe.security import http
from callscribe.security.crypto import sign, verify_signature
from callscribe.settings import get_settings
from callscribe.storage import Capability, get_store, new_audio_key
from callscribe.storage.staging import StagedAudio, copy_into_stage

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/recordings/uploads"


# -- the one ingest path -----------------------------------------------------------------

SUPPORTED_FORMATS = ("mp3", "wav", "m4a", "webm", "mp4", "ogg", "flac", "aac")
CHUNK = 1024 * 1024


@dataclass
class IngestResult:
    engagement: Engagement
    duplicate: bool
    agent: Agent | None = None
    definite: list[Any] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    suggested: list[crm.Suggestion] = field(default_factory=list)


def find_by_pid(session: Session, company_id: uuid.UUID, pid: uuid.UUID) -> Engagement | None:
    return session.scalars(
        select(Engagement).where(Engagement.company_id == company_id, Engagement.pid == pid)
    ).first()


def find_duplicate(
    session: Session,
    company_id: uuid.UUID,
    source: str,
    external_id: str | None,
    data_set: str | None = None,
) -> Engagement | None:
    """The engagement this item became when it was sent before (by its PID)."""
    if not external_id:
        return None
    return find_by_pid(session, company_id, pid_for(company_id, source, data_set, external_id))


def download_to_stage(url: str, staged: StagedAudio) -> None:
    """Fetch an audio URL through the SSRF guard, enforcing the size limit while streaming."""
    with http.stream_get(url) as response:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > staged.max_bytes:
            raise PayloadTooLarge(
                f"The audio at the URL is {int(declared) // (1024 * 1024)} MB, over the "
                f"{staged.max_bytes // (1024 * 1024)} MB limit."
            )
        try:
            for chunk in response.iter_bytes(CHUNK):
                staged.write(chunk)
        except CallscribeError:
            raise
        except Exception as exc:  # httpx read timeouts, dropped connections
            raise http.OutboundUnreachable(f"The download of the audio URL failed: {exc}.") from exc
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    staged.filename = name[:300] or None


def _audio_format(staged: StagedAudio) -> str:
    from callscribe.speech.service import sniff_audio_format

    staged.close()
    if staged.size == 0:
        raise BadRequest("The recording is empty.", code="empty_file")
    fmt = sniff_audio_format(staged.head())
    if fmt is None or fmt not in SUPPORTED_FORMATS:
        raise UnsupportedMediaType(
            "This file is not a supported recording. Upload MP3, WAV, M4A, WebM, MP4, "
            "OGG, FLAC or AAC."
        )
    return fmt


def _stored_format(stored: StoredBlob) -> str:
    from callscribe.speech.service import sniff_audio_format

    if not stored.head:
        raise BadRequest("The recording is empty.", code="empty_file")
    fmt = sniff_audio_format(stored.head)
    if fmt is None or fmt not in SUPPORTED_FORMATS:
        raise UnsupportedMediaType(
            "This file is not a supported recording. Upload MP3, WAV, M4A, WebM, MP4, "
            "OGG, FLAC or AAC."
        )
    return fmt


STORED_PROBE_URL_S = 300  # the presigned GET the probe reads through lives this long


def _probe_stored(stored: StoredBlob) -> tuple[float, int | None]:
    """Duration and channels of a blob in the store, read by the decoder through a
    presigned GET: it asks for the byte ranges it needs (a header, a seek to the end),
    not the whole file."""
    from callscribe.speech.service import probe_audio

    url = get_store().presign_get(stored.key, int(time.time()) + STORED_PROBE_URL_S)
    try:
        info = probe_audio(url)
    except CallscribeError:
        return 0.0, None  # as _probe: kept, and processing says what is wrong
    return info.duration_s, info.channels


def server_side_ingest() -> bool:
    """The store copies and presigns: a blob already there is never streamed through us."""
    caps = get_store().capabilities
    return {Capability.SERVER_SIDE_COPY, Capability.PRESIGNED_GET, Capability.RANGED_OPEN} <= caps


STORED_HEAD_BYTES = 64 * 1024


def stored_blob(key: str, filename: str | None) -> StoredBlob:
    head = b"".join(get_store().open_range(key, 0, STORED_HEAD_BYTES))
    return StoredBlob(key=key, filename=filename, head=head)


def _probe(staged: StagedAudio) -> tuple[float, int | None]:
    from callscribe.speech.service import probe_audio

    try:
        info = probe_audio(staged.path)
    except CallscribeError:
        # Recognised by its header but not decodable: keep it, and let processing fail
        # with a readable error the user can see and retry.
        return 0.0, None
    return info.duration_s, info.channels


def resolve_agent(
    session: Session, company_id: uuid.UUID, hints: AgentHints, source: str
) -> Agent | None:
    """The one way an ingest source's agent is found: the source's external id, our agent
    (or user) id, the extension id, the email (any case), the phone (as given or E.164);
    created from the name when `create`; refused when `required` and none matches."""
    found: Agent | None = None
    if hints.external_id:
        found = session.scalars(
            select(Agent).where(
                Agent.company_id == company_id,
                Agent.source == source,
                Agent.external_id == hints.external_id,
            )
        ).first()
        if found is not None and hints.create and hints.name:
            found = _upsert_agent(session, company_id, hints, source)
    if found is None and hints.user_id:
        found = accounts.find_agent(
            session, company_id, agent_id=hints.user_id
        ) or accounts.find_agent(session, company_id, extension_id=hints.user_id)
    if found is None and hints.extension_id:
        found = accounts.find_agent(session, company_id, extension_id=hints.extension_id)
    if found is None and hints.email:
        found = session.scalars(
            select(Agent).where(
                Agent.company_id == company_id,
                func.lower(Agent.email) == hints.email.strip().lower(),
            )
        ).first()  # agents stored with mixed-case emails
    if found is None and hints.phone:
        found = accounts.find_agent(session, company_id, phone=hints.phone)
        wanted = crm.try_normalize_phone(hints.phone) if found is None else None
        if wanted:
            for candidate in session.scalars(
                select(Agent).where(Agent.company_id == company_id, Agent.phone.is_not(None))
            ):
                if crm.try_normalize_phone(candidate.phone) == wanted:
                    found = candidate
                    break
    if found is None and hints.create and hints.name:
        found = _upsert_agent(session, company_id, hints, source)
    if found is None and hints.required:
        given = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("id", hints.user_id or hints.external_id),
                ("extension", hints.extension_id),
                ("email", hints.email),
                ("phone", hints.phone),
            )
            if v
        )
        raise ValidationFailed(
            hints.missing_message or f"No agent matches {given or 'nothing given'}.",
            code=hints.missing_code,
        )
    return found


def _upsert_agent(session: Session, company_id: uuid.UUID, hints: AgentHints, source: str) -> Agent:
    assert hints.name

    def upsert() -> Agent:
        agent = accounts.upsert_agent(
            session,
            company_id,
            name=hints.name or "",
            source=source,
            external_id=hints.external_id or hints.user_id or hints.email or None,
            extension_id=hints.extension_id,
            email=hints.email.strip().lower() if hints.email else None,
            phone=hints.phone,
        )
        if hints.is_bot and not agent.is_bot:
            agent.is_bot = True
            session.flush()
        return agent

    try:
        with session.begin_nested():
            return upsert()
    except IntegrityError:  # a concurrent import created the same agent
        return upsert()


def _link_meta(session: Session, link: Any) -> dict[str, Any]:
    customer = session.get(Customer, link.customer_id) if link.customer_id else None
    return {
        "linkId": str(link.id),
        "customerId": str(link.customer_id) if link.customer_id else None,
        "customerName": customer.name if customer else None,
        "reason": link.reason,
        "score": link.score,
    }


def _enqueue_after_commit(session: Session, engagement_id: uuid.UUID) -> None:
    # enqueued_at is set with the insert: the sweep tells a lost job from a queued one
    calls.request_processing(session, [engagement_id], mark=False)


def create_engagement(session: Session, request: IngestRequest) -> IngestResult:
    """Every ingest source ends here. Dedupe by PID (the same item again: the existing
    engagement, `duplicate`), check and store the blob, probe it, resolve the agent and
    the customer, link CRM objects, add the turns of a text engagement, and enqueue the
    processing once the boundary commits. Nothing is written when a check fails; the
    staged blob is moved into the store or discarded, never left behind."""
    company_id = request.company_id
    staged, stored = request.audio, request.stored
    has_audio = staged is not None or stored is not None
    try:
        fmt = (
            _audio_format(staged)
            if staged is not None
            else _stored_format(stored)
            if stored is not None
            else None
        )
        if (
            not has_audio
            and not request.turns
            and not request.turns_follow
            and not request.no_media
        ):
            raise BadRequest("The transcript has no turns.", code="empty_transcript")
        unknown_columns = set(request.columns) - ENGAGEMENT_COLUMNS
        if unknown_columns:  # a programming error of a source, not the user's input
            raise ValueError(f"not engagement columns: {sorted(unknown_columns)}")
        pid = request.pid
        if pid is not None:
            existing = find_by_pid(session, company_id, pid)
            if existing is not None:
                request.discard()
                return _duplicate(session, existing)
        agent = resolve_agent(session, company_id, request.agent, request.source)
        if request.principal is not None:  # before anything of it is stored
            check_attribution(request.principal, agent.id if agent else None)
        definite: list[Any] = []
        unknown: list[tuple[str, str]] = []
        suggested: list[crm.Suggestion] = []
        if request.crm_objects is not None:
            definite, unknown = crm.find_crm_objects(
                session, company_id, request.crm_objects.connection_id, request.crm_objects.objects
            )
        elif request.suggest_customers:
            suggested = crm.suggest_customers(
                session, company_id, request.customer.phone, request.customer.name
            )
        hints = request.customer
        customer_name = accounts.trim_attribute(session, company_id, "customer_name", hints.name)
        if hints.customer_id:  # ours: refused before anything is written when unknown
            crm.get_customer(session, company_id, hints.customer_id)
        meta = dict(request.meta)
        duration, channels = (
            _probe(staged)
            if staged is not None
            else _probe_stored(stored)
            if stored is not None
            else (None, None)
        )
        engagement = Engagement(
            id=uuid.uuid4(),
            company_id=company_id,
            pid=pid,
            channel=request.channel,
            source=request.source,
            external_id=request.external_id,
            direction=request.direction,
            agent_id=agent.id if agent else None,
            customer_id=definite[0].customer_id if definite else None,
            customer_name=customer_name,
            customer_phone=hints.phone,
            worker_id=request.worker_id,
            started_at=request.started_at,
            duration_s=duration if has_audio else request.duration_s,
            status=EngagementStatus.RECEIVED,
            enqueued_at=utcnow(),  # enqueued right after the commit
            meta=meta if has_audio else {**meta, "transcript_complete": True},
        )
        for column, value in request.columns.items():
            setattr(engagement, column, value)
        waits = not has_audio and not request.turns and request.turns_follow
        if waits:
            engagement.status = EngagementStatus.WAITING
            engagement.status_reason = "Waiting for its turns."
            engagement.enqueued_at = None
        if has_audio:
            assert fmt is not None
            engagement.audio_format = fmt
            source_blob = staged if staged is not None else stored
            engagement.audio_filename = source_blob.filename if source_blob else None
            engagement.audio_channels = channels
            engagement.audio_key = new_audio_key(company_id, engagement.id, fmt)
        existing = _insert_or_existing(session, engagement, request, customer_name, agent)
        if existing is not None:  # a concurrent request with the same PID won the race
            request.discard()
            return _duplicate(session, existing)
        group_into_conversation(session, engagement, request)
        if has_audio:
            assert engagement.audio_key
            engagement.audio_size = (
                get_store().put_file(engagement.audio_key, staged.path)
                if staged is not None
                else get_store().copy(stored.key, engagement.audio_key)  # type: ignore[union-attr]
            )
            # a rollback from here on (a later check, a failed commit) leaves no orphan
            after_rollback(session, partial(get_store().delete, engagement.audio_key))
        links = []
        if definite or suggested:
            links = crm.link_engagement(
                session, company_id, engagement.id, definite=definite, suggested=suggested
            )
        if request.crm_objects is not None or request.suggest_customers:
            engagement.meta = {
                **engagement.meta,
                "crm_links": [_link_meta(session, ln) for ln in links if ln.kind == "definite"],
                "crm_suggestions": [
                    _link_meta(session, ln) for ln in links if ln.kind == "suggested"
                ],
                **(
                    {"unknown_crm_objects": [{"objectType": t, "objectId": i} for t, i in unknown]}
                    if unknown
                    else {}
                ),
            }
        session.flush()
    except BaseException:
        request.discard()
        raise
    if not waits:
        _enqueue_after_commit(session, engagement.id)
    return IngestResult(engagement, False, agent, definite, unknown, suggested)


# -- conversations -----------------------------------------------------------------------


def _engagement_span(engagement: Engagement) -> tuple[datetime, datetime]:
    start = engagement.started_at or engagement.created_at or utcnow()
    return start, start + timedelta(seconds=engagement.duration_s or 0)


def group_into_conversation(
    session: Session, engagement: Engagement, request: IngestRequest
) -> Conversation:
    """Put a new engagement into its conversation, in this order: the `conversation_id`
    the source gave (company-wide: the same id from any source is one conversation), the
    source's thread id (tickets and emails of one thread), else the latest window
    conversation of the same customer and source whose last engagement ended at most
    the company's `conversation_window_min` before this one started (or starts within
    the window after it: a transfer or callback sent out of order); else a new one."""
    company_id = request.company_id
    start, end = _engagement_span(engagement)
    conversation: Conversation | None = None
    if request.conversation_id:
        conversation = _conversation_by_pid(
            session,
            engagement,
            pid_for(company_id, "conversation", None, request.conversation_id),
            ConversationKind.EXPLICIT,
            request.conversation_id,
        )
    elif request.thread_id:
        conversation = _conversation_by_pid(
            session,
            engagement,
            pid_for(company_id, request.source, "thread", request.thread_id),
            ConversationKind.THREAD,
            request.thread_id,
        )
    elif engagement.customer_id is not None:
        window = timedelta(
            minutes=accounts.get_company_settings(session, company_id).conversation_window_min
        )
        conversation = session.scalars(
            select(Conversation)
            .where(
                Conversation.company_id == company_id,
                Conversation.customer_id == engagement.customer_id,
                Conversation.source == engagement.source,
                Conversation.kind == ConversationKind.WINDOW,
                Conversation.last_at >= _shifted(start, -window),
                Conversation.started_at <= _shifted(end, window),
            )
            .order_by(Conversation.last_at.desc())
            .limit(1)
        ).first()
    if conversation is None:
        conversation = Conversation(
            company_id=company_id,
            pid=pid_for(company_id, engagement.source, "conversation", str(engagement.pid))
            if engagement.pid is not None
            else None,
            kind=ConversationKind.WINDOW,
            customer_id=engagement.customer_id,
            source=engagement.source,
            channels=[],
        )
        session.add(conversation)
        session.flush()
    _join(conversation, engagement, start, end)
    session.flush()
    return conversation


def _shifted(moment: datetime, by: timedelta) -> datetime:
    """`moment + by`, held at the ends of the calendar (a chat sent at 0001-01-01 is
    valid input; its window must not overflow)."""
    try:
        return moment + by
    except OverflowError:
        return (datetime.min if by < timedelta(0) else datetime.max).replace(tzinfo=UTC)


def _conversation_by_pid(
    session: Session,
    engagement: Engagement,
    pid: uuid.UUID,
    kind: ConversationKind,
    external_id: str,
) -> Conversation:
    def find() -> Conversation | None:
        return session.scalars(
            select(Conversation).where(
                Conversation.company_id == engagement.company_id, Conversation.pid == pid
            )
        ).first()

    found = find()
    if found is not None:
        return found
    conversation = Conversation(
        company_id=engagement.company_id,
        pid=pid,
        kind=kind,
        external_id=external_id[:200],
        customer_id=engagement.customer_id,
        source=engagement.source,
        channels=[],
    )
    try:
        with session.begin_nested():
            session.add(conversation)
            session.flush()
    except IntegrityError:  # a concurrent ingest made the same conversation
        found = find()
        if found is None:
            raise
        return found
    return conversation


def _join(
    conversation: Conversation, engagement: Engagement, start: datetime, end: datetime
) -> None:
    engagement.conversation_id = conversation.id
    # SQLite hands stored times back naive, a request's are aware: compare both in UTC
    start, end = as_utc(start), as_utc(end)
    if conversation.started_at is None or start < as_utc(conversation.started_at):
        conversation.started_at = start
        conversation.direction = engagement.direction
    if conversation.last_at is None or end > as_utc(conversation.last_at):
        conversation.last_at = end
    if conversation.customer_id is None:
        conversation.customer_id = engagement.customer_id
    if engagement.channel not in (conversation.channels or []):
        conversation.channels = sorted({*(conversation.channels or []), engagement.channel})


def _resolve_customer(
    session: Session, request: IngestRequest, name: str | None
) -> uuid.UUID | None:
    hints = request.customer
    try:
        with session.begin_nested():
            return crm.resolve_customer(
                session,
                request.company_id,
                customer_id=hints.customer_id,
                name=name,
                phone=hints.phone,
                email=hints.email,
            )
    except CallscribeError as exc:
        log.info("engagement not linked to a customer: %s", exc.message)
        return None


def _duplicate(session: Session, existing: Engagement) -> IngestResult:
    agent = session.get(Agent, existing.agent_id) if existing.agent_id else None
    return IngestResult(existing, True, agent)


def _insert_or_existing(
    session: Session,
    engagement: Engagement,
    request: IngestRequest,
    customer_name: str | None,
    agent: Agent | None,
) -> Engagement | None:
    """Insert the engagement with its customer and turns; if another request inserted the
    same PID first, that engagement instead (the unique constraint decides the race).

    All in one savepoint: a request that loses the race writes nothing (no customer
    either)."""
    _begin_write(session)
    try:
        with session.begin_nested():
            session.add(engagement)
            session.flush()
            if engagement.customer_id is None:
                engagement.customer_id = _resolve_customer(session, request, customer_name)
            if request.turns:
                _add_turns(session, engagement, request, agent)
            session.flush()
    except IntegrityError:
        if engagement.pid is None:
            raise
        if engagement in session:
            session.expunge(engagement)
        existing = find_by_pid(session, engagement.company_id, engagement.pid)
        if existing is None:
            raise
        return existing
    return None


def _begin_write(session: Session) -> None:
    """On SQLite, open the transaction as a write transaction before the savepoint.
    pysqlite only begins a transaction before INSERT/UPDATE/DELETE, so a SAVEPOINT sent
    first would open the transaction itself, and releasing it would commit the insert
    whatever the boundary decides later (a failed commit would not undo it). BEGIN
    IMMEDIATE also takes the write lock up front: the reads inside the savepoint cannot
    go stale, which SQLite answers with "database is locked" at once."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:  # type: ignore[attr-defined]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _add_turns(
    session: Session, engagement: Engagement, request: IngestRequest, agent: Agent | None
) -> None:
    # PII spans are stored with each turn (read-time masking). A company that redacts
    # (PCI) stores text engagements masked at once; a voice call keeps its words until
    # the pipeline's Redact step has silenced them in the audio too.
    redact = bool(accounts.get_company_settings(session, request.company_id).redact_pii)
    redact = redact and engagement.channel != Channel.VOICE
    texts = [turn.text for turn in request.turns or []]
    found = detect_turns(texts, _known_identity(session, engagement), strict=redact)
    timed = all(turn.timed for turn in request.turns or [])
    engagement.meta = {**(engagement.meta or {}), "timing": Timing.REAL if timed else Timing.NONE}
    for seq, turn in enumerate(request.turns or []):
        speaker = turn.speaker
        if speaker is None and engagement.channel != Channel.VOICE:
            # messages say who wrote them; a thread without authors is the agent's and
            # the customer's by name
            if turn.role == "agent" and agent is not None:
                speaker = agent.name
            elif turn.role == "customer":
                speaker = engagement.customer_name
        session.add(
            Turn(
                company_id=request.company_id,
                engagement_id=engagement.id,
                seq=seq,
                role=turn.role,
                speaker=(speaker or None) and speaker[:200],
                channel=None,
                start_ms=turn.start_ms,
                end_ms=turn.end_ms,
                text=mask_text(turn.text, found[seq]) if redact else turn.text,
                pii_spans=[] if redact else spans_to_json(found[seq]),
            )
        )


def _known_identity(session: Session, engagement: Engagement) -> KnownIdentity:
    customer = session.get(Customer, engagement.customer_id) if engagement.customer_id else None
    phones = [engagement.customer_phone] if engagement.customer_phone else []
    return KnownIdentity(
        name=engagement.customer_name or (customer.name if customer else None),
        phones=tuple(phones + list(customer.phones if customer else [])),
        emails=tuple(customer.emails if customer else []),
    )


def upsert_turns(
    session: Session,
    engagement: Engagement,
    turns: list[tuple[int, ParsedTurn]],
    existing: dict[int, Turn],
    *,
    redacts: bool | None = None,
) -> list[str]:
    """Turns of a text engagement sent by position (`seq`), possibly over several requests
    (the ZIP ingest's turns data set): each is created, updated or left unchanged, with
    its PII spans found the same way as `_add_turns` (masked at once for a company that
    redacts). `existing` holds the engagement's stored turns at those positions. Returns
    "created" | "updated" | "unchanged" per turn."""
    if redacts is None:  # the company's setting (a caller of many engagements passes it)
        redacts = bool(accounts.get_company_settings(session, engagement.company_id).redact_pii)
    redact = redacts and engagement.channel != Channel.VOICE
    found = detect_turns(
        [t.text for _, t in turns], _known_identity(session, engagement), strict=redact
    )
    out: list[str] = []
    new_rows: list[dict[str, Any]] = []
    for (seq, turn), spans in zip(turns, found, strict=True):
        values = {
            "role": turn.role,
            "speaker": (turn.speaker or None) and turn.speaker[:200],
            "start_ms": turn.start_ms,
            "end_ms": turn.end_ms,
            "text": mask_text(turn.text, spans) if redact else turn.text,
            "pii_spans": [] if redact else spans_to_json(spans),
        }
        row = existing.get(seq)
        if row is None:
            new_rows.append(
                {
                    "company_id": engagement.company_id,
                    "engagement_id": engagement.id,
                    "seq": seq,
                    "channel": None,
                    **values,
                }
            )
            out.append("created")
            continue
        changed = False
        for key, value in values.items():
            if key != "pii_spans" and getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
        if changed:
            row.pii_spans = values["pii_spans"]  # type: ignore[assignment]
        out.append("updated" if changed else "unchanged")
    if new_rows:  # one multi-row INSERT (a batch brings thousands of turns)
        session.execute(insert(Turn), new_rows)
    return out


def fields_request(
    principal: Principal,
    fields: CallFields,
    *,
    source: str,
    audio: StagedAudio | None = None,
    meta: dict[str, Any] | None = None,
) -> IngestRequest:
    """The request of the seed API's fields (add-calls, audio URL, tus, sheets)."""
    return IngestRequest(
        company_id=principal.company_id,
        principal=principal,
        source=source,
        external_id=fields.external_id,
        conversation_id=fields.conversation_id,
        direction=fields.direction,
        started_at=fields.started_at,
        agent=AgentHints(user_id=fields.user_id, extension_id=fields.extension_id),
        customer=CustomerHints(name=fields.customer_name, phone=fields.customer_phone),
        worker_id=fields.order_id,  # order_id is stored and returned as worker_id
        audio=audio,
        meta={
            **(meta or {}),
            **({"extension_id": fields.extension_id} if fields.extension_id else {}),
            **({"user_id": fields.user_id} if fields.user_id else {}),
        },
    )


def add_recording(
    session: Session,
    principal: Principal,
    staged: StagedAudio,
    fields: CallFields,
    *,
    source: str = "api",
) -> IngestResult:
    """add-calls (and the upload page): a staged recording with the seed API's fields."""
    return create_engagement(
        session, fields_request(principal, fields, source=source, audio=staged)
    )


# -- step 1: signed upload URLs ----------------------------------------------------------


def _upload_message(upload_id: uuid.UUID) -> str:
    return f"recording-upload:{upload_id}"


def upload_url_for(upload: RecordingUpload) -> str:
    """Where the client PUTs the bytes. A store that can presign a PUT (the S3 store)
    answers with its own URL and the bytes never pass through us; the local store gets
    our signed URL."""
    expires = int(upload.expires_at.timestamp())
    store = get_store()
    if Capability.PRESIGNED_PUT in store.capabilities:
        return store.presign_put(upload.blob_key, expires)
    token = sign(_upload_message(upload.id), expires)
    return f"{get_settings().public_url}{UPLOAD_PATH}/{upload.id}?token={token}"


def download_url_for(upload: RecordingUpload) -> str:
    return f"{get_settings().public_url}{UPLOAD_PATH}/{upload.id}"


def create_signed_upload(
    session: Session,
    principal: Principal,
    *,
    filename: str | None,
    content_length: int | None,
    expires_in: int,
) -> RecordingUpload:
    settings = get_settings()
    if content_length is not None and content_length > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Recordings are limited to {settings.MAX_UPLOAD_MB} MB.")
    upload_id = uuid.uuid4()
    upload = RecordingUpload(
        id=upload_id,
        company_id=principal.company_id,
        status="pending",
        blob_key=f"uploads/{principal.company_id}/{upload_id}",
        filename=(filename or None) and filename.replace("\\", "/").rsplit("/", 1)[-1][:300],
        expected_size=content_length,
        expires_at=utcnow() + timedelta(seconds=expires_in),
    )
    session.add(upload)
    session.flush()
    return upload


def check_upload_token(upload_id: str, token: str | None) -> uuid.UUID:
    """403 for an expired, tampered or missing signature (checked before any byte is read)."""
    try:
        uid = uuid.UUID(upload_id)
    except ValueError as exc:
        raise Forbidden("This upload URL is not valid.", code="bad_signature") from exc
    if not token:
        raise Forbidden("This upload URL has no signature.", code="bad_signature")
    if not verify_signature(_upload_message(uid), token):
        try:
            expires = int(token.split(".", 1)[0])
        except ValueError:
            expires = 0
        if (
            expires
            and expires < time.time()
            and verify_signature(_upload_message(uid), token, now=expires - 1)
        ):
            raise Forbidden("This upload URL has expired; ask for a new one.", code="url_expired")
        raise Forbidden("The upload URL's signature does not match.", code="bad_signature")
    return uid


def get_upload_for_put(session: Session, upload_id: uuid.UUID) -> RecordingUpload:
    upload = session.get(RecordingUpload, upload_id)
    if upload is None:
        raise NotFound("Upload not found.")
    if upload.status == "used":
        raise Conflict("This upload already became a call.", code="upload_used")
    return upload


def store_upload(session: Session, upload_id: uuid.UUID, staged: StagedAudio) -> RecordingUpload:
    """Step 2 done: the staged bytes become the upload's blob (replacing an earlier PUT)."""
    try:
        upload = get_upload_for_put(session, upload_id)
        staged.close()
        if staged.size == 0:
            raise BadRequest("The upload is empty.", code="empty_file")
        if upload.expected_size is not None and staged.size != upload.expected_size:
            raise BadRequest(
                f"Received {staged.size} bytes but the upload URL was made for "
                f"{upload.expected_size}.",
                code="size_mismatch",
            )
        get_store().put_file(upload.blob_key, staged.path)
    except BaseException:
        staged.discard()
        raise
    upload.size = staged.size
    upload.status = "uploaded"
    upload.uploaded_at = utcnow()
    session.flush()
    return upload


# -- step 3: the recording becomes a call ------------------------------------------------


def _upload_id_from(download_url: str) -> uuid.UUID:
    tail = download_url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    try:
        return uuid.UUID(tail)
    except ValueError as exc:
        raise ValidationFailed(
            "downloadUrl is not one of ours: use the downloadUrl from "
            "POST /api/v1/recordings/signed-urls.",
            code="bad_download_url",
        ) from exc


def _check_presigned_upload(upload: RecordingUpload) -> None:
    """A PUT to a presigned URL never passed our size checks: make them on the blob."""
    size = get_store().size(upload.blob_key)
    if size == 0:
        raise BadRequest("The upload is empty.", code="empty_file")
    if upload.expected_size is not None and size != upload.expected_size:
        raise BadRequest(
            f"Received {size} bytes but the upload URL was made for {upload.expected_size}.",
            code="size_mismatch",
        )
    limit = get_settings().max_upload_bytes
    if size > limit:
        get_store().delete(upload.blob_key)
        raise PayloadTooLarge(f"The recording is larger than the {limit // 2**20} MB limit.")
    upload.size = size
    upload.status = "uploaded"
    upload.uploaded_at = utcnow()


def create_recording(session: Session, principal: Principal, body: Any) -> IngestResult:
    """Step 3. Everything is checked before anything is written: the upload is there, the
    rep resolves, the CRM objects are looked up; then the call is created. The upload's
    blob is deleted only once the call is committed (a failed commit keeps it, so the
    same request can be sent again)."""
    upload_id = _upload_id_from(body.download_url)
    upload = session.get(RecordingUpload, upload_id)
    if upload is None or upload.company_id != principal.company_id:
        raise NotFound("No such upload: request a signed URL first.", code="upload_not_found")
    if upload.status == "used" and upload.engagement_id:
        return _duplicate(session, calls.get_call(session, principal, upload.engagement_id))
    # the blob is there once the PUT finished (to us, or straight to an S3-compatible store
    # through its presigned URL, in which case our row never saw the bytes)
    if not get_store().exists(upload.blob_key):
        raise Conflict(
            "The recording has not been uploaded yet: PUT the audio to the uploadUrl first.",
            code="upload_missing",
        )
    if upload.status == "pending":  # PUT straight to the store: check what we never saw
        _check_presigned_upload(upload)
    if not (body.user_id or body.user_email or body.user_phone):
        raise ValidationFailed(
            "Say who the rep is: userId, userEmail or userPhone.", code="rep_required"
        )
    if body.crm_objects and not body.integration_connection_id:
        raise ValidationFailed(
            "crmObjects need the integrationConnectionId they belong to.",
            code="connection_required",
        )
    given = ", ".join(
        f"{k}={v!r}"
        for k, v in (
            ("userId", body.user_id),
            ("userEmail", body.user_email),
            ("userPhone", body.user_phone),
        )
        if v
    )
    fields = CallFields.model_validate(
        {
            "customer_name": body.customer_name,
            "customer_phone": body.customer_phone,
            "external_id": body.external_id,
            "direction": body.direction,
            "started_at": body.date_created,
        }
    )
    meta: dict[str, Any] = {"upload_id": str(upload.id)}
    if body.integration_connection_id:
        meta["integration_connection_id"] = body.integration_connection_id
    request = fields_request(principal, fields, source="api-v2", meta=meta)
    request.agent = AgentHints(
        user_id=body.user_id,
        email=body.user_email,
        phone=body.user_phone,
        required=True,
        missing_code="rep_not_found",
        missing_message=f"No agent matches {given}.",
    )
    if body.crm_objects:
        request.crm_objects = CrmObjects(
            body.integration_connection_id,
            [(o.object_type, o.object_id) for o in body.crm_objects],
        )
    else:
        request.suggest_customers = True
    # the rep is checked before the bytes are copied
    resolve_agent(session, principal.company_id, request.agent, request.source)
    if server_side_ingest():  # S3: copied and probed there, never through this process
        request.stored = stored_blob(upload.blob_key, upload.filename)
    else:
        staged = StagedAudio()
        staged.filename = upload.filename
        try:
            with get_store().open(upload.blob_key) as src:
                copy_into_stage(src, staged)
        except BaseException:
            staged.discard()
            raise
        request.audio = staged
    result = create_engagement(session, request)
    if result.duplicate:
        return result
    upload.status = "used"
    upload.engagement_id = result.engagement.id
    session.flush()
    blob_key = upload.blob_key
    after_commit(session, lambda: get_store().delete(blob_key))
    return result


# -- tickets -----------------------------------------------------------------------------


@dataclass
class TicketResult:
    call: Engagement
    duplicate: bool
    turns: int


def ticket_request(principal: Principal, body: Any, *, source: str = "tickets") -> IngestRequest:
    agent, customer = body.agent, body.customer
    started, duration = message_span(body.messages)
    return IngestRequest(
        company_id=principal.company_id,
        principal=principal,
        source=source,
        channel=body.channel,
        external_id=body.external_id or None,
        conversation_id=body.conversation_id or None,
        thread_id=body.thread_id or None,
        direction=body.direction,
        started_at=started,
        duration_s=duration,
        agent=AgentHints(
            user_id=agent.id,
            email=agent.email,
            phone=agent.phone,
            name=agent.name,
            external_id=agent.id or agent.email or None,
            create=True,
            required=True,
            missing_message=(
                "The agent is unknown: send an id, email or phone we know, or a name to create one."
            ),
        )
        if agent is not None
        else AgentHints(),
        customer=CustomerHints(
            customer_id=customer.id, name=customer.name, phone=customer.phone, email=customer.email
        )
        if customer is not None
        else CustomerHints(),
        turns=JsonMessagesParser().from_messages(body.messages),
        meta={
            **({"subject": body.subject} if body.subject else {}),
            **({"customer_email": customer.email} if customer and customer.email else {}),
            # every message has its sent time: turn offsets (and response times) are real
            "timed_turns": all(m.sent_at is not None for m in body.messages),
        },
    )


def create_ticket(
    session: Session, principal: Principal, body: Any, *, source: str = "tickets"
) -> TicketResult:
    """A chat, email or ticket becomes an engagement on that channel with its messages as
    turns, `received`, so the pipeline (no speech step) analyses it into Minutes."""
    result = create_engagement(session, ticket_request(principal, body, source=source))
    call = result.engagement
    if result.duplicate:
        count = session.scalar(
            select(func.count()).select_from(Turn).where(Turn.engagement_id == call.id)
        )
        return TicketResult(call, True, count or 0)
    return TicketResult(call, False, len(body.messages))


# -- tus resumable uploads ---------------------------------------------------------------

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
# an upload not PATCHed for this long expires (tus Expiration); under the staging sweep's
# 6 h (storage.local.STAGING_MAX_AGE_S), which would take its part file otherwise
TUS_TTL = timedelta(hours=5)
# a signed upload not used for a call this long after its URL expired is deleted
SIGNED_UPLOAD_GRACE = timedelta(hours=24)
TUS_META_FIELDS = {
    "filename",
    "filetype",
    "customer_name",
    "customer_phone",
    "external_id",
    "user_id",
    "extension_id",
    "order_id",
    "direction",
    "started_at",
    "conversation_id",
}


def parse_upload_metadata(header: str | None) -> dict[str, str]:
    """`key base64value,key2 base64value2` (tus Upload-Metadata)."""
    out: dict[str, str] = {}
    if not header:
        return out
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        if not key or len(key) > 100:
            raise BadRequest("Upload-Metadata has an invalid key.")
        try:
            out[key] = (
                base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
            )
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest(f"Upload-Metadata value of {key!r} is not base64 UTF-8.") from exc
        if len(out[key]) > 2000:
            raise BadRequest(f"Upload-Metadata value of {key!r} is too long.")
    return out


def tus_fields(meta: dict[str, str]) -> CallFields:
    from pydantic import ValidationError

    known = {k: v for k, v in meta.items() if k in CallFields.model_fields}
    try:
        return CallFields.model_validate(known)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValidationFailed(f"Upload-Metadata {where}: {err['msg']}") from exc


def create_tus_upload(
    session: Session, principal: Principal, length: int, meta: dict[str, str]
) -> TusUpload:
    settings = get_settings()
    if length > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Recordings are limited to {settings.MAX_UPLOAD_MB} MB.")
    if length <= 0:
        raise BadRequest("Upload-Length must be a positive number of bytes.")
    tus_fields(meta)  # refuse bad metadata now, not after 500 MB
    fh, path = get_store().staging_file()
    fh.close()
    upload = TusUpload(
        company_id=principal.company_id,
        length=length,
        offset=0,
        part_path=str(path),
        upload_meta=meta,
        status="open",
    )
    session.add(upload)
    session.flush()
    return upload


def get_tus_upload(session: Session, principal: Principal, upload_id: str) -> TusUpload:
    try:
        uid = uuid.UUID(upload_id)
    except ValueError as exc:
        raise NotFound("Upload not found.") from exc
    upload = session.get(TusUpload, uid)
    if upload is None or upload.company_id != principal.company_id or upload.status == "terminated":
        raise NotFound("Upload not found.")
    if upload.status != "completed" and tus_expires_at(upload) <= utcnow():
        raise NotFound("Upload not found: it expired.")  # the sweep deletes its bytes
    return upload


def complete_tus_upload(session: Session, principal: Principal, upload: TusUpload) -> Engagement:
    """All bytes are in: the part file becomes the staged recording, then a call."""
    fields = tus_fields(upload.upload_meta or {})
    staged = StagedAudio(max_bytes=max(upload.length, 1))
    staged.close()
    # the part file stays until the call is committed: a failure on the way (storage,
    # database, a bug) leaves the upload open at offset == length, and a zero-length PATCH
    # retries the completion (issue 17 #10). A hard link costs nothing; else a copy.
    _link_or_copy(Path(upload.part_path), Path(staged.path))
    staged.size = upload.length
    staged.filename = (upload.upload_meta or {}).get("filename", "")[:300] or None
    # the upload page sends through tus too (resumable) and says so in its metadata
    source = "upload" if (upload.upload_meta or {}).get("source") == "upload" else "tus"
    request = fields_request(
        principal, fields, source=source, audio=staged, meta={"tus_upload_id": str(upload.id)}
    )
    try:
        result = create_engagement(session, request)
    except CallscribeError as exc:
        upload.status, upload.error = "failed", exc.message
        raise
    call = result.engagement
    upload.status = "completed"
    upload.engagement_id = call.id
    session.flush()
    part = Path(upload.part_path)
    after_commit(session, lambda: part.unlink(missing_ok=True))
    return call


def _link_or_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".link")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def fail_tus_upload(upload: TusUpload, message: str) -> None:
    """The upload can never become a call (not audio, refused): its bytes go."""
    upload.status, upload.error = "failed", message
    Path(upload.part_path).unlink(missing_ok=True)


def tus_expires_at(upload: TusUpload) -> datetime:
    return (upload.updated_at or upload.created_at) + TUS_TTL


def expire_uploads(session: Session, now: datetime | None = None) -> int:
    """The sweep of abandoned uploads (issue 17 #15): tus uploads not completed and not
    PATCHed within TUS_TTL, and signed uploads no call used within SIGNED_UPLOAD_GRACE of
    their URL's expiry; their bytes are deleted with them. Returns how many went."""
    now = now or utcnow()
    gone = 0
    stale_tus = session.scalars(
        select(TusUpload).where(
            TusUpload.status != "completed", TusUpload.updated_at < now - TUS_TTL
        )
    ).all()
    for upload in stale_tus:
        Path(upload.part_path).unlink(missing_ok=True)
        session.delete(upload)
        gone += 1
    stale_signed = session.scalars(
        select(RecordingUpload).where(
            RecordingUpload.status != "used",
            RecordingUpload.expires_at < now - SIGNED_UPLOAD_GRACE,
        )
    ).all()
    store = get_store()
    for row in stale_signed:
        store.delete(row.blob_key)
        session.delete(row)
        gone += 1
    session.flush()
    return gone


def terminate_tus_upload(session: Session, upload: TusUpload) -> None:
    Path(upload.part_path).unlink(missing_ok=True)
    session.delete(upload)
    session.flush()


# -- sheets ------------------------------------------------------------------------------


def create_sheet(session: Session, principal: Principal, body: Any) -> SheetJob:
    job = SheetJob(
        company_id=principal.company_id,
        name=body.name,
        mapping=dict(body.mapping),
        defaults={"channel": body.default_channel, "by": _principal_record(principal)},
        status="open",
        total_rows=0,
    )
    session.add(job)
    session.flush()
    return job


def _principal_record(principal: Principal) -> dict[str, Any]:
    """Who created a sheet, so that its rows, processed later by the worker, are
    attributed with that principal's rights (check_attribution), not an admin's."""
    return {
        "role": principal.role.value,
        "user_id": str(principal.user_id) if principal.user_id else None,
        "agent_id": str(principal.agent_id) if principal.agent_id else None,
    }


def sheet_principal(job: SheetJob) -> Principal:
    """The principal a sheet's rows are processed as: its creator's role and agent (a
    job from before this was recorded: an admin of the company, as it always was)."""
    by = (job.defaults or {}).get("by") or {}
    agent_id, user_id = by.get("agent_id"), by.get("user_id")
    return Principal(
        company_id=job.company_id,
        role=Role(by.get("role") or Role.ADMIN),
        user_id=uuid.UUID(user_id) if user_id else None,
        agent_id=uuid.UUID(agent_id) if agent_id else None,
    )


def get_sheet(session: Session, principal: Principal, sheet_id: str) -> SheetJob:
    try:
        sid = uuid.UUID(sheet_id)
    except ValueError as exc:
        raise NotFound("Sheet not found.") from exc
    job = session.get(SheetJob, sid)
    if job is None or job.company_id != principal.company_id:
        raise NotFound("Sheet not found.")
    return job


MAX_SHEET_ROWS = 100_000


def add_sheet_rows(session: Session, job: SheetJob, rows: list[dict[str, Any]]) -> int:
    if job.status != "open":
        raise Conflict("This sheet was finalized; it takes no more rows.", code="sheet_finalized")
    if job.total_rows + len(rows) > MAX_SHEET_ROWS:
        raise PayloadTooLarge(f"A sheet holds at most {MAX_SHEET_ROWS} rows.")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValidationFailed(f"Row {i + 1} of this batch is not an object.")
        clean = {}
        for key, value in row.items():
            if isinstance(value, (dict, list)):
                raise ValidationFailed(f"Row {i + 1}: column {key!r} must be a plain value.")
            clean[str(key)[:200]] = None if value is None else str(value)[:100_000]
        session.add(SheetRow(job_id=job.id, row_no=job.total_rows + i + 1, data=clean))
    job.total_rows += len(rows)
    session.flush()
    return len(rows)


def finalize_sheet(session: Session, job: SheetJob) -> None:
    if job.status != "open":
        raise Conflict("This sheet was already finalized.", code="sheet_finalized")
    if job.total_rows == 0:
        raise BadRequest("Add rows before finalizing the sheet.", code="sheet_empty")
    job.status = "processing"
    job.finalized_at = utcnow()
    session.flush()


def sheet_counts(session: Session, job: SheetJob) -> dict[str, int]:
    rows = session.execute(
        select(SheetRow.status, func.count())
        .where(SheetRow.job_id == job.id)
        .group_by(SheetRow.status)
    ).all()
    return {status: count for status, count in rows}


def process_sheet_row(
    session: Session, principal: Principal, job: SheetJob, row: SheetRow
) -> Engagement | None:
    """One row -> a call (audio URL) or a text engagement (`Agent: ...` lines). Raises
    CallscribeError on a row the caller should mark as failed."""
    mapping = job.mapping or {}

    def value(name: str) -> str | None:
        column = mapping.get(name)
        raw = row.data.get(column) if column else None
        raw = raw.strip() if isinstance(raw, str) else raw
        return raw or None

    external_id = value("external_id") or f"sheet-{job.id}-{row.row_no}"
    agent_hints = AgentHints(
        user_id=value("agent_id"),
        email=value("agent_email"),
        required=bool(value("agent_id") or value("agent_email")),
        missing_message="The agent of this row is unknown.",
    )
    customer_hints = CustomerHints(
        name=value("customer_name"), phone=value("customer_phone"), email=value("customer_email")
    )
    audio_url = value("audio_url")
    text = value("text")
    if audio_url:
        try:
            started = parse_instant(value("started_at")) if value("started_at") else None
        except ValueError as exc:
            raise ValidationFailed(f"started_at: {exc}.") from exc
        direction = value("direction")
        if direction not in (None, "inbound", "outbound", "internal"):
            raise ValidationFailed("direction must be inbound, outbound or internal.")
        fields = CallFields.model_validate(
            {
                "customer_name": value("customer_name"),
                "customer_phone": value("customer_phone"),
                "external_id": external_id,
                "direction": direction,
                "started_at": started,
                "conversation_id": value("conversation_id"),
            }
        )
        # checked before the download: a re-run finds the row's call, a bad agent fails
        existing = find_duplicate(session, principal.company_id, "sheet", external_id)
        if existing is not None:
            return existing
        resolve_agent(session, principal.company_id, agent_hints, "sheet")
        request = fields_request(principal, fields, source="sheet", meta={"sheet_id": str(job.id)})
        request.agent, request.customer = agent_hints, customer_hints
        staged = StagedAudio()
        try:
            download_to_stage(audio_url, staged)
        except BaseException:
            staged.discard()
            raise
        request.audio = staged
        return create_engagement(session, request).engagement
    if text:
        channel = value("channel") or (job.defaults or {}).get("channel") or "ticket"
        if channel not in ("chat", "email", "ticket"):
            raise ValidationFailed("channel must be chat, email or ticket for a text row.")
        # the same limits as the seed API's fields (a cell too long fails its row)
        CallFields.model_validate(
            {"customer_name": value("customer_name"), "customer_phone": value("customer_phone")}
        )
        turns = get_parser("speaker_lines").parse(text)
        for turn in turns:
            if len(turn.text) > MAX_MESSAGE_CHARS:
                raise ValidationFailed(
                    "The text could not be read as a conversation: a message is longer "
                    f"than {MAX_MESSAGE_CHARS} characters."
                )
        request = IngestRequest(
            company_id=principal.company_id,
            principal=principal,
            source="sheet",
            channel=channel,
            external_id=external_id,
            conversation_id=(value("conversation_id") or "")[:200] or None,
            thread_id=(value("thread_id") or "")[:200] or None,
            agent=agent_hints,
            customer=customer_hints,
            turns=turns,
            meta={
                **({"subject": value("subject")[:300]} if value("subject") else {}),  # type: ignore[index]
                **({"customer_email": value("customer_email")} if value("customer_email") else {}),
            },
        )
        return create_engagement(session, request).engagement
    raise ValidationFailed("The row has neither an audio URL nor text.")


MAX_MESSAGE_CHARS = 100_000  # as a ticket's message
