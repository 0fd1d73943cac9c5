"""Connectors: the company's provider accounts (create, edit, test, webhook secrets) and
their shapes for the API and the page. Syncs are `connectors.sync`, real-time deliveries
`connectors.webhooks`, importing one call `connectors.importing`.

Credentials are decrypted only to build a connector client; every message that leaves
here passes through the client's `redact`.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.auth.principal import Principal
from callscribe.connectors.base import (
    ConnectorType,
    Recording,
    download,
)
from callscribe.connectors.cloudvoice import (
    WEBHOOK_HEADER,
)
from callscribe.connectors.models import Connector, SyncRun
from callscribe.connectors.registry import connector_types, get_connector_type
from callscribe.connectors.schemas import (
    ConnectionTest,
    ConnectorCreate,
    ConnectorOut,
    ConnectorTypeOut,
    ConnectorUpdate,
    SyncRunOut,
    WebhookInfo,
)
from callscribe.db import utcnow
from callscribe.errors import (
    BadRequest,
    CallscribeError,
    NotFound,
    ValidationFailed,
)
from callscribe.security.crypto import (
    decrypt_secret,
    encrypt_secret,
    new_token,
    secret_last4,
)
from callscribe.security.outbound import check_url
from callscribe.settings import get_settings
from callscribe.speech import audio as speech_audio
from callscribe.storage.staging import StagedAudio

log = logging.getLogger(__name__)

SYNC_LEASE = timedelta(minutes=30)  # a sync holding the lease longer than this died
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024


# -- connectors --------------------------------------------------------------------------


def _hint(cls: type[ConnectorType], credentials: dict[str, str]) -> str | None:
    parts = []
    for spec in cls.credential_fields:
        value = credentials.get(spec.name) or ""
        if not value:
            continue
        if not spec.secret:
            parts.append(value[:60])
        elif last4 := secret_last4(value):
            parts.append(f"…{last4}")
        else:
            parts.append("set")
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
    missing = [
        spec.label for spec in cls.credential_fields if spec.required and not creds.get(spec.name)
    ]
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


# -- mixing two tracks (speech.audio does the audio) ---------------------------------


def mix_tracks(client: ConnectorType, agent: Recording, customer: Recording) -> StagedAudio:
    """Download both tracks and mix them into one stereo WAV (speech.audio): channel 0 the
    agent (or bot), channel 1 the customer, padded to the longer one."""
    parts = []
    try:
        for rec in (agent, customer):
            staged = StagedAudio()
            parts.append(staged)
            download(rec, staged, redact=client.redact)
            staged.close()
        out = StagedAudio()
        try:
            speech_audio.mix_tracks_to_wav(parts[0].path, parts[1].path, out)
        except BaseException:
            out.discard()
            raise
    finally:
        for staged in parts:
            staged.discard()
    return out


# -- shapes for the API and the page -----------------------------------------------------


def connector_view(connector: Connector) -> ConnectorOut:
    cls = get_connector_type(connector.type)
    webhook = None
    if cls.supports_webhook:
        webhook = WebhookInfo(
            url=webhook_url(connector),
            header=getattr(cls, "webhook_header", WEBHOOK_HEADER),
            payload_template=getattr(cls, "webhook_payload_template", ""),
            secret_set=bool(connector.webhook_secret_enc),
            uses_secret=getattr(cls, "webhook_uses_secret", True),
            instructions=getattr(cls, "webhook_instructions", ""),
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
