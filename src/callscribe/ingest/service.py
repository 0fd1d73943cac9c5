"""Integration ingestion: the three-step signed-URL upload, tickets (text conversations),
tus resumable uploads and sheets. No HTTP here; the API owns the transactions and
enqueues calls after commit."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.accounts.service import Principal
from callscribe.calls import service as calls
from callscribe.calls.models import Engagement, Turn
from callscribe.calls.schemas import CallFields
from callscribe.crm import service as crm
from callscribe.crm.models import Customer
from callscribe.db import utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from callscribe.ingest.models import RecordingUpload, SheetJob, SheetRow, TusUpload
from callscribe.security.crypto import sign, verify_signature
from callscribe.settings import get_settings
from callscribe.storage import get_store

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/recordings/uploads"


# -- step 1: signed upload URLs ----------------------------------------------------------


def _upload_message(upload_id: uuid.UUID) -> str:
    return f"recording-upload:{upload_id}"


def upload_url_for(upload: RecordingUpload) -> str:
    """Where the client PUTs the bytes. This is the seam for an S3-compatible store: a
    store that can presign a PUT (`presigned_put_url(key, expires_at)`) answers with its
    own URL and the bytes never pass through us; the local store gets our signed URL."""
    expires = int(upload.expires_at.timestamp())
    presign = getattr(get_store(), "presigned_put_url", None)
    if presign is not None:
        return str(presign(upload.blob_key, expires))
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


def store_upload(
    session: Session, upload_id: uuid.UUID, staged: calls.StagedAudio
) -> RecordingUpload:
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


@dataclass
class RecordingResult:
    call: Engagement
    duplicate: bool
    agent: Agent | None
    definite: list[Any] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    suggested: list[crm.Suggestion] = field(default_factory=list)


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


def resolve_rep(
    session: Session,
    company_id: uuid.UUID,
    user_id: str | None,
    user_email: str | None,
    user_phone: str | None,
) -> Agent:
    """userId, else userEmail, else userPhone; the first one that names an agent wins."""
    if not (user_id or user_email or user_phone):
        raise ValidationFailed(
            "Say who the rep is: userId, userEmail or userPhone.", code="rep_required"
        )
    if user_id:
        agent = accounts.find_agent(session, company_id, agent_id=user_id) or accounts.find_agent(
            session, company_id, extension_id=user_id
        )
        if agent:
            return agent
    if user_email:
        agent = (
            accounts.find_agent(session, company_id, email=user_email)
            or session.scalars(
                select(Agent).where(
                    Agent.company_id == company_id,
                    func.lower(Agent.email) == user_email.strip().lower(),
                )
            ).first()
        )  # agents stored with mixed-case emails
        if agent:
            return agent
    if user_phone:
        agent = accounts.find_agent(session, company_id, phone=user_phone)
        if agent:
            return agent
        wanted = crm.try_normalize_phone(user_phone)
        if wanted:
            for candidate in session.scalars(
                select(Agent).where(Agent.company_id == company_id, Agent.phone.is_not(None))
            ):
                if crm.try_normalize_phone(candidate.phone) == wanted:
                    return candidate
    given = ", ".join(
        f"{k}={v!r}"
        for k, v in (("userId", user_id), ("userEmail", user_email), ("userPhone", user_phone))
        if v
    )
    raise ValidationFailed(f"No agent matches {given}.", code="rep_not_found")


def create_recording(session: Session, principal: Principal, body: Any) -> RecordingResult:
    """Step 3. Everything is checked before anything is written: the upload is there, the
    rep resolves, the CRM objects are looked up; then the call is created."""
    upload_id = _upload_id_from(body.download_url)
    upload = session.get(RecordingUpload, upload_id)
    if upload is None or upload.company_id != principal.company_id:
        raise NotFound("No such upload: request a signed URL first.", code="upload_not_found")
    if upload.status == "used" and upload.engagement_id:
        call = calls.get_call(session, principal, upload.engagement_id)
        agent = session.get(Agent, call.agent_id) if call.agent_id else None
        return RecordingResult(call, True, agent)
    # the blob is there once the PUT finished (to us, or straight to an S3-compatible store
    # through its presigned URL, in which case our row never saw the bytes)
    if not get_store().exists(upload.blob_key):
        raise Conflict(
            "The recording has not been uploaded yet: PUT the audio to the uploadUrl first.",
            code="upload_missing",
        )
    agent = resolve_rep(
        session, principal.company_id, body.user_id, body.user_email, body.user_phone
    )
    definite: list[Any] = []
    unknown: list[tuple[str, str]] = []
    suggested: list[crm.Suggestion] = []
    if body.crm_objects:
        if not body.integration_connection_id:
            raise ValidationFailed(
                "crmObjects need the integrationConnectionId they belong to.",
                code="connection_required",
            )
        definite, unknown = crm.find_crm_objects(
            session,
            principal.company_id,
            body.integration_connection_id,
            [(o.object_type, o.object_id) for o in body.crm_objects],
        )
    else:
        suggested = crm.suggest_customers(
            session, principal.company_id, body.customer_phone, body.customer_name
        )

    staged = calls.StagedAudio()
    staged.filename = upload.filename
    try:
        with get_store().open(upload.blob_key) as src:
            calls.copy_into_stage(src, staged)
    except BaseException:
        staged.discard()
        raise
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
    ingested = calls.ingest_recording(
        session, principal, staged, fields, source="api-v2", meta=meta
    )
    call = ingested.call
    if ingested.duplicate:
        return RecordingResult(call, True, agent)
    call.agent_id = agent.id
    if definite:
        call.customer_id = definite[0].customer_id
    links = crm.link_engagement(
        session, principal.company_id, call.id, definite=definite, suggested=suggested
    )
    call.meta = {
        **(call.meta or {}),
        "crm_links": [_link_meta(session, link) for link in links if link.kind == "definite"],
        "crm_suggestions": [
            _link_meta(session, link) for link in links if link.kind == "suggested"
        ],
        **(
            {"unknown_crm_objects": [{"objectType": t, "objectId": i} for t, i in unknown]}
            if unknown
            else {}
        ),
    }
    upload.status = "used"
    upload.engagement_id = call.id
    session.flush()
    get_store().delete(upload.blob_key)
    return RecordingResult(call, False, agent, definite, unknown, suggested)


def _link_meta(session: Session, link: Any) -> dict[str, Any]:
    customer = session.get(Customer, link.customer_id) if link.customer_id else None
    return {
        "linkId": str(link.id),
        "customerId": str(link.customer_id) if link.customer_id else None,
        "customerName": customer.name if customer else None,
        "reason": link.reason,
        "score": link.score,
    }


# -- tickets -----------------------------------------------------------------------------

MAX_TURN_MS = 2**31 - 1  # turns.start_ms is a 32-bit integer: threads longer than ~24 days
# keep their order, later messages share the last representable offset


@dataclass
class TicketResult:
    call: Engagement
    duplicate: bool
    turns: int


def _ticket_agent(session: Session, company_id: uuid.UUID, agent: Any) -> Agent | None:
    if agent is None:
        return None
    found = None
    if agent.id:
        found = accounts.find_agent(session, company_id, agent_id=agent.id) or accounts.find_agent(
            session, company_id, extension_id=agent.id
        )
    if found is None and (agent.email or agent.phone):
        found = accounts.find_agent(session, company_id, email=agent.email, phone=agent.phone)
    if found is None and agent.name:
        found = accounts.upsert_agent(
            session,
            company_id,
            name=agent.name,
            source="tickets",
            external_id=agent.id or agent.email or None,
            email=agent.email.lower() if agent.email else None,
            phone=agent.phone,
        )
    if found is None:
        raise ValidationFailed(
            "The agent is unknown: send an id, email or phone we know, or a name to create one.",
            code="agent_not_found",
        )
    return found


def _ticket_customer(session: Session, company_id: uuid.UUID, customer: Any) -> uuid.UUID | None:
    if customer is None:
        return None
    if customer.id:
        return crm.get_customer(session, company_id, customer.id).id
    found = crm.customer_by_phone(session, company_id, customer.phone)
    if found is None and customer.email:
        found = crm.customer_by_email(session, company_id, customer.email)
    return found


def create_ticket(
    session: Session, principal: Principal, body: Any, *, source: str = "tickets"
) -> TicketResult:
    """A chat, email or ticket becomes an engagement on that channel with its messages as
    turns, `received`, so the pipeline (no speech step) analyses it into Minutes."""
    company_id = principal.company_id
    external_id = body.external_id or None
    if external_id:
        existing = calls.find_by_external_id(session, company_id, source, external_id)
        if existing is not None:
            count = session.scalar(
                select(func.count()).select_from(Turn).where(Turn.engagement_id == existing.id)
            )
            return TicketResult(existing, True, count or 0)
    agent = _ticket_agent(session, company_id, body.agent)
    customer_id = _ticket_customer(session, company_id, body.customer)
    times = [m.sent_at for m in body.messages if m.sent_at is not None]
    started = min(times) if times else None
    call = Engagement(
        id=uuid.uuid4(),
        company_id=company_id,
        channel=body.channel,
        source=source,
        external_id=external_id,
        direction=body.direction,
        agent_id=agent.id if agent else None,
        customer_id=customer_id,
        customer_name=accounts.trim_attribute(
            session, company_id, "customer_name", body.customer.name if body.customer else None
        ),
        customer_phone=body.customer.phone if body.customer else None,
        started_at=started,
        status="received",
        meta={
            **({"subject": body.subject} if body.subject else {}),
            **(
                {"customer_email": body.customer.email}
                if body.customer and body.customer.email
                else {}
            ),
            "transcript_complete": True,
        },
    )
    session.add(call)
    last_ms = 0
    turns = []
    for seq, message in enumerate(body.messages):
        if started is not None and message.sent_at is not None:
            start_ms = max(int((message.sent_at - started).total_seconds() * 1000), 0)
        else:
            start_ms = last_ms + (1000 if seq else 0)
        start_ms = min(max(start_ms, last_ms), MAX_TURN_MS)
        last_ms = start_ms
        speaker = message.author or (agent.name if message.role == "agent" and agent else None)
        if speaker is None and message.role == "customer":
            speaker = call.customer_name
        turns.append(
            Turn(
                company_id=company_id,
                engagement_id=call.id,
                seq=seq,
                role=message.role,
                speaker=(speaker or None) and speaker[:200],
                channel=None,
                start_ms=start_ms,
                end_ms=start_ms,
                text=message.text,
            )
        )
    session.add_all(turns)
    if times:
        call.duration_s = (max(times) - started).total_seconds()  # type: ignore[operator]
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # a concurrent request with the same external id won the race
        for obj in (call, *turns):
            if obj in session:
                session.expunge(obj)
        existing = calls.find_by_external_id(session, company_id, source, external_id or "")
        if existing is None:
            raise
        return TicketResult(existing, True, len(body.messages))
    return TicketResult(call, False, len(body.messages))


# -- tus resumable uploads ---------------------------------------------------------------

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
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
    return upload


def complete_tus_upload(session: Session, principal: Principal, upload: TusUpload) -> Engagement:
    """All bytes are in: the part file becomes the staged recording, then a call."""
    fields = tus_fields(upload.upload_meta or {})
    staged = calls.StagedAudio(max_bytes=max(upload.length, 1))
    staged.close()
    os.replace(upload.part_path, staged.path)
    staged.size = upload.length
    staged.filename = (upload.upload_meta or {}).get("filename", "")[:300] or None
    try:
        result = calls.ingest_recording(
            session, principal, staged, fields, source="tus", meta={"tus_upload_id": str(upload.id)}
        )
    except CallscribeError as exc:
        upload.status, upload.error = "failed", exc.message
        raise
    call = result.call
    if call.customer_id is None and call.customer_phone:
        call.customer_id = crm.customer_by_phone(session, principal.company_id, call.customer_phone)
    upload.status = "completed"
    upload.engagement_id = call.id
    session.flush()
    return call


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
        defaults={"channel": body.default_channel},
        status="open",
        total_rows=0,
    )
    session.add(job)
    session.flush()
    return job


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


def parse_text_messages(text: str) -> list[dict[str, Any]]:
    """Sheet text: one message per line, `Agent: ...` / `Customer: ...` / `Bot: ...`;
    lines without a prefix continue the previous message (or are the customer's)."""
    messages: list[dict[str, Any]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        head, sep, rest = line.partition(":")
        role = head.strip().lower() if sep else ""
        if role in ("agent", "rep", "customer", "client", "bot", "user"):
            mapped = {"rep": "agent", "client": "customer", "user": "customer"}.get(role, role)
            messages.append({"role": mapped, "text": rest.strip() or "(empty)"})
        elif messages:
            messages[-1]["text"] += " " + line
        else:
            messages.append({"role": "customer", "text": line})
    return messages


def process_sheet_row(
    session: Session, principal: Principal, job: SheetJob, row: SheetRow
) -> Engagement | None:
    """One row -> a call (audio URL) or a ticket (text). Raises CallscribeError on a
    row the caller should mark as failed."""
    from callscribe.ingest.schemas import MessageIn, TicketAgent, TicketCustomer, TicketIn

    mapping = job.mapping or {}

    def value(name: str) -> str | None:
        column = mapping.get(name)
        raw = row.data.get(column) if column else None
        raw = raw.strip() if isinstance(raw, str) else raw
        return raw or None

    external_id = value("external_id") or f"sheet-{job.id}-{row.row_no}"
    audio_url = value("audio_url")
    text = value("text")
    if audio_url:
        try:
            started = datetime.fromisoformat(value("started_at")) if value("started_at") else None  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValidationFailed("started_at is not an ISO date-time.") from exc
        direction = value("direction")
        if direction not in (None, "inbound", "outbound", "internal"):
            raise ValidationFailed("direction must be inbound, outbound or internal.")
        agent = None
        if value("agent_email") or value("agent_id"):
            agent = accounts.find_agent(
                session,
                principal.company_id,
                agent_id=value("agent_id"),
                email=value("agent_email"),
            )
            if agent is None:
                raise ValidationFailed("The agent of this row is unknown.")
        fields = CallFields.model_validate(
            {
                "customer_name": value("customer_name"),
                "customer_phone": value("customer_phone"),
                "external_id": external_id,
                "direction": direction,
                "started_at": started,
            }
        )
        existing = calls.find_by_external_id(session, principal.company_id, "sheet", external_id)
        if existing is not None:
            return existing
        staged = calls.StagedAudio()
        try:
            calls.download_to_stage(audio_url, staged)
        except BaseException:
            staged.discard()
            raise
        result = calls.ingest_recording(
            session, principal, staged, fields, source="sheet", meta={"sheet_id": str(job.id)}
        )
        call = result.call
        if agent is not None:
            call.agent_id = agent.id
        if call.customer_id is None:
            call.customer_id = crm.customer_by_phone(
                session, principal.company_id, fields.customer_phone
            )
        return call
    if text:
        messages = parse_text_messages(text)
        channel = value("channel") or (job.defaults or {}).get("channel") or "ticket"
        if channel not in ("chat", "email", "ticket"):
            raise ValidationFailed("channel must be chat, email or ticket for a text row.")
        agent_in = None
        if value("agent_email") or value("agent_id"):
            agent_in = TicketAgent.model_validate(
                {"id": value("agent_id"), "email": value("agent_email")}
            )
        customer_in = None
        if value("customer_name") or value("customer_phone") or value("customer_email"):
            customer_in = TicketCustomer.model_validate(
                {
                    "name": value("customer_name"),
                    "phone": value("customer_phone"),
                    "email": value("customer_email"),
                }
            )
        try:
            body = TicketIn(
                channel=channel,  # type: ignore[arg-type]
                external_id=external_id,
                subject=value("subject"),
                agent=agent_in,
                customer=customer_in,
                messages=[MessageIn(**m) for m in messages],
            )
        except Exception as exc:
            raise ValidationFailed(f"The text could not be read as a conversation: {exc}") from exc
        return create_ticket(session, principal, body, source="sheet").call
    raise ValidationFailed("The row has neither an audio URL nor text.")
