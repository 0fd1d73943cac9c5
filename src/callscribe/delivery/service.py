"""Automations and their deliveries.

A completed call becomes one Delivery per matching enabled automation, with the body
frozen at that moment; each attempt is logged as a DeliveryAttempt. `attempt_delivery`
is the one operation that talks to the outside world: like the pipeline runner it opens
its own short sessions (claim, then record) so no transaction is held open while a
receiver takes its time, and so a second job for the same delivery finds it claimed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent, User
from callscribe.calls import service as calls
from callscribe.calls.models import Engagement
from callscribe.crm.models import Customer
from callscribe.db import session_scope, utcnow
from callscribe.delivery.models import (
    UNFINISHED_STATUSES,
    Automation,
    AutomationKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    SmtpSettings,
)
from callscribe.delivery.schemas import AutomationIn, SmtpSettingsIn, SmtpSettingsOut
from callscribe.delivery.senders import (
    AttemptResult,
    Message,
    SmtpConfig,
    Target,
    get_sender,
)
from callscribe.delivery.webhook import encode_body, new_whsec, whsec_from_secret
from callscribe.errors import BadRequest, CallscribeError, ErrorCode, NotFound, ValidationFailed
from callscribe.events import TRACKER_MATCHED
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page
from callscribe.observability import DELIVERIES
from callscribe.security.crypto import decrypt_secret, encrypt_secret, secret_last4
from callscribe.security.outbound import (
    PrivateAllowList,
    check_allow_entry,
    check_host,
    check_url,
)
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

EVENT = "call.completed"
TEST_EVENT = "test"
# the events an automation may subscribe to (`options["events"]`; default: call.completed)
SUBSCRIBABLE = (EVENT, TRACKER_MATCHED)
RETRYABLE_STATES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
CLAIM_SLACK_S = 1.0  # a job may run this much before its delivery's due time


# -- automations -------------------------------------------------------------------------


def url_hint(url: str) -> str:
    """What admins see of a credential URL again: its host and last 4 characters."""
    host = urlsplit(url).hostname or "?"
    return f"{host} …{url[-4:]}"


def _check_email(address: str) -> str:
    address = address.strip()
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or any(c in address for c in " ,;<>\r\n"):
        raise ValidationFailed(f"{address[:100]!r} is not an email address.")
    return address


def _set_url(session: Session, automation: Automation, url: str) -> None:
    url = url.strip()
    check_url(
        url, allow_list=PrivateAllowList.parse(private_targets(session, automation.company_id))
    )
    automation.url_enc = encrypt_secret(url)
    automation.target_hint = url_hint(url)


def _set_secret(automation: Automation, secret: str | None) -> str:
    """Store the signing secret (or none) and the Standard Webhooks key that goes with
    it; returns the `whsec_…` key so it can be shown once."""
    if secret:
        automation.secret_enc = encrypt_secret(secret)
        automation.secret_last4 = secret_last4(secret)
        whsec = whsec_from_secret(secret)
    else:
        automation.secret_enc = automation.secret_last4 = None
        whsec = new_whsec()
    automation.whsec_enc = encrypt_secret(whsec)
    return whsec


def _check_agent(session: Session, company_id: uuid.UUID, agent_id: uuid.UUID | None) -> None:
    if agent_id is None:
        return
    agent = session.get(Agent, agent_id)
    if agent is None or agent.company_id != company_id:
        raise ValidationFailed("The agent filter names no agent of this company.")


def create_automation(
    session: Session, company_id: uuid.UUID, data: AutomationIn
) -> tuple[Automation, str | None]:
    """Returns the automation and, for webhooks, its Standard Webhooks key (shown once)."""
    _check_agent(session, company_id, data.agent_id)
    automation = Automation(
        company_id=company_id,
        kind=data.kind,
        name=data.name.strip(),
        enabled=data.enabled,
        include_internal=data.include_internal,
        agent_id=data.agent_id,
        direction=data.direction,
        consecutive_failures=0,
        options={},
    )
    whsec = None
    events = _check_events(data.events)
    if data.kind in (AutomationKind.SLACK, AutomationKind.WEBHOOK):
        if not data.url:
            raise ValidationFailed(f"A {data.kind} automation needs a URL.")
        _set_url(session, automation, data.url)
    if data.kind == AutomationKind.WEBHOOK:
        automation.options = {"method": data.method, "timeout_s": data.timeout_s}
        whsec = _set_secret(automation, data.secret)
    if data.kind == AutomationKind.EMAIL:
        recipients = [_check_email(r) for r in data.recipients if r.strip()]
        if not recipients and not data.send_to_agent:
            raise ValidationFailed("Send to the call's agent, or give at least one address.")
        automation.options = {"recipients": recipients, "send_to_agent": data.send_to_agent}
    automation.options = {**automation.options, "events": events}
    session.add(automation)
    session.flush()
    return automation, whsec


def _check_events(events: Sequence[str]) -> list[str]:
    wanted = sorted(set(events))
    if not wanted or any(e not in SUBSCRIBABLE for e in wanted):
        raise ValidationFailed(f"Subscribe to one or more of: {', '.join(SUBSCRIBABLE)}.")
    return wanted


def update_automation(
    session: Session, company_id: uuid.UUID, automation_id: uuid.UUID, changes: dict[str, Any]
) -> tuple[Automation, str | None]:
    automation = get_automation(session, company_id, automation_id)
    whsec = None
    options = dict(automation.options or {})
    for key, value in changes.items():
        if key == "name" and value is not None:
            automation.name = value.strip()
        elif key == "enabled" and value is not None:
            automation.enabled = value
            if value:  # an admin turning it back on starts a fresh count
                automation.consecutive_failures = 0
                automation.disabled_reason = None
        elif key == "url" and value:
            if automation.kind == AutomationKind.EMAIL:
                raise ValidationFailed("An email automation has no URL.")
            _set_url(session, automation, value)
        elif key == "secret" and value is not None and automation.kind == AutomationKind.WEBHOOK:
            whsec = _set_secret(automation, value or None)
        elif (
            key in ("method", "timeout_s")
            and value is not None
            and automation.kind == AutomationKind.WEBHOOK
        ):
            options[key] = value
        elif key == "recipients" and value is not None and automation.kind == AutomationKind.EMAIL:
            options["recipients"] = [_check_email(r) for r in value if r.strip()]
        elif (
            key == "send_to_agent" and value is not None and automation.kind == AutomationKind.EMAIL
        ):
            options["send_to_agent"] = value
        elif key == "include_internal" and value is not None:
            automation.include_internal = value
        elif key == "agent_id":
            _check_agent(session, company_id, value)
            automation.agent_id = value
        elif key == "direction":
            automation.direction = value
        elif key == "events" and value is not None:
            options["events"] = _check_events(value)
    if automation.kind == AutomationKind.EMAIL and not (
        options.get("recipients") or options.get("send_to_agent")
    ):
        raise ValidationFailed("Send to the call's agent, or give at least one address.")
    automation.options = options
    session.flush()
    return automation, whsec


def get_automation(session: Session, company_id: uuid.UUID, automation_id: uuid.UUID) -> Automation:
    automation = session.get(Automation, automation_id)
    if automation is None or automation.company_id != company_id:
        raise NotFound("Automation not found.")
    return automation


def delete_automation(session: Session, company_id: uuid.UUID, automation_id: uuid.UUID) -> None:
    session.delete(get_automation(session, company_id, automation_id))
    session.flush()


def list_automations(session: Session, company_id: uuid.UUID) -> list[Automation]:
    return list(
        session.scalars(
            select(Automation)
            .where(Automation.company_id == company_id)
            .order_by(Automation.created_at, Automation.id)
        )
    )


def last_deliveries(session: Session, automation_ids: list[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
    """The newest delivery of each automation (its "last delivery status")."""
    if not automation_ids:
        return {}
    newest = (
        select(Delivery.automation_id, func.max(Delivery.created_at).label("at"))
        .where(Delivery.automation_id.in_(automation_ids))
        .group_by(Delivery.automation_id)
        .subquery()
    )
    rows = session.scalars(
        select(Delivery).join(
            newest,
            and_(
                Delivery.automation_id == newest.c.automation_id, Delivery.created_at == newest.c.at
            ),
        )
    )
    return {d.automation_id: d for d in rows}


# -- which calls -------------------------------------------------------------------------


def matches(automation: Automation, call: Engagement) -> bool:
    """External calls only unless internal ones are asked for; then the agent and
    direction filters. A call with no direction is treated as external."""
    if not automation.enabled:
        return False
    if call.direction == "internal" and not automation.include_internal:
        return False
    if automation.agent_id and call.agent_id != automation.agent_id:
        return False
    return not (automation.direction and call.direction != automation.direction)


def agent_email(session: Session, agent_id: uuid.UUID | None) -> str | None:
    """The address on the agent's record, else the email of the user linked to it."""
    if agent_id is None:
        return None
    agent = session.get(Agent, agent_id)
    if agent is not None and agent.email:
        return agent.email
    user = session.scalars(
        select(User).where(User.agent_id == agent_id, User.is_active.is_(True))
    ).first()
    return user.email if user else None


def call_url(call_id: uuid.UUID | str) -> str:
    return f"{get_settings().public_url}/calls/{call_id}"


def build_body(session: Session, call: Engagement) -> dict[str, Any]:
    """The webhook body, exactly as documented in the issue. It leaves the app (webhook,
    Slack, email are all made from it): PII in the Minutes and action items is masked."""
    minutes = calls.get_minutes(session, call.id)
    known = calls.known_identity(call)
    masked = calls.masked_minutes(minutes, known) if minutes else {}
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    customer = session.get(Customer, call.customer_id) if call.customer_id else None
    return {
        "event": EVENT,
        "call": {
            "id": str(call.id),
            "agent_name": agent.name if agent else None,
            "direction": call.direction,
            "duration_sec": round(call.duration_s) if call.duration_s is not None else None,
            "status": call.status,
            # a link back, so a CRM can match the call (issue 18): added, nothing removed
            "url": call_url(call.id),
            "external_id": call.external_id,
            "started_at": call.started_at.isoformat() if call.started_at else None,
            "customer": {"id": str(customer.id), "name": customer.name} if customer else None,
            "channel": call.channel,
        },
        "minutes": {
            "subject": masked["subject"],
            "summary": masked["summary"],
            "sentiment": minutes.sentiment,
            "outcome": minutes.outcome,
            "sections": [
                {"heading": s.get("heading", ""), "bullets": list(s.get("bullets", []))}
                for s in masked["sections"]
            ],
        }
        if minutes
        else None,
        "action_items": [
            {"title": calls.mask(i.title, known), "priority": i.priority, "status": i.status}
            for i in calls.list_call_action_items(session, call.id)
        ],
    }


def call_context(session: Session, call: Engagement) -> dict[str, Any]:
    return {
        "call_url": call_url(call.id),
        "customer_name": call.customer_name,
        "agent_email": agent_email(session, call.agent_id),
    }


SAMPLE_CALL_ID = "00000000-0000-4000-8000-000000000000"


def sample_body() -> dict[str, Any]:
    """What Send test delivers: the real shape with made-up content."""
    return {
        "event": EVENT,
        "call": {
            "id": SAMPLE_CALL_ID,
            "agent_name": "Sam Sample",
            "direction": "inbound",
            "duration_sec": 312,
            "status": "completed",
            "url": f"{get_settings().public_url}/calls/{SAMPLE_CALL_ID}",
            "external_id": "CRM-12345",
            "started_at": "2026-03-03T14:30:00+00:00",
            "customer": {"id": "00000000-0000-4000-8000-000000000001", "name": "Example Customer"},
            "channel": "voice",
        },
        "minutes": {
            "subject": "Test from callscribe: billing question about a double charge",
            "summary": "The customer was charged twice for the March invoice. Sam confirmed "
            "the duplicate payment and started a refund, expected within five business days.",
            "sentiment": "positive",
            "outcome": "resolved",
            "sections": [
                {
                    "heading": "Billing",
                    "bullets": ["Duplicate charge on the March invoice", "Refund started"],
                }
            ],
        },
        "action_items": [
            {"title": "Send the refund confirmation email", "priority": "high", "status": "open"},
            {"title": "Check the payment retry settings", "priority": "medium", "status": "open"},
        ],
    }


# -- creating deliveries -----------------------------------------------------------------


def create_deliveries_for_call(
    session: Session,
    call_id: uuid.UUID,
    event: str = EVENT,
    extra: dict[str, Any] | None = None,
) -> list[uuid.UUID]:
    """One pending delivery per matching enabled automation of the call's company that
    subscribes to `event` (call.completed: only once the call is completed; `extra`
    goes into the body, e.g. a tracker.matched event's trackers). An automation that
    already has a delivery for this call and event gets no second one."""
    call = session.get(Engagement, call_id)
    if call is None or (event == EVENT and call.status != "completed"):
        return []
    automations = [
        a
        for a in session.scalars(
            select(Automation).where(
                Automation.company_id == call.company_id, Automation.enabled.is_(True)
            )
        )
        if matches(a, call) and event in a.events
    ]
    if not automations:
        return []
    existing = set(
        session.scalars(
            select(Delivery.automation_id).where(
                Delivery.engagement_id == call.id, Delivery.event == event
            )
        )
    )
    body, context = {**build_body(session, call), **(extra or {})}, call_context(session, call)
    body["event"] = event
    ids = []
    for automation in automations:
        if automation.id in existing:
            continue
        delivery = Delivery(
            id=uuid.uuid4(),
            company_id=call.company_id,
            automation_id=automation.id,
            engagement_id=call.id,
            event=event,
            payload=encode_body(body),
            context=context,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
        )
        session.add(delivery)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # a concurrent dispatch of the same event won
            continue
        ids.append(delivery.id)
    return ids


def create_test_delivery(
    session: Session, company_id: uuid.UUID, automation_id: uuid.UUID, user_email: str | None
) -> Delivery:
    automation = get_automation(session, company_id, automation_id)
    delivery = Delivery(
        id=uuid.uuid4(),
        company_id=company_id,
        automation_id=automation.id,
        engagement_id=None,
        event=TEST_EVENT,
        payload=encode_body(sample_body()),
        context={
            "call_url": f"{get_settings().public_url}/automations",
            "customer_name": "Example Customer",
            "agent_email": user_email,
        },
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    session.flush()
    return delivery


def send_test(
    company_id: uuid.UUID, automation_id: uuid.UUID, user_id: uuid.UUID | None
) -> uuid.UUID:
    """Send test: a sample payload, one attempt now (no retries, no effect on the
    failure count). Commits the delivery before the attempt so the log has it even if
    the receiver hangs; returns its id."""
    with session_scope() as session:
        user = session.get(User, user_id) if user_id else None
        delivery = create_test_delivery(
            session, company_id, automation_id, user.email if user else None
        )
        delivery_id = delivery.id
    attempt_delivery(delivery_id, retry=False)
    return delivery_id


def redeliver(session: Session, company_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    """Send a finished delivery again, same body and same webhook-id; the next attempts
    continue its log."""
    delivery = get_delivery(session, company_id, delivery_id)
    if delivery.status in UNFINISHED_STATUSES:
        raise BadRequest("This delivery is still being sent.", code=ErrorCode.BUSY)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.last_error = None
    session.flush()
    return delivery


def get_delivery(session: Session, company_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.company_id != company_id:
        raise NotFound("Delivery not found.")
    return delivery


def list_deliveries(
    session: Session, company_id: uuid.UUID, automation_id: uuid.UUID, page: int, page_size: int
) -> Page[Delivery]:
    get_automation(session, company_id, automation_id)
    stmt = select(Delivery).where(Delivery.automation_id == automation_id)
    return paginate(
        session, stmt, page, page_size, order_by=(Delivery.created_at.desc(), Delivery.id)
    )


def attempts_of(
    session: Session, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    found: dict[uuid.UUID, list[DeliveryAttempt]] = {d: [] for d in delivery_ids}
    if delivery_ids:
        for row in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(delivery_ids))
            .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)
        ):
            found[row.delivery_id].append(row)
    return found


# -- attempts ----------------------------------------------------------------------------


def backoff_s(attempt: int, retry_after_s: float | None = None) -> float:
    """Seconds before the attempt after `attempt` (1-based): the receiver's Retry-After
    when it sent one, else exponential; both capped."""
    settings = get_settings()
    if retry_after_s is not None:
        delay = retry_after_s
    else:
        delay = settings.DELIVERY_BACKOFF_S * (2 ** (attempt - 1))
    return float(min(max(delay, 0.0), settings.DELIVERY_MAX_DELAY_S))


def _claim(delivery_id: uuid.UUID) -> bool:
    """Take a due delivery (or one whose attempt died) for one attempt."""
    now = utcnow()
    stale = now - timedelta(seconds=get_settings().DELIVERY_STALE_AFTER_S)
    with session_scope() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                or_(
                    and_(
                        Delivery.status.in_(RETRYABLE_STATES),
                        or_(
                            Delivery.next_attempt_at.is_(None),
                            Delivery.next_attempt_at <= now + timedelta(seconds=CLAIM_SLACK_S),
                        ),
                    ),
                    and_(Delivery.status == DeliveryStatus.SENDING, Delivery.locked_at < stale),
                ),
            )
            .values(status=DeliveryStatus.SENDING, locked_at=now, attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


@dataclass
class _Prepared:
    target: Target | None
    message: Message
    attempt: int
    abandon: str | None = None  # why the delivery ends without an attempt


def smtp_config(session: Session, company_id: uuid.UUID) -> SmtpConfig | None:
    row = session.get(SmtpSettings, company_id)
    if row is None:
        return None
    return SmtpConfig(
        host=row.host,
        port=row.port,
        tls_mode=row.tls_mode,
        username=row.username,
        password=decrypt_secret(row.password_enc) if row.password_enc else None,
        from_address=row.from_address,
    )


def target_for(session: Session, automation: Automation, context: dict[str, Any]) -> Target:
    options = dict(automation.options or {})
    recipients: list[str] = []
    smtp = None
    if automation.kind == AutomationKind.EMAIL:
        if options.get("send_to_agent", True) and context.get("agent_email"):
            recipients.append(context["agent_email"])
        recipients += options.get("recipients") or []
        smtp = smtp_config(session, automation.company_id)
    return Target(
        kind=automation.kind,
        name=automation.name,
        url=decrypt_secret(automation.url_enc) if automation.url_enc else None,
        secret=decrypt_secret(automation.secret_enc) if automation.secret_enc else None,
        whsec=decrypt_secret(automation.whsec_enc) if automation.whsec_enc else None,
        options=options,
        recipients=tuple(recipients),
        smtp=smtp,
        private_allow=tuple(private_targets(session, automation.company_id)),
    )


def _prepare(session: Session, delivery: Delivery) -> _Prepared:
    message = Message(
        delivery_id=delivery.id,
        event=delivery.event,
        payload=delivery.payload,
        context=delivery.context or {},
        is_test=delivery.event == TEST_EVENT,
    )
    automation = session.get(Automation, delivery.automation_id)
    if automation is None:
        return _Prepared(None, message, delivery.attempts, "The automation was deleted.")
    if not automation.enabled and not message.is_test:
        return _Prepared(None, message, delivery.attempts, "The automation is disabled.")
    try:
        target = target_for(session, automation, message.context)
    except CallscribeError as exc:
        return _Prepared(None, message, delivery.attempts, exc.message)
    return _Prepared(target, message, delivery.attempts)


def attempt_delivery(delivery_id: uuid.UUID | str, *, retry: bool = True) -> float | None:
    """Make the delivery's next attempt and log it. Returns the delay before the next
    attempt when one is due, else None (succeeded, failed for good, or not ours to run:
    not due yet, or another worker holds it). `retry=False` (Send test) makes one
    attempt whatever happens."""
    delivery_id = uuid.UUID(str(delivery_id))
    if not _claim(delivery_id):
        return None
    with session_scope() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        prepared = _prepare(session, delivery)
    started = utcnow()
    clock = time.monotonic()
    if prepared.target is None:
        result = AttemptResult(ok=False, error=prepared.abandon)
    else:
        try:
            result = get_sender(prepared.target.kind).send(prepared.target, prepared.message)
        except Exception as exc:  # a bug in a sender must not leave the delivery claimed
            log.exception("delivery %s: sender failed", delivery_id)
            result = AttemptResult(ok=False, error=f"Internal error ({type(exc).__name__}).")
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _record(delivery_id, prepared, result, started, duration_ms, retry=retry)


def _record(
    delivery_id: uuid.UUID,
    prepared: _Prepared,
    result: AttemptResult,
    started: Any,
    duration_ms: int,
    *,
    retry: bool,
) -> float | None:
    settings = get_settings()
    delay: float | None = None
    with session_scope() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        automation = session.get(Automation, delivery.automation_id)
        counts = automation is not None and not prepared.message.is_test
        if result.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            if counts:
                automation.consecutive_failures = 0  # type: ignore[union-attr]
        elif (
            retry
            and result.retryable
            and prepared.target is not None
            and prepared.attempt < settings.DELIVERY_MAX_ATTEMPTS
        ):
            delay = backoff_s(prepared.attempt, result.retry_after_s)
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        else:
            delivery.status = DeliveryStatus.FAILED
            if counts and prepared.target is not None:
                _count_failure(session, automation, result)  # type: ignore[arg-type]
        delivery.locked_at = None
        delivery.last_error = result.error
        DELIVERIES.labels(str(delivery.status)).inc()
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempt=prepared.attempt,
                started_at=started,
                duration_ms=duration_ms,
                ok=result.ok,
                http_status=result.http_status,
                smtp_reply=result.smtp_reply,
                response=result.response,
                error=result.error,
                retry_in_s=delay,
            )
        )
    return delay


def _count_failure(session: Session, automation: Automation, result: AttemptResult) -> None:
    limit = get_settings().DELIVERY_DISABLE_AFTER
    automation.consecutive_failures = (automation.consecutive_failures or 0) + 1
    if automation.enabled and automation.consecutive_failures >= limit:
        automation.enabled = False
        automation.disabled_reason = (
            f"Turned off automatically after {automation.consecutive_failures} failed "
            f"deliveries in a row. Last error: {result.error or 'unknown'}"
        )[:2000]
        accounts.log_technical(
            session,
            automation.company_id,
            "delivery",
            f"Automation {automation.name!r} was disabled: {automation.disabled_reason}",
            level="error",
        )


def find_stalled_deliveries(session: Session) -> list[uuid.UUID]:
    """Deliveries whose job was lost: due long ago but never attempted, or claimed by
    an attempt that died. Their next job's claim sorts out any duplicate."""
    stale = utcnow() - timedelta(seconds=get_settings().DELIVERY_STALE_AFTER_S)
    return list(
        session.scalars(
            select(Delivery.id).where(
                or_(
                    and_(Delivery.status.in_(RETRYABLE_STATES), Delivery.next_attempt_at < stale),
                    and_(Delivery.status == DeliveryStatus.SENDING, Delivery.locked_at < stale),
                )
            )
        )
    )


# -- SMTP settings -----------------------------------------------------------------------


def smtp_view(session: Session, company_id: uuid.UUID) -> SmtpSettingsOut:
    row = session.get(SmtpSettings, company_id)
    return SmtpSettingsOut.model_validate(row) if row else SmtpSettingsOut(configured=False)


def update_smtp_settings(session: Session, company_id: uuid.UUID, data: SmtpSettingsIn) -> None:
    row = session.get(SmtpSettings, company_id)
    if row is None:
        row = SmtpSettings(company_id=company_id)
        session.add(row)
    # the SSRF guard at save time too (and again on every connection: email._PinnedSMTP)
    row.host = check_host(data.host, data.port)
    row.port = data.port
    row.tls_mode = data.tls_mode
    row.username = (data.username or "").strip() or None
    if data.password is not None:
        row.password_enc = encrypt_secret(data.password) if data.password else None
    row.from_address = _check_email(data.from_address)
    session.flush()


# -- private delivery targets ------------------------------------------------------------

PRIVATE_TARGETS_KEY = "delivery_private_hosts"  # in company_settings.extra
MAX_PRIVATE_TARGETS = 50


def private_targets(session: Session, company_id: uuid.UUID) -> list[str]:
    """Hosts and CIDRs on private networks this company's webhook and Slack deliveries
    may reach (issue 18): an internal CRM on 10.x or 127.0.0.1, without a restart."""
    cs = accounts.get_company_settings(session, company_id)
    return list((cs.extra or {}).get(PRIVATE_TARGETS_KEY) or [])


def set_private_targets(
    session: Session, company_id: uuid.UUID, entries: list[str], *, changed_by: str
) -> list[str]:
    """Replace the allow-list; every change goes to the technical log. Link-local and
    cloud-metadata addresses are refused here and stay refused by the guard."""
    cleaned = list(dict.fromkeys(check_allow_entry(e) for e in entries if e.strip()))
    if len(cleaned) > MAX_PRIVATE_TARGETS:
        raise ValidationFailed(f"At most {MAX_PRIVATE_TARGETS} private targets.")
    cs = accounts.get_company_settings(session, company_id)
    before = list((cs.extra or {}).get(PRIVATE_TARGETS_KEY) or [])
    if cleaned == before:
        return cleaned
    cs.extra = {**(cs.extra or {}), PRIVATE_TARGETS_KEY: cleaned}
    added = [e for e in cleaned if e not in before]
    removed = [e for e in before if e not in cleaned]
    accounts.log_technical(
        session,
        company_id,
        "automations",
        f"Private delivery targets changed by {changed_by}: "
        f"added {', '.join(added) or 'none'}; removed {', '.join(removed) or 'none'}; "
        f"now {', '.join(cleaned) or 'none'}.",
        level="info",
    )
    session.flush()
    return cleaned
