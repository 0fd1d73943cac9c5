"""Connectors: the company's provider accounts, syncs, and real-time deliveries.

A sync lists the calls since the connector's cursor and imports each one it has not seen
(same external id again: no new call). It is long-running (downloads), so like
`calls.service.process_call` it opens its own sessions and commits after each imported
call; the cursor and the sync's status are written once at the end, and the cursor only
moves when the sync succeeded. Credentials are decrypted only to build a connector
client; every message that leaves here passes through the client's `redact`.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.accounts.service import Principal
from callscribe.calls import service as calls
from callscribe.calls.schemas import CallFields
from callscribe.connectors.base import (
    AgentInfo,
    CallRef,
    ConnectorType,
    FetchedCall,
    ProviderError,
    Recording,
    connector_types,
    download,
    get_connector_type,
)
from callscribe.connectors.models import Connector, InboundEvent, SyncRun
from callscribe.connectors.schemas import (
    ConnectionTest,
    ConnectorCreate,
    ConnectorOut,
    ConnectorTypeOut,
    ConnectorUpdate,
    SyncRunOut,
    WebhookInfo,
)
from callscribe.db import session_scope, utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    Conflict,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from callscribe.security.crypto import (
    constant_time_equals,
    decrypt_secret,
    encrypt_secret,
    new_token,
)
from callscribe.security.outbound import check_url
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

WEBHOOK_HEADER = "X-Callscribe-Secret"
WEBHOOK_PAYLOAD_TEMPLATE = '{"run_id": "{{workflow_run_id}}"}'
WEBHOOK_INSTRUCTIONS = (
    "In CloudVoice, add a Webhook node at the end of the agent's workflow: method POST, "
    "the endpoint URL below, and the payload template below. Add the header "
    f'{WEBHOOK_HEADER} with the secret as a credential of type "custom header" — not as '
    "a plain custom header: CloudVoice silently drops custom headers whose names contain "
    '"secret", "token", "auth" or "api-key", and the calls would be refused.'
)
SYNC_LEASE = timedelta(minutes=30)  # a sync holding the lease longer than this died
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024
MAX_ERRORS_SHOWN = 3
TRACK_RATE = 16000  # the two tracks are mixed into one 16 kHz stereo WAV


# -- connectors --------------------------------------------------------------------------


def _hint(cls: type[ConnectorType], credentials: dict[str, str]) -> str | None:
    parts = []
    for spec in cls.credential_fields:
        value = credentials.get(spec.name) or ""
        if not value:
            continue
        if not spec.secret:
            parts.append(value[:60])
        elif len(value) >= 12:
            parts.append(f"{value[:4]}…{value[-4:]}")
        else:
            parts.append("•" * 8)
    return " / ".join(parts) or None


def _clean_credentials(cls: type[ConnectorType], raw: dict[str, str]) -> dict[str, str]:
    known = {spec.name for spec in cls.credential_fields}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationFailed(
            f"{cls.label} takes the credentials {', '.join(sorted(known))}; "
            f"not {', '.join(unknown)}."
        )
    return {k: str(v).strip() for k, v in raw.items() if str(v).strip()}


def _require_credentials(cls: type[ConnectorType], creds: dict[str, str]) -> None:
    missing = [spec.label for spec in cls.credential_fields if not creds.get(spec.name)]
    if missing:
        raise ValidationFailed(f"Enter the {', '.join(missing)} of the {cls.label} account.")


def _base_url(cls: type[ConnectorType], value: str | None) -> str:
    url = (value or cls.default_base_url).strip().rstrip("/")
    check_url(url)
    return url


def credentials_of(connector: Connector) -> dict[str, str]:
    return json.loads(decrypt_secret(connector.credentials_enc))


def client_for(connector: Connector) -> ConnectorType:
    cls = get_connector_type(connector.type)
    return cls(connector.base_url, credentials_of(connector))


def create_connector(session: Session, principal: Principal, data: ConnectorCreate) -> Connector:
    cls = get_connector_type(data.type)
    creds = _clean_credentials(cls, data.credentials)
    _require_credentials(cls, creds)
    connector = Connector(
        company_id=principal.company_id,
        type=cls.type,
        name=(data.name or cls.label)[:200],
        base_url=_base_url(cls, data.base_url),
        credentials_enc=encrypt_secret(json.dumps(creds)),
        credentials_hint=_hint(cls, creds),
        enabled=data.enabled,
        poll_interval_s=data.poll_interval_s,
        webhook_secret_enc=encrypt_secret(new_token("cvwh_", 32)) if cls.supports_webhook else None,
    )
    session.add(connector)
    session.flush()
    return connector


def list_connectors(session: Session, principal: Principal) -> list[Connector]:
    return list(
        session.scalars(
            select(Connector)
            .where(Connector.company_id == principal.company_id)
            .order_by(Connector.created_at, Connector.id)
        )
    )


def get_connector(
    session: Session, principal: Principal, connector_id: uuid.UUID | str
) -> Connector:
    try:
        cid = uuid.UUID(str(connector_id))
    except ValueError as exc:
        raise NotFound("Connector not found.") from exc
    connector = session.get(Connector, cid)
    if connector is None or connector.company_id != principal.company_id:
        raise NotFound("Connector not found.")
    return connector


def update_connector(
    session: Session, principal: Principal, connector_id: uuid.UUID | str, data: ConnectorUpdate
) -> Connector:
    connector = get_connector(session, principal, connector_id)
    cls = get_connector_type(connector.type)
    if data.name is not None:
        connector.name = data.name[:200]
    if data.base_url is not None:
        connector.base_url = _base_url(cls, data.base_url)
    if data.credentials:
        creds = {**credentials_of(connector), **_clean_credentials(cls, data.credentials)}
        _require_credentials(cls, creds)
        connector.credentials_enc = encrypt_secret(json.dumps(creds))
        connector.credentials_hint = _hint(cls, creds)
    if data.poll_interval_s is not None:
        connector.poll_interval_s = data.poll_interval_s
    if data.enabled is not None:
        connector.enabled = data.enabled
    session.flush()
    return connector


def set_enabled(
    session: Session, principal: Principal, connector_id: uuid.UUID | str, enabled: bool
) -> Connector:
    connector = get_connector(session, principal, connector_id)
    connector.enabled = enabled
    session.flush()
    return connector


def delete_connector(session: Session, principal: Principal, connector_id: uuid.UUID | str) -> None:
    """Imported calls stay; the connector, its sync log and its deliveries go."""
    connector = get_connector(session, principal, connector_id)
    session.delete(connector)
    session.flush()


def webhook_url(connector: Connector) -> str:
    return f"{get_settings().public_url}/api/webhooks/{connector.type}/{connector.id}"


def webhook_secret(connector: Connector) -> str:
    if not connector.webhook_secret_enc:
        raise BadRequest(f"{connector.type} connectors take no real-time webhook.")
    return decrypt_secret(connector.webhook_secret_enc)


def rotate_webhook_secret(
    session: Session, principal: Principal, connector_id: uuid.UUID | str
) -> Connector:
    """A new secret; the old one stops working at once."""
    connector = get_connector(session, principal, connector_id)
    if not get_connector_type(connector.type).supports_webhook:
        raise BadRequest(f"{connector.type} connectors take no real-time webhook.")
    connector.webhook_secret_enc = encrypt_secret(new_token("cvwh_", 32))
    session.flush()
    return connector


def list_runs(
    session: Session, principal: Principal, connector_id: uuid.UUID | str, limit: int = 50
) -> list[SyncRun]:
    connector = get_connector(session, principal, connector_id)
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.connector_id == connector.id)
            .order_by(SyncRun.started_at.desc(), SyncRun.id)
            .limit(limit)
        )
    )


def is_syncing(connector: Connector) -> bool:
    return connector.sync_lease_at is not None and connector.sync_lease_at > utcnow() - SYNC_LEASE


# -- test connection ---------------------------------------------------------------------


@dataclass
class ConnectionOutcome:
    ok: bool
    message: str
    code: str | None = None


def _try_connection(client: ConnectorType) -> ConnectionOutcome:
    try:
        return ConnectionOutcome(True, client.test_connection())
    except CallscribeError as exc:
        return ConnectionOutcome(False, client.redact(exc.message), exc.code)
    except Exception as exc:  # a provider answer we could not read
        log.warning("connection test failed unexpectedly: %s", type(exc).__name__)
        return ConnectionOutcome(
            False,
            f"The provider's answer could not be understood ({type(exc).__name__}).",
            "provider_bad_answer",
        )


def test_connection(
    session: Session, principal: Principal, connector_id: uuid.UUID | str
) -> ConnectionOutcome:
    connector = get_connector(session, principal, connector_id)
    return _try_connection(client_for(connector))


def test_settings(data: ConnectionTest) -> ConnectionOutcome:
    """Test a type, base URL and credentials before saving them."""
    cls = get_connector_type(data.type)
    creds = _clean_credentials(cls, data.credentials)
    try:
        base_url = _base_url(cls, data.base_url)
    except CallscribeError as exc:
        return ConnectionOutcome(False, exc.message, exc.code)
    return _try_connection(cls(base_url, creds))


# -- importing one call ------------------------------------------------------------------


@dataclass
class ImportResult:
    status: str  # imported | duplicate | pending | failed
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
        return cls(connector.id, connector.company_id, connector.type, client_for(connector))


def ensure_agent(session: Session, company_id: uuid.UUID, source: str, info: AgentInfo) -> Agent:
    """The agent record for a provider's agent, created when new (concurrent imports of
    the same new agent: one row)."""

    def upsert() -> Agent:
        agent = accounts.upsert_agent(
            session,
            company_id,
            name=info.name,
            source=source,
            external_id=info.external_id or None,
            extension_id=info.extension_id,
            phone=info.phone,
        )
        if info.is_bot and not agent.is_bot:
            agent.is_bot = True
            session.flush()
        return agent

    try:
        with session.begin_nested():
            return upsert()
    except IntegrityError:
        return upsert()


def import_call(connector: ConnectorSnapshot, ref: CallRef) -> ImportResult:
    """Import one provider call unless it is already here. Raises ProviderError when the
    provider is unreachable (the sync fails); other problems are this call's `failed`."""
    client = connector.client
    principal = Principal(company_id=connector.company_id, role="admin")
    with session_scope() as session:
        existing = calls.find_by_external_id(
            session, connector.company_id, connector.type, ref.external_id
        )
        if existing is not None:
            return ImportResult("duplicate", existing.id)
    try:
        fetched = client.fetch_call(ref)
        if not fetched.complete:
            return ImportResult("pending")
        ingested = _store_call(connector, principal, fetched)
    except ProviderError as exc:
        if exc.transient:
            raise
        return ImportResult("failed", error=client.redact(exc.message))
    except CallscribeError as exc:  # unsupported or empty recording, too large
        return ImportResult("failed", error=client.redact(exc.message))
    if ingested.duplicate:
        return ImportResult("duplicate", ingested.call.id)
    from callscribe.calls.tasks import enqueue_calls

    enqueue_calls([ingested.call.id])
    return ImportResult("imported", ingested.call.id)


def _store_call(
    connector: ConnectorSnapshot, principal: Principal, fetched: FetchedCall
) -> calls.Ingested:
    client = connector.client
    staged, how, turns = stage_recording(client, fetched)
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
    try:
        with session_scope() as session:
            agent = (
                ensure_agent(session, connector.company_id, connector.type, fetched.agent)
                if fetched.agent and fetched.agent.name
                else None
            )
            fields = CallFields(
                external_id=fetched.external_id[:200],
                user_id=str(agent.id) if agent else None,
                extension_id=None,
                order_id=None,
                direction=fetched.direction,  # type: ignore[arg-type]
                customer_name=(fetched.customer_name or None) and fetched.customer_name[:200],
                customer_phone=fetched.customer_phone,
                started_at=fetched.started_at,
            )
            if staged is not None:
                if how == "tracks":
                    staged.filename = f"{connector.type}-{fetched.external_id}.wav"[:300]
                result = calls.ingest_recording(
                    session, principal, staged, fields, source=connector.type, meta=meta
                )
            else:
                result = calls.ingest_transcript(
                    session,
                    principal,
                    fields,
                    turns or [],
                    source=connector.type,
                    duration_s=fetched.duration_s,
                    meta=meta,
                )
            if not result.duplicate:
                link_customer(session, result.call, fetched.customer_name)
            session.flush()
            return result
    except BaseException:
        if staged is not None:
            staged.discard()
        raise


def link_customer(session: Session, call: Any, name: str | None) -> None:
    """Link the call to the customer with its phone number, created when new. A number
    that is no phone number leaves the call unlinked (its number and name are kept)."""
    from callscribe.crm import service as crm

    if not call.customer_phone:
        return
    try:
        with session.begin_nested():
            customer_id = crm.customer_by_phone(session, call.company_id, call.customer_phone)
            if customer_id is None:
                rows = [(1, {"name": name, "phones": [call.customer_phone], "emails": []})]
                results = crm.add_customers(session, call.company_id, rows, on_duplicate="skip")
                customer_id = results[0].customer_id if results else None
            call.customer_id = customer_id
            session.flush()
    except CallscribeError as exc:
        log.info("call %s not linked to a customer: %s", call.id, exc.message)


def stage_recording(
    client: ConnectorType, fetched: FetchedCall
) -> tuple[calls.StagedAudio | None, str, list[dict[str, Any]] | None]:
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
        staged = calls.StagedAudio()
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
        turns = parse_transcript(sink.text())
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


def _decode_mono(path: str) -> Any:
    """A track as 16 kHz mono int16 samples."""
    import av
    import numpy as np

    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=TRACK_RATE)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise BadRequest(f"a track is not decodable audio ({type(exc).__name__})") from exc
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(chunks).astype(np.int16)


def mix_tracks(client: ConnectorType, agent: Recording, customer: Recording) -> calls.StagedAudio:
    """Download both tracks and write them as one stereo WAV: channel 0 the agent (or
    bot), channel 1 the customer, padded to the longer one. Holds both tracks decoded in
    memory (16 kHz int16: about 115 MB per track-hour)."""
    import numpy as np

    parts = []
    try:
        for rec in (agent, customer):
            staged = calls.StagedAudio()
            parts.append(staged)
            download(rec, staged, redact=client.redact)
            staged.close()
        left, right = (_decode_mono(str(p.path)) for p in parts)
    finally:
        for staged in parts:
            staged.discard()
    length = max(len(left), len(right))
    if length == 0:
        raise BadRequest("both tracks are empty")
    stereo = np.zeros((length, 2), dtype="<i2")
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    data = stereo.tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, TRACK_RATE, TRACK_RATE * 4, 4, 16)
    header += b"data" + struct.pack("<I", len(data))
    out = calls.StagedAudio()
    try:
        out.write(header)
        for start in range(0, len(data), calls.CHUNK):
            out.write(data[start : start + calls.CHUNK])
    except BaseException:
        out.discard()
        raise
    return out


_LINE = re.compile(r"^\[(?P<ts>[^\]]+)\]\s*(?P<who>[A-Za-z_ -]+?)\s*:\s?(?P<text>.*)$")
_ROLE = {
    "user": "customer",
    "customer": "customer",
    "assistant": "bot",
    "bot": "bot",
    "agent": "agent",
}


def parse_transcript(text: str) -> list[dict[str, Any]]:
    """`[2026-03-01T10:00:01.234Z] user: ...` / `[...] assistant: ...` lines into turns
    (user: the customer; assistant: the voice agent, role bot). A line without the
    prefix continues the turn before it."""
    from callscribe.connectors.cloudvoice import parse_time

    turns: list[dict[str, Any]] = []
    first: datetime | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        when = parse_time(match.group("ts")) if match else None
        if match is None or when is None:
            if turns:
                turns[-1]["text"] = f"{turns[-1]['text']} {line}".strip()
            continue
        first = first or when
        turns.append(
            {
                "role": _ROLE.get(match.group("who").strip().lower(), "unknown"),
                "text": match.group("text").strip(),
                "start_ms": max(0, int((when - first).total_seconds() * 1000)),
            }
        )
    turns = [t for t in turns if t["text"]]
    for i, turn in enumerate(turns):
        spoken_ms = 350 * max(1, len(turn["text"].split()))  # about 170 words a minute
        nxt = turns[i + 1]["start_ms"] if i + 1 < len(turns) else None
        turn["end_ms"] = max(
            turn["start_ms"], nxt if nxt is not None else turn["start_ms"] + spoken_ms
        )
    return turns


# -- sync --------------------------------------------------------------------------------


@dataclass
class SyncOutcome:
    run_id: uuid.UUID
    status: str
    seen: int = 0
    imported: int = 0
    duplicates: int = 0
    pending: int = 0
    failed: int = 0
    error: str | None = None
    call_ids: list[uuid.UUID] = field(default_factory=list)


def _claim_sync(session: Session, connector_id: uuid.UUID) -> bool:
    now = utcnow()
    result = session.execute(
        update(Connector)
        .where(
            Connector.id == connector_id,
            or_(Connector.sync_lease_at.is_(None), Connector.sync_lease_at < now - SYNC_LEASE),
        )
        .values(sync_lease_at=now)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def sync_connector(connector_id: uuid.UUID | str, *, trigger: str = "manual") -> SyncOutcome:
    """Import the calls since the cursor. Conflict when the connector is disabled or a
    sync of it is running; a provider failure is a `failed` sync (logged, cursor kept)."""
    cid = uuid.UUID(str(connector_id))
    with session_scope() as session:
        connector = session.get(Connector, cid)
        if connector is None:
            raise NotFound("Connector not found.")
        if not connector.enabled:
            raise Conflict(
                "The connector is disabled; enable it to sync.", code="connector_disabled"
            )
        if not _claim_sync(session, cid):
            raise Conflict("A sync of this connector is already running.", code="sync_running")
        run = SyncRun(
            company_id=connector.company_id,
            connector_id=cid,
            trigger=trigger,
            status="running",
            cursor_before=connector.cursor,
        )
        session.add(run)
        session.flush()
        outcome = SyncOutcome(run_id=run.id, status="running")
        cursor = connector.cursor
        try:
            snapshot = ConnectorSnapshot.of(connector)
        except CallscribeError as exc:  # undecryptable credentials
            snapshot, outcome.status, outcome.error = None, "failed", exc.message
    new_cursor = cursor
    if snapshot is not None:
        new_cursor = _run_sync(snapshot, cursor, outcome)
    with session_scope() as session:
        done = session.get(SyncRun, outcome.run_id)
        connector = session.get(Connector, cid)
        assert done is not None
        run = done
        run.status = outcome.status
        run.seen, run.imported, run.duplicates = outcome.seen, outcome.imported, outcome.duplicates
        run.pending, run.failed, run.error = outcome.pending, outcome.failed, outcome.error
        run.finished_at = utcnow()
        run.cursor_after = new_cursor
        if connector is not None:
            if outcome.status == "succeeded":
                connector.cursor = new_cursor
            connector.sync_lease_at = None
            connector.last_sync_at = run.finished_at
            connector.last_sync_status = outcome.status
            connector.last_sync_error = outcome.error
            connector.last_sync_imported = outcome.imported
    log.info(
        "connector %s sync %s: %d seen, %d imported, %d failed",
        cid,
        outcome.status,
        outcome.seen,
        outcome.imported,
        outcome.failed,
    )
    return outcome


def _run_sync(
    connector: ConnectorSnapshot, cursor: dict[str, Any] | None, outcome: SyncOutcome
) -> dict[str, Any] | None:
    client = connector.client
    last_seen: datetime | None = None
    earliest_pending: datetime | None = None
    problems: list[str] = []
    try:
        for page in client.list_calls(cursor):
            for ref in page.calls:
                outcome.seen += 1
                result = import_call(connector, ref)
                if result.status == "imported":
                    outcome.imported += 1
                    assert result.call_id is not None
                    outcome.call_ids.append(result.call_id)
                elif result.status == "duplicate":
                    outcome.duplicates += 1
                elif result.status == "pending":
                    outcome.pending += 1
                    if ref.created_at and (
                        earliest_pending is None or ref.created_at < earliest_pending
                    ):
                        earliest_pending = ref.created_at
                else:
                    outcome.failed += 1
                    problems.append(result.error or "unknown error")
                if ref.created_at and (last_seen is None or ref.created_at > last_seen):
                    last_seen = ref.created_at
    except CallscribeError as exc:
        outcome.status = "failed"
        outcome.error = client.redact(exc.message)
        return cursor
    except Exception as exc:
        log.error(
            "connector %s sync broke: %s: %s",
            connector.id,
            type(exc).__name__,
            client.redact(str(exc))[:300],
        )
        outcome.status = "failed"
        outcome.error = f"Internal error during the sync ({type(exc).__name__}); try again."
        return cursor
    outcome.status = "succeeded"
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = (
            f" (and {len(problems) - MAX_ERRORS_SHOWN} more)"
            if len(problems) > MAX_ERRORS_SHOWN
            else ""
        )
        outcome.error = f"{len(problems)} call(s) could not be imported: {shown}{more}"
    if earliest_pending is not None and (last_seen is None or earliest_pending < last_seen):
        last_seen = earliest_pending  # calls still in progress are listed again next time
    return client.cursor_for(last_seen) if last_seen is not None else cursor


def due_connectors(session: Session) -> list[uuid.UUID]:
    """Enabled connectors whose poll interval has passed since their last sync, and that
    are not syncing now."""
    now = utcnow()
    due = []
    for connector in session.scalars(select(Connector).where(Connector.enabled.is_(True))):
        if is_syncing(connector):
            continue
        last = connector.last_sync_at
        if last is None or last + timedelta(seconds=connector.poll_interval_s) <= now:
            due.append(connector.id)
    return due


# -- real-time webhooks ------------------------------------------------------------------

_RUN_ID = re.compile(r"^\d{1,19}$")


def receive_webhook(
    session: Session,
    connector_type: str,
    connector_id: str,
    secret: str | None,
    delivery_id: str | None,
    body: bytes,
) -> tuple[InboundEvent, bool]:
    """Check and record one delivery. Returns (event, new); a re-delivery (same run id or
    same delivery id) returns the first event and False. The caller commits, then
    enqueues `connectors.import_run` when new."""
    try:
        cid = uuid.UUID(connector_id)
    except ValueError as exc:
        raise NotFound("No such connector.") from exc
    connector = session.get(Connector, cid)
    if connector is None or connector.type != connector_type or not connector.enabled:
        raise NotFound("No such connector, or it is disabled.")
    expected = connector.webhook_secret_enc and decrypt_secret(connector.webhook_secret_enc)
    if not secret:
        raise Unauthorized(
            f"The {WEBHOOK_HEADER} header is missing. Set it in CloudVoice as a credential "
            'of type "custom header".'
        )
    if not expected or not constant_time_equals(secret.strip(), expected):
        raise Unauthorized(f"The {WEBHOOK_HEADER} header does not match this connector's secret.")
    run_id = _run_id_from(body)
    source = f"{connector.type}:{connector.id}"
    delivery = (delivery_id or "").strip()[:150] or None
    keys = [f"run:{run_id}"] + ([f"delivery:{delivery}"] if delivery else [])
    event = InboundEvent(
        company_id=connector.company_id,
        connector_id=connector.id,
        source=source,
        external_id=keys[0],
        call_ref=run_id,
        status="received",
        payload={"run_id": run_id, "delivery_id": delivery},
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
            if delivery:
                session.add(
                    InboundEvent(
                        company_id=connector.company_id,
                        connector_id=connector.id,
                        source=source,
                        external_id=keys[1],
                        call_ref=run_id,
                        status="duplicate",  # a marker: the run's event does the work
                        payload={"run_event_id": str(event.id)},
                    )
                )
                session.flush()
    except IntegrityError:
        existing = session.scalars(
            select(InboundEvent)
            .where(InboundEvent.source == source, InboundEvent.external_id.in_(keys))
            .order_by(InboundEvent.created_at)
        ).first()
        if existing is None:
            raise
        return existing, _rearm_failed(session, existing)
    return event, True


def _rearm_failed(session: Session, event: InboundEvent) -> bool:
    """A re-delivery of a run whose import failed tries it again (once per delivery)."""
    if event.status != "failed" or not event.external_id.startswith("run:"):
        return False
    result = session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event.id, InboundEvent.status == "failed")
        .values(status="received", error=None)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _run_id_from(body: bytes) -> str:
    try:
        payload = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            'The body is not JSON. Use the payload template {"run_id": "{{workflow_run_id}}"}.',
            code="malformed_body",
        ) from exc
    if not isinstance(payload, dict) or "run_id" not in payload:
        raise BadRequest(
            'The body has no run_id. Use the payload template {"run_id": "{{workflow_run_id}}"}.',
            code="malformed_body",
        )
    value = payload["run_id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest("run_id must be the run's number.", code="malformed_body")
    run_id = str(value).strip()
    if not _RUN_ID.match(run_id):
        raise BadRequest(
            f"run_id must be the run's number, got {run_id[:40]!r}: check that the template "
            "uses {{workflow_run_id}}.",
            code="malformed_body",
        )
    return str(int(run_id))


def import_event(event_id: uuid.UUID | str) -> str:
    """Fetch and import the run of one delivery; returns the event's final status."""
    eid = uuid.UUID(str(event_id))
    with session_scope() as session:
        event = session.get(InboundEvent, eid)
        if event is None or event.status != "received":
            return event.status if event else "missing"
        connector = session.get(Connector, event.connector_id)
        if connector is None or not connector.enabled:
            event.status, event.processed_at = "skipped", utcnow()
            event.error = "The connector was disabled before the call was fetched."
            return "skipped"
        snapshot = ConnectorSnapshot.of(connector)
        run = SyncRun(
            company_id=connector.company_id,
            connector_id=connector.id,
            trigger="webhook",
            status="running",
            seen=1,
        )
        session.add(run)
        session.flush()
        run_id, call_ref = run.id, event.call_ref
    try:
        result = import_call(snapshot, CallRef(call_ref))
    except CallscribeError as exc:
        result = ImportResult("failed", error=snapshot.client.redact(exc.message))
    except Exception as exc:
        log.error("import of delivery %s broke: %s", eid, type(exc).__name__)
        result = ImportResult("failed", error=f"Internal error ({type(exc).__name__}).")
    if result.status == "pending":
        result = ImportResult(
            "failed", error="The call is still in progress at CloudVoice; the next sync imports it."
        )
    with session_scope() as session:
        event = session.get(InboundEvent, eid)
        log_row = session.get(SyncRun, run_id)
        assert event is not None and log_row is not None
        event.status = "imported" if result.status == "imported" else result.status
        event.call_id, event.error, event.processed_at = result.call_id, result.error, utcnow()
        log_row.status = "failed" if result.status == "failed" else "succeeded"
        log_row.imported = int(result.status == "imported")
        log_row.duplicates = int(result.status == "duplicate")
        log_row.failed = int(result.status == "failed")
        log_row.error = result.error
        log_row.finished_at = utcnow()
    return result.status


# -- shapes for the API and the page -----------------------------------------------------


def connector_view(connector: Connector) -> ConnectorOut:
    cls = get_connector_type(connector.type)
    webhook = None
    if cls.supports_webhook:
        webhook = WebhookInfo(
            url=webhook_url(connector),
            header=WEBHOOK_HEADER,
            payload_template=WEBHOOK_PAYLOAD_TEMPLATE,
            secret_set=bool(connector.webhook_secret_enc),
            instructions=WEBHOOK_INSTRUCTIONS,
        )
    return ConnectorOut.model_validate(connector).model_copy(
        update={"type_label": cls.label, "syncing": is_syncing(connector), "webhook": webhook}
    )


def type_views() -> list[ConnectorTypeOut]:
    # a type is a class, which pydantic does not read attributes from: read them here
    fields = ConnectorTypeOut.model_fields
    return [
        ConnectorTypeOut.model_validate({name: getattr(cls, name) for name in fields})
        for cls in connector_types().values()
    ]


def run_view(run: SyncRun) -> SyncRunOut:
    return SyncRunOut.model_validate(run)
