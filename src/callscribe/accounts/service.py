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
    from callscribe.minutes.analyzers import PRESETS
    from callscribe.security.outbound import check_url

    resume = False
    if "ai_provider" in changes and changes["ai_provider"] in PRESETS:
        changes.setdefault("ai_base_url", PRESETS[changes["ai_provider"]])
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


def has_users(session: Session) -> bool:
    """False on a fresh install: the first visit of the web app goes to /setup."""
    return session.scalars(select(User.id).limit(1)).first() is not None


def setup_first_account(
    session: Session, *, company_name: str, name: str, email: str, password: str
) -> User:
    """The first account of an install: creates its company and becomes the platform
    admin. Refused once any user exists (the setup page cannot be replayed)."""
    from callscribe.errors import Conflict

    if has_users(session):
        raise Conflict("This installation is already set up; sign in instead.")
    company = create_company(session, company_name)
    return create_user(
        session,
        company.id,
        email=email,
        name=name,
        password=password,
        role="admin",
        is_platform_admin=True,
    )


_DUMMY_HASH: list[str] = []


def authenticate_user(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None. An unknown email costs
    the same argon2 verification as a wrong password (no account enumeration by time)."""
    from callscribe.security.crypto import verify_password

    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.password_hash:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password(new_token("", 12)))
        verify_password(password, _DUMMY_HASH[0])
        return None
    if not verify_password(password, user.password_hash) or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed("Passwords need at least 8 characters.")
    user.password_hash = hash_password(password)


def list_users(session: Session, company_id: uuid.UUID) -> list[User]:
    return list(
        session.scalars(select(User).where(User.company_id == company_id).order_by(User.name))
    )


def get_user(session: Session, company_id: uuid.UUID, user_id: uuid.UUID | str) -> User:
    try:
        user = session.get(User, uuid.UUID(str(user_id)))
    except ValueError:
        user = None
    if user is None or user.company_id != company_id:
        raise NotFound("User not found.")
    return user


def update_user(
    session: Session,
    company_id: uuid.UUID,
    user: User,
    *,
    role: str | None = None,
    is_active: bool | None = None,
    name: str | None = None,
    acting_user_id: uuid.UUID | None = None,
) -> User:
    """Change a user's role, name or active flag. The company keeps at least one active
    admin, and nobody demotes or deactivates themselves."""
    if role is not None and role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.")
    demoting = role is not None and role != "admin" and user.role == "admin"
    deactivating = is_active is False and user.is_active
    if (demoting or deactivating) and acting_user_id == user.id:
        raise ValidationFailed("You cannot demote or deactivate yourself.")
    if (demoting or deactivating) and user.role == "admin":
        admins = [u for u in list_users(session, company_id) if u.role == "admin" and u.is_active]
        if len(admins) <= 1:
            raise ValidationFailed("The company needs at least one active admin.")
    if role is not None:
        user.role = role
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            close_all_user_sessions(session, user.id)
    if name is not None and name.strip():
        user.name = name.strip()[:200]
    session.flush()
    return user


def link_user_agent(
    session: Session,
    company_id: uuid.UUID,
    user: User,
    *,
    extension_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Agent | None:
    """Attribute calls to `user`: link the agent record found by extension id, email or
    phone, creating it (named after the user) when there is none. All empty: unlink."""
    extension_id = (extension_id or "").strip() or None
    email = (email or "").strip().lower() or None
    phone = (phone or "").strip() or None
    if not (extension_id or email or phone):
        user.agent_id = None
        session.flush()
        return None
    agent = find_agent(session, company_id, extension_id=extension_id, email=email, phone=phone)
    if agent is None:
        agent = upsert_agent(
            session,
            company_id,
            name=user.name,
            extension_id=extension_id,
            email=email,
            phone=phone,
        )
    else:
        for key, value in (("extension_id", extension_id), ("email", email), ("phone", phone)):
            if value and not getattr(agent, key):
                setattr(agent, key, trim_attribute(session, company_id, f"agent.{key}", value))
    user.agent_id = agent.id
    session.flush()
    return agent


INVITE_TTL_S = 7 * 24 * 3600  # invitation links work for a week


def invite_token(user: User, ttl_s: int = INVITE_TTL_S) -> str:
    """A signed link token to choose a password. It stops working once a password is
    set (it is bound to the current password hash), so it is single-use."""
    import time

    from callscribe.security.crypto import sign

    return sign(_invite_message(user), int(time.time()) + ttl_s)


def _invite_message(user: User) -> str:
    return f"invite:{user.id}:{sha256_hex(user.password_hash or '')}"


def verify_invite_token(user: User, token: str) -> bool:
    from callscribe.security.crypto import verify_signature

    return user.is_active and verify_signature(_invite_message(user), token)


# -- browser sessions --------------------------------------------------------------------

SESSION_TTL_S = 14 * 24 * 3600  # sign in again after two weeks
SESSION_TOUCH_S = 60  # last_seen_at is written at most once a minute per session


def open_user_session(
    session: Session, user: User, *, ip: str | None = None, user_agent: str | None = None
) -> str:
    """A new signed-in session for `user`; returns the token for the cookie (stored only
    as its hash)."""
    from datetime import timedelta

    from callscribe.accounts.models import UserSession

    token = new_token("", 32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=sha256_hex(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=SESSION_TTL_S),
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    return token


def user_for_session_token(session: Session, token: str | None) -> User | None:
    """The active user of a live session, else None (unknown, revoked, expired)."""
    from callscribe.accounts.models import UserSession

    if not token:
        return None
    digest = sha256_hex(token)
    row = session.scalars(select(UserSession).where(UserSession.token_hash == digest)).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if (now - row.last_seen_at).total_seconds() > SESSION_TOUCH_S:
        row.last_seen_at = now
    return user


def close_user_session(session: Session, token: str | None) -> None:
    from callscribe.accounts.models import UserSession

    if not token:
        return
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == sha256_hex(token))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def close_all_user_sessions(session: Session, user_id: uuid.UUID) -> int:
    """Sign a user out everywhere (deactivated, password reset)."""
    from callscribe.accounts.models import UserSession

    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    session.flush()
    return len(rows)


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


# -- OAuth apps (client-credentials grant) ------------------------------------------------

OAUTH_CLIENT_PREFIX = "csapp_"
OAUTH_SECRET_PREFIX = "cssec_"
OAUTH_TOKEN_PREFIX = "csat_"
OAUTH_TOKEN_TTL_S = 16 * 3600  # access tokens live 16 hours


def create_oauth_app(session: Session, principal: Principal, name: str) -> tuple[OAuthApp, str]:
    """Only company API keys (and admins signed in) create apps; an app's own token
    cannot mint more apps. Returns the row and the plain client secret (shown once)."""
    from callscribe.errors import Forbidden

    if principal.api_key_id is None and not (principal.user_id and principal.role == "admin"):
        raise Forbidden("OAuth apps are created with a company API key.")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("An OAuth app needs a name.")
    secret = new_token(OAUTH_SECRET_PREFIX, 32)
    app = OAuthApp(
        company_id=principal.company_id,
        name=name[:200],
        client_id=new_token(OAUTH_CLIENT_PREFIX, 18),
        client_secret_hash=sha256_hex(secret),
        created_by_key=principal.api_key_id,
    )
    session.add(app)
    session.flush()
    return app, secret


def list_oauth_apps(session: Session, company_id: uuid.UUID) -> list[OAuthApp]:
    return list(
        session.scalars(
            select(OAuthApp).where(OAuthApp.company_id == company_id).order_by(OAuthApp.created_at)
        )
    )


def revoke_oauth_app(session: Session, company_id: uuid.UUID, app_id: uuid.UUID) -> OAuthApp:
    app = session.get(OAuthApp, app_id)
    if app is None or app.company_id != company_id:
        raise NotFound("OAuth app not found.")
    app.revoked_at = app.revoked_at or utcnow()
    for token in session.scalars(select(OAuthToken).where(OAuthToken.app_id == app.id)):
        token.revoked = True
    session.flush()
    return app


def issue_oauth_token(
    session: Session, client_id: str, client_secret: str, *, now: datetime | None = None
) -> tuple[OAuthToken, str]:
    """Client-credentials grant. `now` is the issue time (tests move the clock with it)."""
    app = session.scalars(select(OAuthApp).where(OAuthApp.client_id == client_id)).first()
    digest = sha256_hex(client_secret or "")
    if (
        app is None
        or app.revoked_at is not None
        or not constant_time_equals(app.client_secret_hash, digest)
    ):
        raise Unauthorized(
            "invalid_client: unknown client, wrong secret or revoked app.", code="invalid_client"
        )
    issued = now or utcnow()
    plain = new_token(OAUTH_TOKEN_PREFIX, 32)
    token = OAuthToken(
        app_id=app.id,
        company_id=app.company_id,
        token_hash=sha256_hex(plain),
        created_at=issued,
        expires_at=issued + timedelta(seconds=OAUTH_TOKEN_TTL_S),
    )
    session.add(token)
    session.flush()
    return token, plain


def authenticate_oauth_token(
    session: Session, plain: str, *, now: datetime | None = None
) -> Principal:
    digest = sha256_hex(plain.strip())
    token = session.scalars(select(OAuthToken).where(OAuthToken.token_hash == digest)).first()
    if token is None or not constant_time_equals(token.token_hash, digest):
        raise Unauthorized("The access token is not valid.", code="invalid_token")
    app = session.get(OAuthApp, token.app_id)
    if token.revoked or app is None or app.revoked_at is not None:
        raise Unauthorized("The access token was revoked.", code="invalid_token")
    if (now or utcnow()) >= token.expires_at:
        raise Unauthorized("The access token expired; request a new one.", code="token_expired")
    return Principal(company_id=token.company_id, role="admin")


from datetime import datetime, timedelta  # noqa: E402  (OAuth section)

from callscribe.accounts.models import OAuthApp, OAuthToken  # noqa: E402
