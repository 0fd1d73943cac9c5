"""Companies, users, API keys, agents, company settings and the technical log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callscribe.accounts.models import (
    ROLES,
    Agent,
    ApiKey,
    Company,
    CompanySettings,
    TechnicalLog,
    User,
)
from callscribe.db import utcnow
from callscribe.errors import NotFound, Unauthorized, ValidationFailed
from callscribe.security.crypto import (
    constant_time_equals,
    decrypt_secret,
    encrypt_secret,
    hash_password,
    new_token,
    sha256_hex,
)

API_KEY_PREFIX = "cs_"
MAX_ATTRIBUTE_LEN = 100


@dataclass(frozen=True)
class Principal:
    """Who is asking: a company, and a user (web) or an API key (integrations)."""

    company_id: uuid.UUID
    role: str = "admin"  # API keys act as admin of their company
    user_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    @property
    def sees_only_own_calls(self) -> bool:
        return self.role == "agent"


# -- companies ---------------------------------------------------------------------------


def create_company(session: Session, name: str) -> Company:
    name = name.strip()
    if not name:
        raise ValidationFailed("A company needs a name.")
    company = Company(name=name[:200])
    session.add(company)
    session.flush()
    session.add(CompanySettings(company_id=company.id))
    session.flush()
    return company


def get_company(session: Session, company_id: uuid.UUID) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound("Company not found.")
    return company


def find_company(session: Session, name_or_id: str) -> Company:
    try:
        company = session.get(Company, uuid.UUID(name_or_id))
    except ValueError:
        company = None
    if company is None:
        company = session.scalars(select(Company).where(Company.name == name_or_id)).first()
    if company is None:
        raise NotFound(f"No company named {name_or_id!r}.")
    return company


def get_company_settings(session: Session, company_id: uuid.UUID) -> CompanySettings:
    cs = session.get(CompanySettings, company_id)
    if cs is None:
        cs = CompanySettings(company_id=company_id)
        session.add(cs)
        session.flush()
    return cs


def set_ai_key(cs: CompanySettings, api_key: str | None) -> None:
    if api_key:
        cs.ai_api_key_enc = encrypt_secret(api_key)
        cs.ai_api_key_last4 = api_key[-4:]
    else:
        cs.ai_api_key_enc = None
        cs.ai_api_key_last4 = None


def ai_key(cs: CompanySettings) -> str | None:
    return decrypt_secret(cs.ai_api_key_enc) if cs.ai_api_key_enc else None


def speech_key(cs: CompanySettings) -> str | None:
    return decrypt_secret(cs.speech_api_key_enc) if cs.speech_api_key_enc else None


PRESET_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "mistral": "https://api.mistral.ai/v1",
}


def ai_settings_view(cs: CompanySettings) -> dict:
    """Company AI settings as shown to admins: secrets only as 'set' and last 4."""
    from callscribe.minutes.schemas import DEFAULT_OUTCOME_LABELS

    return {
        "ai_engine": cs.ai_engine or "local",
        "ai_provider": cs.ai_provider,
        "ai_base_url": cs.ai_base_url,
        "ai_model": cs.ai_model,
        "ai_api_key_set": bool(cs.ai_api_key_enc),
        "ai_api_key_last4": cs.ai_api_key_last4,
        "speech_engine": cs.speech_engine or "faster-whisper",
        "speech_model": cs.speech_model,
        "speech_base_url": cs.speech_base_url,
        "speech_api_key_set": bool(cs.speech_api_key_enc),
        "speech_language": cs.speech_language,
        "outcome_labels": cs.outcome_labels or list(DEFAULT_OUTCOME_LABELS),
        "channel_roles": cs.channel_roles or {},
        "redact_pii": bool(cs.redact_pii),
    }


def update_ai_settings(cs: CompanySettings, changes: dict) -> bool:
    """Apply the fields present in `changes`. Returns True when something a waiting call
    may need (engine, key, model, base URL) changed."""
    from callscribe.security.outbound import check_url

    resume = False
    if "ai_provider" in changes and changes["ai_provider"] in PRESET_BASE_URLS:
        changes.setdefault("ai_base_url", PRESET_BASE_URLS[changes["ai_provider"]])
    for url_field in ("ai_base_url", "speech_base_url"):
        if changes.get(url_field):
            check_url(changes[url_field])
            changes[url_field] = changes[url_field].rstrip("/")
    for key, value in changes.items():
        if key == "ai_api_key":
            set_ai_key(cs, value or None)
            resume = True
        elif key == "speech_api_key":
            cs.speech_api_key_enc = encrypt_secret(value) if value else None
            resume = True
        elif key == "outcome_labels" and value is not None:
            labels = [str(v).strip()[:MAX_ATTRIBUTE_LEN] for v in value if str(v).strip()]
            if not labels:
                raise ValidationFailed("Give at least one outcome label.")
            cs.outcome_labels = list(dict.fromkeys(labels))
        else:
            setattr(cs, key, value)
            resume = resume or key.startswith("ai_") or key.startswith("speech_")
    if (cs.ai_engine or "local") != "local" and not cs.ai_base_url:
        raise ValidationFailed("An OpenAI-compatible engine needs a base URL (or a provider).")
    return resume


# -- users -------------------------------------------------------------------------------


def create_user(
    session: Session,
    company_id: uuid.UUID,
    *,
    email: str,
    name: str,
    password: str | None,
    role: str = "agent",
    is_platform_admin: bool = False,
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("Enter a valid email address.")
    if role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.")
    if session.scalars(select(User).where(User.email == email)).first():
        raise ValidationFailed("A user with this email already exists.")
    if password is not None and len(password) < 8:
        raise ValidationFailed("Passwords need at least 8 characters.")
    user = User(
        company_id=company_id,
        email=email,
        name=name.strip() or email,
        password_hash=hash_password(password) if password else None,
        role=role,
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    session.flush()
    return user


# -- API keys ----------------------------------------------------------------------------


def create_api_key(
    session: Session, company_id: uuid.UUID, name: str = "API key", created_by=None
) -> tuple[ApiKey, str]:
    """Returns the row and the plain key; the key is shown once and stored hashed."""
    plain = new_token(API_KEY_PREFIX, 30)
    row = ApiKey(
        company_id=company_id,
        name=(name or "API key")[:200],
        prefix=plain[:9],
        key_hash=sha256_hex(plain),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, plain


def authenticate_api_key(session: Session, plain: str | None) -> Principal:
    if not plain:
        raise Unauthorized("An API key is required (form field api_key or Authorization: Bearer).")
    digest = sha256_hex(plain.strip())
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # compare_digest on the hash keeps the check constant-time for equal-length inputs
    if row is None or row.revoked_at is not None or not constant_time_equals(row.key_hash, digest):
        raise Unauthorized("The API key is not valid or was revoked.")
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # bounded write rate on hot keys
    return Principal(company_id=row.company_id, role="admin", api_key_id=row.id)


def list_api_keys(session: Session, company_id: uuid.UUID) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.company_id == company_id).order_by(ApiKey.created_at)
        )
    )


def revoke_api_key(session: Session, company_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.company_id != company_id:
        raise NotFound("API key not found.")
    row.revoked_at = row.revoked_at or utcnow()
    return row


# -- agents ------------------------------------------------------------------------------


def find_agent(
    session: Session,
    company_id: uuid.UUID,
    *,
    agent_id: str | None = None,
    extension_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Agent | None:
    """Resolve an agent by internal id, then extension id, then email, then phone."""
    if agent_id:
        try:
            agent = session.get(Agent, uuid.UUID(str(agent_id)))
        except ValueError:
            agent = None
        if agent is not None and agent.company_id == company_id:
            return agent
        # a user id works too: the agent linked to that user
        try:
            user = session.get(User, uuid.UUID(str(agent_id)))
        except ValueError:
            user = None
        if user is not None and user.company_id == company_id and user.agent_id:
            return session.get(Agent, user.agent_id)
    q = select(Agent).where(Agent.company_id == company_id)
    if extension_id:
        found = session.scalars(q.where(Agent.extension_id == extension_id)).first()
        if found:
            return found
    if email:
        found = session.scalars(q.where(Agent.email == email.strip().lower())).first()
        if found:
            return found
    if phone:
        found = session.scalars(q.where(Agent.phone == phone.strip())).first()
        if found:
            return found
    return None


def upsert_agent(
    session: Session,
    company_id: uuid.UUID,
    *,
    name: str,
    source: str = "manual",
    external_id: str | None = None,
    **fields: str | None,
) -> Agent:
    agent = None
    if external_id:
        agent = session.scalars(
            select(Agent).where(
                Agent.company_id == company_id,
                Agent.source == source,
                Agent.external_id == external_id,
            )
        ).first()
    if agent is None:
        agent = Agent(company_id=company_id, source=source, external_id=external_id, name=name)
        session.add(agent)
    agent.name = trim_attribute(session, company_id, "agent.name", name) or agent.name
    for key, value in fields.items():
        if value is not None:
            setattr(agent, key, trim_attribute(session, company_id, f"agent.{key}", value))
    session.flush()
    return agent


def list_agents(session: Session, company_id: uuid.UUID, q: str | None = None) -> list[Agent]:
    stmt = select(Agent).where(Agent.company_id == company_id).order_by(Agent.name)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Agent.name.ilike(like), Agent.email.ilike(like)))
    return list(session.scalars(stmt))


# -- technical log -----------------------------------------------------------------------


def log_technical(
    session: Session, company_id: uuid.UUID | None, source: str, message: str, level="warning"
) -> None:
    session.add(
        TechnicalLog(company_id=company_id, source=source, message=message[:4000], level=level)
    )


def list_technical_log(
    session: Session, company_id: uuid.UUID, limit: int = 100
) -> list[TechnicalLog]:
    return list(
        session.scalars(
            select(TechnicalLog)
            .where(TechnicalLog.company_id == company_id)
            .order_by(TechnicalLog.id.desc())
            .limit(limit)
        )
    )


def trim_attribute(
    session: Session, company_id: uuid.UUID, name: str, value: str | None
) -> str | None:
    """Attribute and label values are at most 100 characters; longer ones are trimmed and
    the company's technical log says so."""
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > MAX_ATTRIBUTE_LEN:
        log_technical(
            session,
            company_id,
            "attributes",
            f"{name} was {len(value)} characters; trimmed to {MAX_ATTRIBUTE_LEN}.",
        )
        value = value[:MAX_ATTRIBUTE_LEN]
    return value
