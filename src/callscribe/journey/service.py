"""The journey of one customer: their conversations, first to last, each with its
engagements and their turns in time order; and prompting about one engagement.

Who sees what: a principal sees the engagements `calls.service.scoped_calls` lets them
see. For an agent (no `calls.view_all`) that is their own engagements only, so an
agent's journey of a customer holds only the engagements they handled, and a customer
they never handled is not found (docs/permissions.md)."""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.ai.llm import ChatClient, InvalidAnswer
from callscribe.auth.principal import Principal
from callscribe.calls import service as calls
from callscribe.calls import trackers
from callscribe.calls.models import Channel, Engagement, Minutes, Turn, TurnRole
from callscribe.crm import service as crm
from callscribe.crm.models import Customer
from callscribe.db import utcnow
from callscribe.errors import NotFound
from callscribe.journey.schemas import (
    AskOut,
    HandledBy,
    JourneyConversationOut,
    JourneyCustomerOut,
    JourneyEngagementOut,
    JourneyOut,
    JourneyTurnOut,
    SimilarTurnOut,
)
from callscribe.minutes import service as minutes
from callscribe.search import service as search
from callscribe.search.tokenize import STOPWORDS

log = logging.getLogger(__name__)

CUSTOMER = "Customer"  # the participant name of every customer turn: never their name


# -- what a principal is shown -----------------------------------------------------------


def _shown_text(turn: Turn, principal: Principal) -> str:
    """The one place a turn's text leaves the journey (API, page, prompts): read-time
    PII masking (privacy/) applies here: masked for every role, as on the call page
    (a value is revealed one at a time there, with `pii.reveal`, and audited)."""
    return calls.masked_turn_text(turn)


def shown_label(customer: Customer, principal: Principal) -> str:
    """The customer's label in the journey's header (masked with the turns' text)."""
    return customer.name or f"Customer {str(customer.id)[:8]}"


def participant(turn: Turn, agent: Agent | None) -> str:
    """Who said it: the agent's or bot's name, or "Customer" (never the customer's name
    or contact details, even when the source put them in the turn's speaker)."""
    if turn.role == TurnRole.CUSTOMER:
        return CUSTOMER
    if turn.role == TurnRole.AGENT:
        if agent is not None and not agent.is_bot:
            return agent.name
        return turn.speaker or "Agent"
    if turn.role == TurnRole.BOT:
        if turn.speaker:
            return turn.speaker
        return agent.name if agent is not None and agent.is_bot else "Bot"
    return "Speaker"


def times_are_real(channel: str, meta: dict[str, Any] | None) -> bool:
    """Whether turn offsets are real times: audio (segment timestamps of the speech
    engine or the provider's transcript), or messages that all came with `sent_at`.
    Messages without times get one second apart at ingest: no response time there."""
    meta = meta or {}
    if channel == Channel.VOICE:
        return meta.get("timed_turns", True) is not False
    return meta.get("timed_turns") is True


# -- the outline: conversations and engagements without turns -----------------------------


@dataclass
class EngagementLine:
    engagement: Any  # a Row of OUTLINE_COLUMNS
    start: datetime
    end: datetime
    agent: Agent | None
    handled_by: HandledBy
    outcome: str | None

    @property
    def id(self) -> uuid.UUID:
        return self.engagement.id

    @property
    def agent_name(self) -> str | None:
        return self.agent.name if self.agent is not None else None


@dataclass
class ConversationLine:
    id: uuid.UUID | None
    key: str  # the page's anchor: the conversation id, or the lone engagement's
    engagements: list[EngagementLine]
    overlaps: list[str] = field(default_factory=list)  # keys of conversations at the same time

    @property
    def start(self) -> datetime:
        return self.engagements[0].start

    @property
    def end(self) -> datetime:
        return max(e.end for e in self.engagements)

    @property
    def direction(self) -> str | None:
        return self.engagements[0].engagement.direction

    @property
    def channels(self) -> list[str]:
        return sorted({e.engagement.channel for e in self.engagements})


@dataclass
class Outline:
    customer: Customer
    conversations: list[ConversationLine]

    @property
    def engagement_count(self) -> int:
        return sum(len(c.engagements) for c in self.conversations)

    def channel_counts(self) -> dict[str, int]:
        return dict(
            Counter(e.engagement.channel for c in self.conversations for e in c.engagements)
        )

    def contacts_per_month(self) -> float | None:
        """Engagements per 30 days between the first and the last (None below two)."""
        if self.engagement_count < 2:
            return None
        span = self.conversations[-1].end - self.conversations[0].start
        days = max(span.total_seconds() / 86400, 1.0)
        return round(self.engagement_count / days * 30, 1)


def _customer(session: Session, principal: Principal, customer_id: uuid.UUID | str) -> Customer:
    return crm.get_customer(session, principal.company_id, customer_id)


# what the outline reads of each engagement: columns, not rows (hundreds of engagements)
OUTLINE_COLUMNS = (
    Engagement.id,
    Engagement.conversation_id,
    Engagement.agent_id,
    Engagement.channel,
    Engagement.direction,
    Engagement.queue,
    Engagement.started_at,
    Engagement.created_at,
    Engagement.duration_s,
)


def journey_outline(
    session: Session, principal: Principal, customer_id: uuid.UUID | str
) -> Outline:
    """Every conversation of the customer that holds an engagement the principal may
    see, oldest first, with those engagements (oldest first). NotFound for a customer
    of another company, and for one with no engagement the principal may see while the
    principal sees only their own calls."""
    customer = _customer(session, principal, customer_id)
    rows = session.execute(
        calls.scoped_calls(principal)
        .where(Engagement.customer_id == customer.id)
        .with_only_columns(*OUTLINE_COLUMNS)
    ).all()
    if not rows and principal.sees_only_own_calls:
        raise NotFound("Customer not found.")
    ids = [e.id for e in rows]
    agent_ids = {e.agent_id for e in rows if e.agent_id is not None}
    agents = (
        {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))}
        if agent_ids
        else {}
    )
    outcomes: dict[uuid.UUID, str] = {}
    with_agent_turns: set[uuid.UUID] = set()
    for chunk in _chunks(ids, 500):
        for engagement_id, outcome in session.execute(
            select(Minutes.engagement_id, Minutes.outcome).where(Minutes.engagement_id.in_(chunk))
        ):
            outcomes[engagement_id] = outcome
        with_agent_turns.update(
            session.scalars(
                select(Turn.engagement_id)
                .where(Turn.engagement_id.in_(chunk), Turn.role == TurnRole.AGENT)
                .distinct()
            )
        )
    groups: dict[str, ConversationLine] = {}
    now = utcnow()
    for e in rows:
        start = e.started_at or e.created_at or now
        agent = agents.get(e.agent_id) if e.agent_id else None
        human = (agent is not None and not agent.is_bot) or e.id in with_agent_turns
        line = EngagementLine(
            engagement=e,
            start=start,
            end=start + timedelta(seconds=e.duration_s or 0),
            agent=agent,
            handled_by=HandledBy.HUMAN if human else HandledBy.BOT,
            outcome=outcomes.get(e.id),
        )
        key = str(e.conversation_id) if e.conversation_id else f"e-{e.id}"
        group = groups.get(key)
        if group is None:
            groups[key] = ConversationLine(e.conversation_id, key, [line])
        else:
            group.engagements.append(line)
    conversations = list(groups.values())
    for c in conversations:
        c.engagements.sort(key=lambda x: (x.start, str(x.id)))
    conversations.sort(key=lambda c: (c.start, c.key))
    _mark_overlaps(conversations)
    return Outline(customer, conversations)


def _chunks(items: Sequence[uuid.UUID], size: int) -> list[Sequence[uuid.UUID]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _mark_overlaps(conversations: list[ConversationLine]) -> None:
    """Conversations whose time spans intersect (sorted by start: a sweep)."""
    for i, a in enumerate(conversations):
        a_end = a.end
        for b in conversations[i + 1 :]:
            if b.start >= a_end:
                break
            a.overlaps.append(b.key)
            b.overlaps.append(a.key)


# -- the journey with turns (one page of conversations) -------------------------------------


@dataclass
class JourneyPage:
    journey: JourneyOut
    total: int  # conversations in the whole journey


def customer_journey(
    session: Session,
    principal: Principal,
    customer_id: uuid.UUID | str,
    *,
    page: int = 1,
    page_size: int = 20,
) -> JourneyPage:
    """One page of the journey: `page_size` conversations, oldest first."""
    outline = journey_outline(session, principal, customer_id)
    chosen = outline.conversations[(page - 1) * page_size : page * page_size]
    ids = [e.id for c in chosen for e in c.engagements]
    turns: dict[uuid.UUID, list[Turn]] = {i: [] for i in ids}
    metas: dict[uuid.UUID, dict[str, Any] | None] = {}
    tracked: dict[uuid.UUID, dict[str, int]] = {}
    for chunk in _chunks(ids, 500):
        for engagement_id, meta, facts in session.execute(
            select(Engagement.id, Engagement.meta, Engagement.facts).where(Engagement.id.in_(chunk))
        ):
            metas[engagement_id] = meta
            tracked[engagement_id] = tracker_counts(facts)
        for turn in session.scalars(
            select(Turn).where(Turn.engagement_id.in_(chunk)).order_by(Turn.start_ms, Turn.seq)
        ):
            turns[turn.engagement_id].append(turn)
    customer = outline.customer
    journey = JourneyOut(
        customer=JourneyCustomerOut(
            id=customer.id, pid=customer.pid, label=shown_label(customer, principal)
        ),
        conversations=[
            JourneyConversationOut(
                id=c.id,
                started_at=c.start,
                direction=c.direction,
                channels=c.channels,
                engagements=[
                    _engagement_out(e, turns[e.id], metas.get(e.id), principal).model_copy(
                        update={"trackers": tracked.get(e.id) or {}}
                    )
                    for e in c.engagements
                ],
            )
            for c in chosen
        ],
    )
    return JourneyPage(journey, len(outline.conversations))


def tracker_counts(facts: dict[str, Any] | None) -> dict[str, int]:
    """The trackers that matched, from the engagement's `tracker_<name>` facts."""
    prefix = trackers.FACT_PREFIX
    return {
        k[len(prefix) :]: int(v)
        for k, v in (facts or {}).items()
        if k.startswith(prefix) and isinstance(v, int | float) and v > 0
    }


def _engagement_out(
    line: EngagementLine,
    turns: list[Turn],
    meta: dict[str, Any] | None,
    principal: Principal,
) -> JourneyEngagementOut:
    e = line.engagement
    real = times_are_real(e.channel, meta)
    out: list[JourneyTurnOut] = []
    other: Turn | None = None  # the last turn of a party
    for turn in turns:
        response_ms = None
        if real and other is not None and turn.role != TurnRole.UNKNOWN and other.role != turn.role:
            response_ms = max(0, turn.start_ms - other.end_ms)
        if turn.role != TurnRole.UNKNOWN:
            other = turn
        out.append(
            JourneyTurnOut(
                id=turn.id,
                seq=turn.seq,
                role=turn.role,
                participant=participant(turn, line.agent),
                text=_shown_text(turn, principal),
                start_ms=turn.start_ms,
                at=e.started_at + timedelta(milliseconds=turn.start_ms)
                if real and e.started_at is not None
                else None,
                response_ms=response_ms,
            )
        )
    return JourneyEngagementOut(
        id=e.id,
        channel=e.channel,
        queue=e.queue,
        agent_name=line.agent_name,
        handled_by=line.handled_by,
        outcome=line.outcome,
        started_at=e.started_at,
        turns=out,
    )


# -- similar turns (the search domain's) -----------------------------------------------------


def similar_turns(session: Session, principal: Principal, turn_id: int) -> list[SimilarTurnOut]:
    """Turns like this one, for the action pane (the search index; other engagements
    first, never the turn itself), scoped like the journey: an agent, their own calls."""
    _visible_turn(session, principal, turn_id)
    found = search.similar_turns(
        session,
        principal.company_id,
        turn_id,
        limit=10,
        only_agent_id=_only_agent(principal),
    )
    return [
        SimilarTurnOut(
            turn_id=h.turn_id, engagement_id=h.engagement_id, score=h.score, highlight=h.highlight
        )
        for h in found.hits
    ]


def _only_agent(principal: Principal) -> uuid.UUID | None:
    if not principal.sees_only_own_calls:
        return None
    # an agent user linked to no agent record sees no one's turns
    return principal.agent_id or uuid.UUID(int=0)


def _visible_turn(session: Session, principal: Principal, turn_id: int) -> Turn:
    turn = session.get(Turn, turn_id)
    if turn is None or turn.company_id != principal.company_id:
        raise NotFound("Turn not found.")
    calls.get_call(session, principal, turn.engagement_id)  # NotFound when not theirs
    return turn


# -- prompting ---------------------------------------------------------------------------

CONCISE_TURNS, DETAILED_TURNS = 2, 5
MAX_PROMPT_CHARS = 24_000  # transcript characters sent to the LLM
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "sources": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["answer", "sources"],
    "additionalProperties": False,
}
SYSTEM = (
    "You answer questions about one customer-service engagement (a call, chat, email or "
    "ticket) using only its transcript. Each line is `[turn id] participant: text`. "
    "If the transcript does not say, answer that it does not. Reply with one JSON "
    "object: `answer` (plain text) and `sources` (the ids of the turns the answer rests "
    "on)."
)


def ask(
    session: Session, principal: Principal, engagement_id: uuid.UUID | str, prompt: str, detail: str
) -> AskOut:
    """Answer `prompt` about one engagement the principal may see: by the company's AI
    endpoint when one is configured, else by the local engine, which answers
    extractively with the engagement's own turns that match the prompt best."""
    call = calls.get_call(session, principal, engagement_id)
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    turns = [t for t in calls.list_turns(session, call.id) if t.text.strip()]
    texts = [_shown_text(t, principal) for t in turns]
    client = minutes.chat_client_for(accounts.get_company_settings(session, principal.company_id))
    if client is not None:
        if not turns:
            return AskOut(answer="This engagement has no turns yet.", engine="llm", sources=[])
        return _ask_llm(client, turns, texts, agent, prompt, detail)
    return _ask_local(turns, texts, agent, prompt, detail)


MANY_SYSTEM = (
    "You answer questions about a list of customer-service engagements (calls, chats, "
    "emails, tickets) using only their transcripts. Each engagement starts with a line "
    "`## engagement <id>`; each turn is `[turn id] participant: text`. If the "
    "transcripts do not say, answer that they do not. Reply with one JSON object: "
    "`answer` (plain text) and `sources` (the ids of the turns the answer rests on)."
)


def _ask_llm(
    client: ChatClient,
    turns: list[Turn],
    texts: list[str],
    agent: Agent | None,
    prompt: str,
    detail: str,
) -> AskOut:
    return ask_turns_llm(client, turns, texts, prompt, detail, agents={None: agent})


def ask_turns_llm(
    client: ChatClient,
    turns: list[Turn],
    texts: list[str],
    prompt: str,
    detail: str = "concise",
    *,
    agents: dict[uuid.UUID | None, Agent | None],
    many: bool = False,
) -> AskOut:
    """Ask the company's LLM about these turns (the shown text of each in `texts`): one
    engagement's, or (`many`) several engagements' in order, each under its heading.
    `agents` names the agent of each engagement (key None: of all). Only turns sent can
    come back as sources."""
    lines, size, known = [], 0, set()
    current: uuid.UUID | None = None
    for turn, text in zip(turns, texts, strict=True):
        agent = agents.get(turn.engagement_id, agents.get(None))
        line = f"[{turn.id}] {participant(turn, agent)}: {' '.join(text.split())}"
        if many and turn.engagement_id != current:
            current = turn.engagement_id
            line = f"## engagement {current}\n{line}"
        size += len(line) + 1
        if size > MAX_PROMPT_CHARS:
            break
        lines.append(line)
        known.add(turn.id)
    how = (
        "Answer in one or two sentences."
        if detail == "concise"
        else "Answer in detail: the relevant specifics, in the order they came up."
    )
    heading = "Transcripts" if many else "Transcript"
    user = f"{how}\nQuestion: {prompt}\n\n{heading}:\n" + "\n".join(lines)

    def parse(content: str) -> AskOut:
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise InvalidAnswer(f"not JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
            raise InvalidAnswer("`answer` must be a string")
        sources = data.get("sources")
        if not isinstance(sources, list) or not all(isinstance(s, int) for s in sources):
            raise InvalidAnswer("`sources` must be a list of turn ids (integers)")
        cited = [s for s in dict.fromkeys(sources) if s in known]  # never an id not ours
        return AskOut(answer=data["answer"].strip(), engine="llm", sources=cited)

    with client:
        return client.complete_json(
            MANY_SYSTEM if many else SYSTEM,
            user,
            schema=ANSWER_SCHEMA,
            schema_name="engagement_answer",
            parse=parse,
        )


def _ask_local(
    turns: list[Turn], texts: list[str], agent: Agent | None, prompt: str, detail: str
) -> AskOut:
    note = (
        "Extractive answer from the local engine: the turns of this engagement that match "
        "the prompt best (TF-IDF cosine similarity; no AI endpoint is configured)."
    )
    if not turns:
        return AskOut(
            answer=f"{note}\nThis engagement has no turns yet.", engine="local", sources=[]
        )
    scores = rank_turns(prompt, texts)
    wanted = CONCISE_TURNS if detail == "concise" else DETAILED_TURNS
    best = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))[
        :wanted
    ]
    if not best:
        return AskOut(
            answer=f"{note}\nNo turn of this engagement matches the prompt.",
            engine="local",
            sources=[],
        )
    chosen = sorted(best)  # in the order they were said
    quoted = "\n".join(
        f"- {participant(turns[i], agent)}: {' '.join(texts[i].split())}" for i in chosen
    )
    return AskOut(answer=f"{note}\n{quoted}", engine="local", sources=[turns[i].id for i in chosen])


# Retrieval for the local engine: TF-IDF cosine, with search's stop words. The search
# embedder (`search.embedders.get_embedder(session, company_id).embed`) is to replace it.
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def rank_turns(prompt: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of the prompt to each text in TF-IDF space (smoothed idf over
    the texts themselves), one score per text."""
    docs = [Counter(_words(t)) for t in texts]
    n = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())

    def vector(counts: Counter[str]) -> dict[str, float]:
        vec = {w: c * (math.log((1 + n) / (1 + df[w])) + 1) for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    query = vector(Counter(_words(prompt)))
    return [sum(query.get(w, 0.0) * v for w, v in vector(d).items()) for d in docs]
