"""Companies, users, agents, company settings and the technical log. (API keys, OAuth
apps and browser sessions are auth's; the AI and speech settings are minutes'.)"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts.models import (
    Agent,
    Company,
    CompanySettings,
    TechnicalLog,
    User,
)
from callscribe.auth.permissions import Role
from callscribe.auth.ratelimit import password_hash_slot
from callscribe.auth.sessions import close_all_user_sessions
from callscribe.auth.users import UserRecord
from callscribe.db import utcnow
from callscribe.errors import NotFound, ValidationFailed
from callscribe.kit.timefmt import check_time_zone
from callscribe.security.crypto import hash_password, new_token, sha256_hex

MAX_ATTRIBUTE_LEN = 100
ROLE_NAMES = ", ".join(Role)


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


# -- users -------------------------------------------------------------------------------


# one message for every refused address (issue 17 #16: no cross-company enumeration)
EMAIL_REFUSED = "This email address cannot be used for a new user: check it or use another."


def create_user(
    session: Session,
    company_id: uuid.UUID,
    *,
    email: str,
    name: str,
    password: str | None,
    role: Role | str = Role.AGENT,
    is_platform_admin: bool = False,
) -> User:
    """A user of the company. Emails are unique across the install (signing in is by
    email alone), so an address another company uses is refused with the same message as
    an address that is not one at all: nothing says that it exists elsewhere."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed(EMAIL_REFUSED)
    if role not in set(Role):
        raise ValidationFailed(f"Role must be one of {ROLE_NAMES}.")
    taken = session.scalars(select(User).where(User.email == email)).first()
    if taken is not None:
        if taken.company_id == company_id:  # the admin sees this user in their own list
            raise ValidationFailed("A user of your company already has this email.")
        raise ValidationFailed(EMAIL_REFUSED)
    if password is not None and len(password) < 8:
        raise ValidationFailed("Passwords need at least 8 characters.")
    user = User(
        company_id=company_id,
        email=email,
        name=name.strip() or email,
        password_hash=hash_password(password) if password else None,
        role=Role(role),
        is_platform_admin=is_platform_admin,
    )
    try:
        with session.begin_nested():  # a concurrent request took the address first
            session.add(user)
    except IntegrityError as exc:
        raise ValidationFailed(EMAIL_REFUSED) from exc
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
        role=Role.ADMIN,
        is_platform_admin=True,
    )


_DUMMY_HASH: list[str] = []


def authenticate_user(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None. An unknown email costs
    the same argon2 verification as a wrong password (no account enumeration by time)."""
    from callscribe.security.crypto import verify_password

    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    with password_hash_slot():  # bounded: HashingBusy (503) when all slots stay taken
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
    user.invite_nonce = None  # the link that got here (and any other) is spent


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
    role: Role | str | None = None,
    is_active: bool | None = None,
    name: str | None = None,
    acting_user_id: uuid.UUID | None = None,
) -> User:
    """Change a user's role, name or active flag. The company keeps at least one active
    admin, and nobody demotes or deactivates themselves."""
    if role is not None and role not in set(Role):
        raise ValidationFailed(f"Role must be one of {ROLE_NAMES}.")
    demoting = role is not None and role != Role.ADMIN and user.role == Role.ADMIN
    deactivating = is_active is False and user.is_active
    if (demoting or deactivating) and acting_user_id == user.id:
        raise ValidationFailed("You cannot demote or deactivate yourself.")
    if (demoting or deactivating) and user.role == Role.ADMIN:
        admins = [
            u for u in list_users(session, company_id) if u.role == Role.ADMIN and u.is_active
        ]
        if len(admins) <= 1:
            raise ValidationFailed("The company needs at least one active admin.")
    if role is not None:
        user.role = Role(role)
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            close_all_user_sessions(session, user.id)
    if name is not None and name.strip():
        user.name = name.strip()[:200]
    session.flush()
    return user


def user_record(session: Session, user_id: uuid.UUID) -> UserRecord | None:
    """What auth needs to know of a user (the app shell hands this loader to auth)."""
    user = session.get(User, user_id)
    if user is None:
        return None
    company = session.get(Company, user.company_id)
    return UserRecord(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        company_id=user.company_id,
        company_name=company.name if company else "",
        is_platform_admin=user.is_platform_admin,
        is_active=user.is_active,
        agent_id=user.agent_id,
        password_hash=user.password_hash,
        time_zone=user.time_zone,
        company_time_zone=company.time_zone if company else None,
    )


def set_company_time_zone(session: Session, company_id: uuid.UUID, name: str | None) -> str | None:
    """The company's zone for the pages (None: UTC); unknown names are a 422."""
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound("No such company.")
    company.time_zone = check_time_zone(name)
    session.flush()
    return company.time_zone


def set_user_time_zone(session: Session, user_id: uuid.UUID, name: str | None) -> str | None:
    """The user's own zone (None: the company's); unknown names are a 422."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.time_zone = check_time_zone(name)
    session.flush()
    return user.time_zone


def company_time_zone(session: Session, company_id: uuid.UUID) -> str | None:
    company = session.get(Company, company_id)
    return company.time_zone if company else None


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
    """A signed link token to choose a password. One link is live per user: a new one
    replaces the user's nonce, so every earlier link stops working, and setting a
    password spends it (single use). The caller commits."""
    import time

    from callscribe.security.crypto import sign

    user.invite_nonce = new_token("", 16)
    return sign(_invite_message(user), int(time.time()) + ttl_s)


def _invite_message(user: User) -> str:
    return f"invite:{user.id}:{user.invite_nonce}:{sha256_hex(user.password_hash or '')}"


def verify_invite_token(user: User, token: str) -> bool:
    from callscribe.security.crypto import verify_signature

    if not user.is_active or not user.invite_nonce:
        return False
    return verify_signature(_invite_message(user), token)


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
    session: Session,
    company_id: uuid.UUID | None,
    source: str,
    message: str,
    level: str = "warning",
    *,
    data_set: str | None = None,
    ref: str | None = None,
) -> None:
    """One line of the company's technical log; `data_set` says which data set it is
    about (agents, engagements, turns...), `ref` what produced it (a batch id...)."""
    session.add(
        TechnicalLog(
            company_id=company_id,
            source=source,
            message=message[:4000],
            level=level,
            data_set=data_set,
            ref=ref[:100] if ref else None,
        )
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
