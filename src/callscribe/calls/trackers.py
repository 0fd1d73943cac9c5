"""Trackers: keyword and phrase lists per company ("competitor: Acme, Globex"; "cancel
my account"), matched in the turns of every processed engagement by the Trackers step.

A tracker has terms (words or phrases), the speaker roles it listens to (none: every
role) and a mode: `stem` (each word reduced by the Snowball English stemmer, so
"cancelling my accounts" matches "cancel my account") or `exact` (the phrase as
written, case-insensitive, on whole words). Matches are stored in `tracker_matches`
(one row per occurrence), counted as facts (`facts.tracker_<name>`) and announced by
one `tracker.matched` outbox event per engagement, written in the same transaction."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import snowballstemmer
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from callscribe.calls import service as calls_service
from callscribe.calls.models import Engagement, Turn
from callscribe.db import Base, JSONType, UTCDateTime, new_id, utcnow
from callscribe.errors import Conflict, NotFound, ValidationFailed
from callscribe.events import TRACKER_MATCHED, record_event

FACT_PREFIX = "tracker_"  # facts.tracker_<name>: the expression language takes one dot
MODES = ("stem", "exact")
ROLES = ("agent", "customer", "bot", "unknown")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TERMS = 50
MAX_TERM_CHARS = 100

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


class Tracker(Base):
    __tablename__ = "trackers"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_trackers_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40))  # facts.tracker_<name>
    terms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)  # [] = every role
    mode: Mapped[str] = mapped_column(String(10), default="stem")  # stem | exact
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackerMatch(Base):
    """One occurrence of a tracker's term in one turn (`start`/`end`: characters of the
    turn's text)."""

    __tablename__ = "tracker_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    tracker_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("trackers.id", ondelete="CASCADE"), index=True
    )
    turn_seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(10))
    term: Mapped[str] = mapped_column(String(MAX_TERM_CHARS))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    start_ms: Mapped[int] = mapped_column(Integer)


# -- matching (pure) ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return snowballstemmer.stemmer("english")


def _tokens(text: str, stem: bool) -> list[tuple[str, int, int]]:
    found = [
        (m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(text)
    ]
    if stem and found:
        stems = _stemmer().stemWords([w for w, _, _ in found])
        found = [(s, a, b) for s, (_, a, b) in zip(stems, found, strict=True)]
    return found


@dataclass(frozen=True)
class Found:
    term: str
    start: int
    end: int


def find_terms(text: str, terms: Sequence[str], mode: str) -> list[Found]:
    """Every occurrence of each term in `text`, on whole words: stemmed words in `stem`
    mode, the words as written (case-insensitive) in `exact` mode."""
    stem = mode == "stem"
    words = _tokens(text, stem)
    out: list[Found] = []
    for term in terms:
        pattern = [w for w, _, _ in _tokens(term, stem)]
        if not pattern:
            continue
        n = len(pattern)
        for i in range(len(words) - n + 1):
            if all(words[i + k][0] == pattern[k] for k in range(n)):
                out.append(Found(term, words[i][1], words[i + n - 1][2]))
    return sorted(out, key=lambda f: (f.start, f.term))


# -- the step's work ---------------------------------------------------------------------


def track_engagement(session: Session, call: Engagement, turns: Sequence[Turn]) -> dict[str, int]:
    """Match every enabled tracker of the company in the turns; replaces the engagement's
    earlier matches and tracker facts, and records one `tracker.matched` event when any
    matched (in the caller's transaction). Returns the counts by tracker name."""
    trackers = list(
        session.scalars(
            select(Tracker).where(Tracker.company_id == call.company_id, Tracker.enabled.is_(True))
        )
    )
    session.execute(delete(TrackerMatch).where(TrackerMatch.engagement_id == call.id))
    counts: dict[str, int] = {}
    for tracker in trackers:
        counts[tracker.name] = 0
        for turn in turns:
            if tracker.roles and turn.role not in tracker.roles:
                continue
            for hit in find_terms(turn.text, tracker.terms, tracker.mode):
                counts[tracker.name] += 1
                session.add(
                    TrackerMatch(
                        company_id=call.company_id,
                        engagement_id=call.id,
                        tracker_id=tracker.id,
                        turn_seq=turn.seq,
                        role=turn.role,
                        term=hit.term,
                        start=hit.start,
                        end=hit.end,
                        start_ms=turn.start_ms,
                    )
                )
    stale = [k for k in calls_service.computed_facts(call) if k.startswith(FACT_PREFIX)]
    calls_service.set_computed_facts(
        call, stale, {f"{FACT_PREFIX}{name}": n for name, n in counts.items()}
    )
    matched = [{"name": name, "count": n} for name, n in counts.items() if n]
    if matched:
        record_event(
            session,
            TRACKER_MATCHED,
            {"call_id": str(call.id), "trackers": matched},
            company_id=call.company_id,
        )
    session.flush()
    return counts


def matches_of(session: Session, call_id: uuid.UUID) -> list[dict[str, Any]]:
    """The engagement's matches for its pages: tracker name, role, term, where."""
    rows = session.execute(
        select(TrackerMatch, Tracker.name)
        .join(Tracker, Tracker.id == TrackerMatch.tracker_id)
        .where(TrackerMatch.engagement_id == call_id)
        .order_by(TrackerMatch.start_ms, TrackerMatch.turn_seq, TrackerMatch.start)
    )
    return [
        {
            "tracker": name,
            "role": m.role,
            "term": m.term,
            "turn_seq": m.turn_seq,
            "start_ms": m.start_ms,
        }
        for m, name in rows
    ]


# -- CRUD --------------------------------------------------------------------------------


def _clean(
    name: str | None, terms: list[str] | None, roles: list[str] | None, mode: str | None
) -> None:
    if name is not None and not NAME.match(name):
        raise ValidationFailed(
            "A tracker's name is 1-40 lowercase letters, digits or _, starting with a letter."
        )
    if terms is not None:
        if not terms or len(terms) > MAX_TERMS:
            raise ValidationFailed(f"A tracker has 1 to {MAX_TERMS} terms.")
        for term in terms:
            if not _TOKEN.search(term) or len(term) > MAX_TERM_CHARS:
                raise ValidationFailed(
                    f"A term has a word and at most {MAX_TERM_CHARS} characters: {term[:40]!r}."
                )
    if roles is not None and any(r not in ROLES for r in roles):
        raise ValidationFailed(f"Roles are among {', '.join(ROLES)}.")
    if mode is not None and mode not in MODES:
        raise ValidationFailed("The mode is stem or exact.")


def list_trackers(session: Session, company_id: uuid.UUID) -> list[Tracker]:
    return list(
        session.scalars(
            select(Tracker).where(Tracker.company_id == company_id).order_by(Tracker.name)
        )
    )


def get_tracker(session: Session, company_id: uuid.UUID, tracker_id: uuid.UUID) -> Tracker:
    tracker = session.get(Tracker, tracker_id)
    if tracker is None or tracker.company_id != company_id:
        raise NotFound("No such tracker.")
    return tracker


def _unique(session: Session, company_id: uuid.UUID, name: str, other: uuid.UUID | None) -> None:
    clash = session.scalar(
        select(Tracker.id).where(Tracker.company_id == company_id, Tracker.name == name)
    )
    if clash is not None and clash != other:
        raise Conflict(f"A tracker named {name!r} exists.")


def create_tracker(
    session: Session,
    company_id: uuid.UUID,
    *,
    name: str,
    terms: list[str],
    roles: list[str] | None = None,
    mode: str = "stem",
    enabled: bool = True,
) -> Tracker:
    terms = [t.strip() for t in terms if t.strip()]
    _clean(name, terms, roles or [], mode)
    _unique(session, company_id, name, None)
    tracker = Tracker(
        company_id=company_id,
        name=name,
        terms=terms,
        roles=sorted(set(roles or [])),
        mode=mode,
        enabled=enabled,
    )
    session.add(tracker)
    session.flush()
    return tracker


def update_tracker(
    session: Session, company_id: uuid.UUID, tracker_id: uuid.UUID, **changes: Any
) -> Tracker:
    tracker = get_tracker(session, company_id, tracker_id)
    if changes.get("terms") is not None:
        changes["terms"] = [t.strip() for t in changes["terms"] if t.strip()]
    _clean(changes.get("name"), changes.get("terms"), changes.get("roles"), changes.get("mode"))
    if changes.get("name") is not None:
        _unique(session, company_id, changes["name"], tracker.id)
    for key in ("name", "terms", "roles", "mode", "enabled"):
        if changes.get(key) is not None:
            value = sorted(set(changes[key])) if key == "roles" else changes[key]
            setattr(tracker, key, value)
    session.flush()
    return tracker


def delete_tracker(session: Session, company_id: uuid.UUID, tracker_id: uuid.UUID) -> None:
    session.delete(get_tracker(session, company_id, tracker_id))
    session.flush()
