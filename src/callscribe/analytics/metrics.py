"""The built-in metrics, defined once: name, label, unit, description and how each is
computed, either as an expression of the metric language or as a function of the
query's Frame (for what the language does not reach: turns, Minutes, time windows).

A metric is an aggregate over the engagements of one group of the query. Metrics that
need another table ask the Frame for it; the Frame joins only what was asked for.

To add one: append a BuiltinMetric to BUILTINS with a `compute(frame)` that returns an
aggregate expression over the group's engagements (a correlated EXISTS keyed by
`Engagement.id`, as first_contact_resolution and review_coverage do, or a per-engagement
subquery the Frame joins once, as the turns, transactions and reviews are).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, exists, func, null, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from callscribe.accounts.models import Agent
from callscribe.analytics.expression.nodes import Kind
from callscribe.analytics.expression.sql import epoch_s
from callscribe.calls.models import Engagement, Minutes, Turn
from callscribe.crm.models import Transaction
from callscribe.reviews.models import BuiltinTag, Review, ReviewerKind, ReviewStatus, Tag

REPEAT_WINDOW_S = 7 * 86400  # first-contact resolution and repeat contacts: 7 days


class Unit:
    COUNT = "count"
    SECONDS = "seconds"
    RATIO = "ratio"  # 0..1
    MONEY = "money"
    PERCENT = "percent"  # 0..100 (and above, with bonus sections)


@dataclass
class Frame:
    """The FROM of one analytics query over a company's engagements: the joins metrics
    and groups asked for, added once each."""

    company_id: uuid.UUID
    needs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._turns: Any = None
        self._txns: Any = None
        self._reviews: Any = None
        self._tags: Any = None

    @property
    def when(self) -> ColumnElement[Any]:
        return func.coalesce(Engagement.started_at, Engagement.created_at)

    def minutes(self) -> type[Minutes]:
        self.needs.add("minutes")
        return Minutes

    def agent(self) -> type[Agent]:
        self.needs.add("agents")
        return Agent

    def outcome(self) -> ColumnElement[Any]:
        """The source's outcome, else the analyzer's."""
        return func.coalesce(Engagement.outcome, self.minutes().outcome)

    def turns(self) -> Any:
        """Per engagement: agent and customer speaking time, total speech and span (ms)."""
        self.needs.add("turns")
        if self._turns is None:
            span = Turn.end_ms - Turn.start_ms
            self._turns = (
                select(
                    Turn.engagement_id.label("engagement_id"),
                    func.sum(case((Turn.role == "agent", span), else_=0)).label("agent_ms"),
                    func.sum(case((Turn.role == "customer", span), else_=0)).label("customer_ms"),
                    func.sum(span).label("speech_ms"),
                    (func.max(Turn.end_ms) - func.min(Turn.start_ms)).label("span_ms"),
                )
                .where(Turn.company_id == self.company_id)
                .group_by(Turn.engagement_id)
                .subquery("turn_stats")
            )
        return self._turns

    def transactions(self) -> Any:
        """Per engagement: its transactions' count and revenue."""
        self.needs.add("transactions")
        if self._txns is None:
            self._txns = (
                select(
                    Transaction.engagement_id.label("engagement_id"),
                    func.count(Transaction.id).label("n"),
                    func.sum(Transaction.revenue).label("revenue"),
                )
                .where(Transaction.company_id == self.company_id)
                .where(Transaction.engagement_id.is_not(None))
                .group_by(Transaction.engagement_id)
                .subquery("txn_stats")
            )
        return self._txns

    def reviews(self) -> Any:
        """Per engagement: the average QA score of people's form reviews (calibration
        sessions left out: those are practice) and how many turns or engagements the AI
        flags."""
        self.needs.add("reviews")
        if self._reviews is None:
            human_score = case(
                (
                    and_(
                        Review.reviewer_kind == ReviewerKind.HUMAN.value,
                        Review.calibration_id.is_(None),
                    ),
                    Review.score,
                ),
                else_=null(),
            )
            ai_flag = case(
                (
                    and_(
                        Review.reviewer_kind == ReviewerKind.AI.value,
                        Review.status == ReviewStatus.FLAGGED.value,
                    ),
                    1,
                ),
                else_=0,
            )
            self._reviews = (
                select(
                    Review.engagement_id.label("engagement_id"),
                    func.avg(human_score).label("qa_score"),
                    func.sum(ai_flag).label("ai_flags"),
                )
                .where(Review.company_id == self.company_id)
                .group_by(Review.engagement_id)
                .subquery("review_stats")
            )
        return self._reviews

    def tags(self) -> Any:
        """Each (engagement, tag name) once: a person's tag or the AI's standing flag on
        the engagement or one of its turns (calibration practice and withdrawn flags
        left out). Grouping by it counts an engagement under every tag it carries and
        leaves out the untagged."""
        self.needs.add("tags")
        if self._tags is None:
            self._tags = (
                select(Review.engagement_id.label("engagement_id"), Tag.name.label("tag"))
                .join(Tag, Tag.id == Review.tag_id)
                .where(
                    Review.company_id == self.company_id,
                    Review.calibration_id.is_(None),
                    Review.status != ReviewStatus.WITHDRAWN.value,
                )
                .distinct()
                .subquery("engagement_tags")
            )
        return self._tags

    def join(self, stmt: Select[Any]) -> Select[Any]:
        """`stmt` (FROM engagements) with the outer joins asked for (the tags: an inner
        join, see `tags`)."""
        if "agents" in self.needs:
            stmt = stmt.outerjoin(Agent, Agent.id == Engagement.agent_id)
        if "minutes" in self.needs:
            stmt = stmt.outerjoin(Minutes, Minutes.engagement_id == Engagement.id)
        if "turns" in self.needs:
            t = self.turns()
            stmt = stmt.outerjoin(t, t.c.engagement_id == Engagement.id)
        if "transactions" in self.needs:
            x = self.transactions()
            stmt = stmt.outerjoin(x, x.c.engagement_id == Engagement.id)
        if "reviews" in self.needs:
            r = self.reviews()
            stmt = stmt.outerjoin(r, r.c.engagement_id == Engagement.id)
        if "tags" in self.needs:
            g = self.tags()
            stmt = stmt.join(g, g.c.engagement_id == Engagement.id)
        return stmt

    # -- names of the expression language ------------------------------------------
    def field(self, name: str) -> tuple[Kind, Any] | None:
        if name.startswith("facts."):
            return Kind.NUMBER, Engagement.facts[name[6:]].as_float()
        if name.startswith("attributes."):
            return Kind.TEXT, Engagement.attributes[name[11:]].as_string()
        if name in TEXT_FIELDS:
            return Kind.TEXT, getattr(Engagement, name)
        if name in NUMBER_FIELDS:
            return Kind.NUMBER, getattr(Engagement, name)
        if name == "outcome":
            return Kind.TEXT, self.outcome()
        if name == "sentiment":
            return Kind.TEXT, self.minutes().sentiment
        if name in ENTITY_FIELDS:
            return Kind.ENTITY, getattr(Engagement, ENTITY_FIELDS[name])
        return None


TEXT_FIELDS = (
    "channel",
    "direction",
    "source",
    "queue",
    "location",
    "engaged_team",
    "engaged_department",
    "status",
)
NUMBER_FIELDS = ("talk_s", "hold_s", "wait_s", "wrapup_s", "duration_s")
ENTITY_FIELDS = {
    "engagement": "id",
    "customer": "customer_id",
    "agent": "agent_id",
    "conversation": "conversation_id",
}
FIELD_NAMES = (
    *TEXT_FIELDS,
    "outcome",
    "sentiment",
    *NUMBER_FIELDS,
    *ENTITY_FIELDS,
    "facts.<name>",
    "attributes.<name>",
)


@dataclass(frozen=True)
class BuiltinMetric:
    name: str
    label: str
    unit: str
    description: str
    # one of the two: an expression of the metric language, or a function of the Frame
    expression: str | None = None
    compute: Callable[[Frame], ColumnElement[Any]] | None = None


def _ratio(num: ColumnElement[Any], den: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(num, Float) / func.nullif(cast(den, Float), 0)


def _talk_ratio(frame: Frame) -> ColumnElement[Any]:
    t = frame.turns()
    voice = Engagement.channel == "voice"
    agent = func.sum(case((voice, t.c.agent_ms), else_=null()))
    both = func.sum(case((voice, t.c.agent_ms + t.c.customer_ms), else_=null()))
    return _ratio(agent, both)


def _silence_share(frame: Frame) -> ColumnElement[Any]:
    t = frame.turns()
    voice = and_(Engagement.channel == "voice", t.c.span_ms > 0)
    silent = case((t.c.speech_ms < t.c.span_ms, t.c.span_ms - t.c.speech_ms), else_=0)
    return _ratio(
        func.sum(case((voice, silent), else_=null())),
        func.sum(case((voice, t.c.span_ms), else_=null())),
    )


def _sentiment_share(value: str) -> Callable[[Frame], ColumnElement[Any]]:
    def compute(frame: Frame) -> ColumnElement[Any]:
        m = frame.minutes()
        return _ratio(func.count(case((m.sentiment == value, 1))), func.count(m.sentiment))

    return compute


def _outcome_rate(value: str) -> Callable[[Frame], ColumnElement[Any]]:
    def compute(frame: Frame) -> ColumnElement[Any]:
        outcome = frame.outcome()
        return _ratio(func.count(case((func.lower(outcome) == value, 1))), func.count(outcome))

    return compute


def _other_contact(later: bool) -> ColumnElement[bool]:
    """Another (non-technical) engagement of the same customer within 7 days after
    (`later`) or before this one."""
    other = aliased(Engagement)
    mine = epoch_s(func.coalesce(Engagement.started_at, Engagement.created_at))
    theirs = epoch_s(func.coalesce(other.started_at, other.created_at))
    gap = (theirs - mine) if later else (mine - theirs)
    return exists(
        select(other.id).where(
            other.company_id == Engagement.company_id,
            other.customer_id == Engagement.customer_id,
            other.id != Engagement.id,
            other.is_technical.is_(False),
            gap >= 0,
            gap <= REPEAT_WINDOW_S,
        )
    )


def _fcr(_frame: Frame) -> ColumnElement[Any]:
    known = Engagement.customer_id.is_not(None)
    resolved = case((and_(known, ~_other_contact(later=True)), 1))
    return _ratio(func.count(resolved), func.count(Engagement.customer_id))


def _repeat(_frame: Frame) -> ColumnElement[Any]:
    known = Engagement.customer_id.is_not(None)
    repeat = case((and_(known, _other_contact(later=False)), 1))
    return _ratio(func.count(repeat), func.count(Engagement.customer_id))


def _handle(frame: Frame) -> ColumnElement[Any]:
    talk = func.coalesce(Engagement.talk_s, Engagement.duration_s)
    handle = talk + func.coalesce(Engagement.hold_s, 0) + func.coalesce(Engagement.wrapup_s, 0)
    return func.avg(handle)


def _revenue(frame: Frame) -> ColumnElement[Any]:
    return func.coalesce(func.sum(frame.transactions().c.revenue), 0)


def _transactions(frame: Frame) -> ColumnElement[Any]:
    return func.coalesce(func.sum(frame.transactions().c.n), 0)


def tagged(name: str) -> ColumnElement[bool]:
    """The engagement, or one of its turns, carries the tag of that name (any case): a
    person's review or the AI's standing flag (a withdrawn flag does not count)."""
    return exists(
        select(Review.id)
        .join(Tag, Tag.id == Review.tag_id)
        .where(
            Review.engagement_id == Engagement.id,
            Tag.company_id == Engagement.company_id,
            func.lower(Tag.name) == name.strip().lower(),
            Review.status != ReviewStatus.WITHDRAWN.value,
        )
    )


def tagged_engagements(company_id: uuid.UUID, name: str) -> Select[Any]:
    """The ids of the company's engagements that carry the tag (as `tagged`): what the
    shell hands to search for its `tag` filter (search cannot import reviews)."""
    return select(Engagement.id).where(Engagement.company_id == company_id, tagged(name))


def reviewed_engagement() -> ColumnElement[bool]:
    """A person tagged the engagement `Reviewed` (the built-in tag)."""
    return exists(
        select(Review.id)
        .join(Tag, Tag.id == Review.tag_id)
        .where(
            Review.engagement_id == Engagement.id,
            Review.reviewer_kind == ReviewerKind.HUMAN.value,
            Tag.company_id == Engagement.company_id,
            Tag.builtin.is_(True),
            Tag.name == BuiltinTag.REVIEWED.value,
        )
    )


def _review_coverage(_frame: Frame) -> ColumnElement[Any]:
    return _ratio(func.count(case((reviewed_engagement(), 1))), func.count(Engagement.id))


def _avg_qa_score(frame: Frame) -> ColumnElement[Any]:
    return func.avg(frame.reviews().c.qa_score)


def _ai_flagged_share(frame: Frame) -> ColumnElement[Any]:
    flagged = case((frame.reviews().c.ai_flags > 0, 1))
    return _ratio(func.count(flagged), func.count(Engagement.id))


BUILTINS: tuple[BuiltinMetric, ...] = (
    BuiltinMetric(
        "engagements",
        "Engagements",
        Unit.COUNT,
        "Engagements (calls, chats, emails, tickets) in the filter.",
        expression="COUNT(engagement)",
    ),
    BuiltinMetric(
        "conversations",
        "Conversations",
        Unit.COUNT,
        "Distinct conversations the engagements belong to (a transfer or callback is one).",
        expression="COUNT_DISTINCT(conversation)",
    ),
    BuiltinMetric(
        "customers",
        "Customers",
        Unit.COUNT,
        "Distinct customers the engagements were with.",
        expression="COUNT_DISTINCT(customer)",
    ),
    BuiltinMetric(
        "avg_handle_time_s",
        "Average handle time",
        Unit.SECONDS,
        "Talk (the source's talk time, else the duration) + hold + wrap-up, averaged over "
        "engagements that have a talk time or a duration.",
        compute=_handle,
    ),
    BuiltinMetric(
        "avg_talk_time_s",
        "Average talk time",
        Unit.SECONDS,
        "The source's talk time, averaged over engagements that have one.",
        expression="AVG(talk_s)",
    ),
    BuiltinMetric(
        "avg_hold_time_s",
        "Average hold time",
        Unit.SECONDS,
        "Hold time, averaged over engagements that have one.",
        expression="AVG(hold_s)",
    ),
    BuiltinMetric(
        "avg_wait_time_s",
        "Average wait time",
        Unit.SECONDS,
        "Time in queue before an agent answered, averaged over engagements that have one.",
        expression="AVG(wait_s)",
    ),
    BuiltinMetric(
        "talk_ratio_agent",
        "Talk ratio (agent)",
        Unit.RATIO,
        "The agent's share of agent + customer speaking time, from the turns' start and "
        "end (voice engagements; pooled over the group).",
        compute=_talk_ratio,
    ),
    BuiltinMetric(
        "silence_share",
        "Silence share",
        Unit.RATIO,
        "Share of the span from the first turn's start to the last turn's end not covered "
        "by turns (span minus summed turn times, at least 0; voice engagements, pooled).",
        compute=_silence_share,
    ),
    *(
        BuiltinMetric(
            f"sentiment_{s}_share",
            f"{s.capitalize()} sentiment",
            Unit.RATIO,
            f"Share of analysed engagements whose Minutes' sentiment is {s}.",
            compute=_sentiment_share(s),
        )
        for s in ("positive", "neutral", "negative", "mixed")
    ),
    *(
        BuiltinMetric(
            f"{key}_rate",
            f"{label} rate",
            Unit.RATIO,
            f"Share of engagements with an outcome whose outcome is '{value}' (the "
            "source's outcome, else the Minutes').",
            compute=_outcome_rate(value),
        )
        for key, label, value in (
            ("resolved", "Resolved", "resolved"),
            ("sale", "Sale", "sale"),
            ("escalated", "Escalated", "escalated"),
            ("follow_up", "Follow-up", "follow-up needed"),
            ("unresolved", "Unresolved", "unresolved"),
        )
    ),
    BuiltinMetric(
        "first_contact_resolution",
        "First-contact resolution",
        Unit.RATIO,
        "Share of engagements with a known customer after which that customer had no "
        "other engagement within 7 days.",
        compute=_fcr,
    ),
    BuiltinMetric(
        "repeat_contact_rate",
        "Repeat-contact rate",
        Unit.RATIO,
        "Share of engagements with a known customer who had another engagement in the 7 "
        "days before.",
        compute=_repeat,
    ),
    BuiltinMetric(
        "review_coverage",
        "Review coverage",
        Unit.RATIO,
        "Share of engagements a person tagged `Reviewed`.",
        compute=_review_coverage,
    ),
    BuiltinMetric(
        "avg_qa_score",
        "Average QA score",
        Unit.PERCENT,
        "People's form-review scores (percent; a bonus section may lift one above 100), "
        "averaged per engagement, then over the engagements that have one. Calibration "
        "sessions are left out.",
        compute=_avg_qa_score,
    ),
    BuiltinMetric(
        "ai_flagged_share",
        "AI-flagged share",
        Unit.RATIO,
        "Share of engagements with at least one turn or the engagement flagged by an auto "
        "review (any tag; filter by tag for one).",
        compute=_ai_flagged_share,
    ),
    BuiltinMetric(
        "revenue",
        "Revenue",
        Unit.MONEY,
        "Sum of the revenue of the transactions linked to the engagements.",
        compute=_revenue,
    ),
    BuiltinMetric(
        "transactions",
        "Transactions",
        Unit.COUNT,
        "Transactions linked to the engagements.",
        compute=_transactions,
    ),
)
BUILTIN_BY_NAME = {m.name: m for m in BUILTINS}
