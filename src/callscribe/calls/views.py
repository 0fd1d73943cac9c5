"""Pages of calls: the calls list (live status), upload, and the call page (player,
transcript, Minutes, action items, downloads, retry)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.auth.deps import DbSession, PageUser
from callscribe.auth.permissions import Permission
from callscribe.auth.users import CurrentUser
from callscribe.calls import service, trackers
from callscribe.calls.models import (
    ACTIVE_STATUSES,
    Channel,
    Direction,
    Engagement,
    EngagementStatus,
    Minutes,
    Turn,
    TurnRole,
)
from callscribe.calls.tasks import enqueue_calls
from callscribe.errors import CallscribeError, NotFound
from callscribe.kit.schemas import MAX_PAGE
from callscribe.privacy import audit
from callscribe.privacy.detectors import KnownIdentity
from callscribe.privacy.masking import pieces
from callscribe.settings import get_settings
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
SORTABLE = ("created_at", "started_at", "duration", "status")
DIARIZED_SPEAKER = re.compile(r"S\d+")  # the diarization's labels (speech.diarization)
GROUP_WINDOW_MS = 60_000  # consecutive turns of one speaker within a minute are one block
UPLOAD_FORMATS = ("wav", "mp3", "m4a", "ogg", "opus", "flac", "webm", "mp4", "aac")


CHANNEL_LABELS = {"voice": "Call", "chat": "Chat", "email": "Email thread", "ticket": "Ticket"}
# what each ingest source is called on the call page (a connector shows its type's name)
SOURCE_LABELS = {
    "upload": "Upload page",
    "api": "API (add-calls)",
    "api-v2": "API (signed upload)",
    "tus": "API (resumable upload)",
    "sheet": "Spreadsheet import",
    "tickets": "through the API",
    "url": "API (from a URL)",
    "cloudvoice": "CloudVoice",
    "cloudvoice_call_center": "CloudVoice Call Center",
}


def source_label(source: str | None) -> str:
    if not source:
        return "—"
    return SOURCE_LABELS.get(source, source.replace("_", " ").replace("-", " ").capitalize())


# -- the transcript as the call page shows it ---------------------------------------------


@dataclass
class TurnGroup:
    role: str
    label: str
    start_ms: int
    end_ms: int
    turns: list[Turn] = field(default_factory=list)
    response_ms: int | None = None  # gap after the other party's last words


def role_label(role: str, speaker: str | None, call: Engagement, agent: Agent | None) -> str:
    if speaker and DIARIZED_SPEAKER.fullmatch(speaker):
        # a diarized mono call: "S2" is who; the role, when known, says what they are
        if role in (TurnRole.AGENT, TurnRole.CUSTOMER):
            return f"{role_label(role, None, call, agent)} ({speaker})"
        return f"Speaker {speaker[1:]}"
    if speaker:
        return speaker
    if role == TurnRole.AGENT:
        return agent.name if agent else "Agent"
    if role == TurnRole.CUSTOMER:
        return call.customer_name or "Customer"
    if role == TurnRole.BOT:
        return "Bot"
    return "Speaker"


def group_turns(
    turns: list[Turn], call: Engagement, agent: Agent | None, *, times_real: bool = True
) -> list[TurnGroup]:
    """Consecutive turns of one speaker that start within a minute of the block's first
    turn form one block; a block after the other party's carries the response time when
    the times are real (service.times_are_real). static/js/call.js groups streamed turns
    the same way."""
    groups: list[TurnGroup] = []
    for turn in sorted(turns, key=lambda t: (t.start_ms, t.seq)):
        label = role_label(turn.role, turn.speaker, call, agent)
        last = groups[-1] if groups else None
        if (
            last is not None
            and last.role == turn.role
            and last.label == label
            and turn.start_ms - last.start_ms < GROUP_WINDOW_MS
        ):
            last.turns.append(turn)
            last.end_ms = max(last.end_ms, turn.end_ms)
            continue
        group = TurnGroup(turn.role, label, turn.start_ms, turn.end_ms, [turn])
        if (
            times_real
            and last is not None
            and last.role != turn.role
            and turn.role != TurnRole.UNKNOWN
        ):
            group.response_ms = turn.start_ms - last.end_ms
        groups.append(group)
    return groups


# -- calls list --------------------------------------------------------------------------


def _parse_date(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    keys = ("status", "agent_id", "direction", "date_from", "date_to", "customer", "sort")
    return {k: q.get(k, "").strip() for k in keys if q.get(k, "").strip()}


def _query_builder(current: dict[str, str]):  # type: ignore[no-untyped-def]
    def qs(**overrides: Any) -> str:
        merged = {**current, **{k: v for k, v in overrides.items()}}
        return urlencode({k: v for k, v in merged.items() if v not in (None, "")})

    return qs


@router.get("/calls")
def calls_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    page: int = 1,
) -> Response:
    filters = _filters(request)
    sort = filters.get("sort", "-created_at")
    if sort.lstrip("-") not in SORTABLE:
        sort = "-created_at"
    status = filters.get("status")
    query = service.CallFilters(
        status=status if status in set(EngagementStatus) else None,
        agent_id=_uuid(filters.get("agent_id")),
        direction=filters.get("direction") if filters.get("direction") in set(Direction) else None,
        date_from=_parse_date(filters.get("date_from")),
        date_to=_parse_date(filters.get("date_to"), end=True),
        customer=filters.get("customer"),
        sort=sort,
    )
    page = min(max(1, page), MAX_PAGE)
    found = service.list_calls(session, user.principal, query, page, PAGE_SIZE)
    rows, total, pages = found.items, found.total, found.pages
    agent_ids = {c.agent_id for c in rows if c.agent_id}
    agents = (
        {a.id: a for a in session.query(Agent).filter(Agent.id.in_(agent_ids)).all()}
        if agent_ids
        else {}
    )
    subjects = {c.id: service.get_minutes(session, c.id) for c in rows}
    ctx: dict[str, Any] = {
        "calls": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "agents": agents,
        "minutes": subjects,
        "mask": service.mask,  # a subject can quote the transcript
        "filters": filters,
        "sort": sort,
        "qs": _query_builder({**filters, "page": str(page) if page > 1 else ""}),
        "live": any(c.status in ACTIVE_STATUSES for c in rows),
        # Page 1 keeps polling while idle too, so a call that arrives by API or connector
        # shows up at the top (same filters: the poll reuses the query string).
        "poll_every": "2s"
        if any(c.status in ACTIVE_STATUSES for c in rows)
        else ("5s" if page == 1 else None),
        "now": datetime.now(UTC),
    }
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "calls-table":
        return render(request, "calls/_table.html", **ctx)
    all_agents = (
        [] if user.principal.sees_only_own_calls else accounts.list_agents(session, user.company_id)
    )
    return render(
        request,
        "calls/list.html",
        all_agents=all_agents,
        statuses=list(EngagementStatus),
        directions=list(Direction),
        **ctx,
    )


# -- upload ------------------------------------------------------------------------------


@router.get("/upload")
def upload_page(
    request: Request,
    user: PageUser,
    session: DbSession,
) -> Response:
    agents = accounts.list_agents(session, user.company_id)
    own_agent = None
    if user.principal.sees_only_own_calls:
        agents = [a for a in agents if a.id == user.agent_id]
        own_agent = agents[0] if agents else None
    return render(
        request,
        "calls/upload.html",
        agents=agents,
        own_agent=own_agent,
        formats=UPLOAD_FORMATS,
        # the server's limit, checked in the browser before a byte is sent
        max_upload_bytes=get_settings().max_upload_bytes,
        max_upload_mb=get_settings().MAX_UPLOAD_MB,
    )


# -- the call page -----------------------------------------------------------------------


def _call_context(session: Session, user: CurrentUser, call_id: str) -> dict[str, Any]:
    call = service.get_call(session, user.principal, call_id)
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    turns = service.list_turns(session, call.id)
    known = service.known_identity(call)
    minutes = service.get_minutes(session, call.id)
    times_real = service.times_are_real(call)
    return {
        "call": call,
        "agent": agent,
        # PII is masked on the page; a user with pii.reveal clicks a value to see it
        "minutes": _masked_minutes(minutes, known) if minutes else None,
        "action_items": service.list_call_action_items(session, call.id),
        "mask": lambda text, *_: service.mask(text, known),
        "pii_pieces": lambda turn: pieces(turn.text, service.turn_spans(turn, known)),
        "can_reveal": user.can(Permission.PII_REVEAL),
        "groups": group_turns(turns, call, agent, times_real=times_real),
        "times_real": times_real,
        "is_text": call.channel != Channel.VOICE,
        "channel_label": CHANNEL_LABELS.get(call.channel, call.channel.capitalize()),
        "source_label": source_label(call.source),
        "turn_count": len(turns),
        "max_seq": max((t.seq for t in turns), default=-1),
        "live": call.status in ACTIVE_STATUSES,
        "can_manage": user.can(Permission.CALLS_MANAGE),
        "roles": _roles_view(call, turns),
        "stats": _stats_view(call, turns),
        "tracker_matches": trackers.matches_of(session, call.id),
    }


def _stats_view(call: Engagement, turns: list[Turn]) -> dict[str, Any] | None:
    """The conversation stats strip (speech.stats, stored by the Stats step) and, for a
    voice call, the spans of who spoke when that static/js/stats.js draws."""
    stats = (call.meta or {}).get("stats")
    if not isinstance(stats, dict):
        return None
    roles = sorted(set(stats.get("questions") or {}))
    timeline = None
    if call.channel == Channel.VOICE and turns:
        end = max([t.end_ms for t in turns] + [int((call.duration_s or 0) * 1000)])
        timeline = {
            "end_ms": end,
            "spans": [[t.role, t.start_ms, t.end_ms] for t in turns if t.end_ms > t.start_ms],
            "holds": stats.get("hold_spans") or [],
        }
    return {"s": stats, "roles": roles, "timeline": timeline}


def _masked_minutes(minutes: Minutes, known: KnownIdentity) -> SimpleNamespace:
    fields = {c.key: getattr(minutes, c.key) for c in Minutes.__table__.columns}
    masked = service.masked_minutes(minutes, known)
    masked["sections"] = [SimpleNamespace(**sec) for sec in masked["sections"]]
    return SimpleNamespace(**{**fields, **masked})


def _roles_view(call: Engagement, turns: list[Turn]) -> dict[str, Any] | None:
    """What the call page says about who is the agent: None for text engagements."""
    if call.channel != Channel.VOICE or not turns:
        return None
    roles = dict((call.meta or {}).get("roles") or {})
    if "mono" not in roles:  # transcribed before the guess existed: tell from the turns
        roles["mono"] = all(t.channel is None for t in turns)
    side = roles.get("agent_channel")
    roles["agent_side"] = {0: "left", 1: "right"}.get(side) if isinstance(side, int) else None
    roles["percent"] = round(float(roles.get("confidence") or 0) * 100)
    return roles


def _not_found(request: Request) -> Response:
    return render(
        request,
        "error.html",
        status_code=404,
        title="Call not found",
        message="There is no such call, or it is not one you can see.",
    )


@router.get("/calls/{call_id}")
def call_page(
    request: Request,
    call_id: str,
    user: PageUser,
    session: DbSession,
) -> Response:
    try:
        ctx = _call_context(session, user, call_id)
    except NotFound:
        return _not_found(request)
    return render(request, "calls/call.html", **ctx)


@router.post("/calls/{call_id}/retry")
def retry_call(
    request: Request,
    call_id: str,
    user: PageUser,
    session: DbSession,
) -> Response:
    try:
        call = service.retry_call(session, user.principal, uuid.UUID(call_id))
        session.commit()
    except (NotFound, ValueError):
        return _not_found(request)
    except CallscribeError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect(request, f"/calls/{call_id}")
    enqueue_calls([call.id])
    flash(request, "The call is queued again.", "info")
    return redirect(request, f"/calls/{call.id}")


@router.post("/calls/{call_id}/reprocess")
def reprocess_call(request: Request, call_id: str, user: PageUser, session: DbSession) -> Response:
    return _manage_action(request, call_id, user, session, "reprocess")


@router.post("/calls/{call_id}/swap-roles")
def swap_roles(request: Request, call_id: str, user: PageUser, session: DbSession) -> Response:
    return _manage_action(request, call_id, user, session, "swap")


def _manage_action(
    request: Request, call_id: str, user: CurrentUser, session: Session, action: str
) -> Response:
    if not user.can(Permission.CALLS_MANAGE):
        flash(request, "Your role does not allow this.", "error")
        return redirect(request, f"/calls/{call_id}")
    try:
        call = service.get_call(session, user.principal, call_id)
        if action == "swap":
            agent = session.get(Agent, call.agent_id) if call.agent_id else None
            service.swap_roles(session, user.principal, call.id, agent.name if agent else None)
            done = "Agent and customer swapped; the Minutes are being written again."
        else:
            service.retry_call(session, user.principal, call.id)
            done = "The call is being processed again."
        session.commit()
    except NotFound:
        return _not_found(request)
    except CallscribeError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect(request, f"/calls/{call_id}")
    enqueue_calls([call.id])
    flash(request, done, "info")
    return redirect(request, f"/calls/{call.id}")


@router.get("/settings/privacy/reveals")
def reveals_page(request: Request, user: PageUser, session: DbSession, page: int = 1) -> Response:
    """The reveal audit log (who saw which kind of masked value, where, when)."""
    if not user.can(Permission.PII_AUDIT):
        return render(
            request,
            "error.html",
            status_code=403,
            title="Not allowed",
            message="Only admins can read the reveal log.",
        )
    page = min(max(1, page), MAX_PAGE)
    found = audit.list_reveals(session, user.company_id, page, 50)
    return render(request, "calls/reveals.html", reveals=found.items, page=page, pages=found.pages)


# -- the trackers settings page ----------------------------------------------------------


@router.get("/settings/trackers")
def trackers_page(request: Request, user: PageUser, session: DbSession) -> Response:
    return render(
        request,
        "calls/trackers.html",
        trackers=trackers.list_trackers(session, user.company_id),
        can_manage=user.can(Permission.FORMS_MANAGE),
        roles=trackers.ROLES,
    )


@router.post("/settings/trackers")
def create_tracker_form(
    request: Request,
    user: PageUser,
    session: DbSession,
    name: str = Form(""),
    terms: str = Form(""),
    mode: str = Form("stem"),
    roles: list[str] = Form([]),
) -> Response:
    if not user.can(Permission.FORMS_MANAGE):
        flash(request, "Your role does not allow this.", "error")
        return redirect(request, "/settings/trackers")
    try:
        trackers.create_tracker(
            session,
            user.company_id,
            name=name.strip(),
            terms=[t for t in terms.replace("\n", ",").split(",")],
            roles=roles,
            mode=mode,
        )
        session.commit()
        flash(request, f"Tracker {name.strip()} added; it counts from the next processed call.")
    except CallscribeError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return redirect(request, "/settings/trackers")


@router.post("/settings/trackers/{tracker_id}/delete")
def delete_tracker_form(
    request: Request, tracker_id: uuid.UUID, user: PageUser, session: DbSession
) -> Response:
    if not user.can(Permission.FORMS_MANAGE):
        flash(request, "Your role does not allow this.", "error")
        return redirect(request, "/settings/trackers")
    try:
        trackers.delete_tracker(session, user.company_id, tracker_id)
        session.commit()
        flash(request, "Tracker deleted.")
    except CallscribeError as exc:
        session.rollback()
        flash(request, exc.message, "error")
    return redirect(request, "/settings/trackers")
