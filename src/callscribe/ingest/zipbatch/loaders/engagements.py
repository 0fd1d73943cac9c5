"""Loaders of conversations, engagements and turns. A new engagement goes through the one
ingest path (`ingest.service.create_engagement`: PID, agent and customer resolved the
usual way, its conversation); it waits for its turns, which come in the turns data set
and may span files and chunks; the batch hands every engagement it touched to the
pipeline once all its items are in (`service.release_engagements`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent
from callscribe.calls import service as calls
from callscribe.calls.models import (
    Channel,
    Conversation,
    ConversationKind,
    Direction,
    Engagement,
    Timing,
    Turn,
    TurnRole,
)
from callscribe.crm.models import Customer
from callscribe.ingest import service as ingest
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.ingest.request import AgentHints, CustomerHints, IngestRequest, pid_for
from callscribe.ingest.zipbatch.loaders.base import (
    Chunk,
    Item,
    Level,
    Loader,
    Message,
    MessageCode,
    Outcome,
    Rejected,
    apply,
    reference,
)

MAX_TURN_CHARS = 100_000  # as a ticket's message
ROLES = (TurnRole.AGENT.value, TurnRole.CUSTOMER.value, TurnRole.BOT.value)
MS_PER_WORD = 400  # an end time when none is given: about 150 words a minute


def conversation_pid(company_id: uuid.UUID, external_id: str) -> uuid.UUID:
    # the PID ingest.service.group_into_conversation gives an explicit conversation id
    return pid_for(company_id, "conversation", None, external_id)


class ConversationsLoader(Loader):
    """Conversations named by engagements' `conversation_id`: the same conversation the
    engagements join (account-wide ids), with its customer."""

    data_set = "conversations"
    fields = frozenset({"customer_id"})

    def load_item(self, item: Item) -> Outcome:
        chunk = item.chunk
        external = item.text("id", max_len=200) or ""
        customer_id = reference(item, "customers", Customer, "customer_id")
        pid = conversation_pid(chunk.company_id, external)
        row = chunk.session.scalars(
            select(Conversation).where(
                Conversation.company_id == chunk.company_id, Conversation.pid == pid
            )
        ).first()
        if row is None:
            chunk.session.add(
                Conversation(
                    company_id=chunk.company_id,
                    pid=pid,
                    kind=ConversationKind.EXPLICIT,
                    external_id=external,
                    customer_id=customer_id,
                    source=chunk.source_id,
                    channels=[],
                )
            )
            chunk.session.flush()
            return Outcome.CREATED
        changed = customer_id is not None and apply(row, {"customer_id": customer_id})
        return Outcome.UPDATED if changed else Outcome.UNCHANGED


class EngagementsLoader(Loader):
    data_set = "engagements"
    fields = frozenset(
        {
            "channel",
            "direction",
            "started_at",
            "duration_s",
            "agent_id",
            "customer_id",
            "queue",
            "outcome",
            "location",
            "engaged_team",
            "engaged_department",
            "talk_s",
            "hold_s",
            "wait_s",
            "wrapup_s",
            "is_technical",
            "conversation_id",
            "subject",
            "recording_url",
            "attributes",
            "facts",
        }
    )

    def load_item(self, item: Item) -> Outcome:
        chunk = item.chunk
        external = item.text("id", max_len=200) or ""
        channel = item.enum("channel", [c.value for c in Channel], default=Channel.CHAT.value)
        direction = item.enum("direction", [d.value for d in Direction])
        recording_url = item.text("recording_url", max_len=2000)
        if recording_url:
            parts = urlsplit(recording_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise Rejected(MessageCode.BAD_VALUE, "recording_url must be an http(s) URL.")
        columns: dict[str, Any] = {
            "queue": item.label("queue"),
            "outcome": item.label("outcome"),
            "location": item.label("location"),
            "engaged_team": item.label("engaged_team"),
            "engaged_department": item.label("engaged_department"),
            "talk_s": item.seconds("talk_s"),
            "hold_s": item.seconds("hold_s"),
            "wait_s": item.seconds("wait_s"),
            "wrapup_s": item.seconds("wrapup_s"),
            "is_technical": bool(item.flag("is_technical")),
            "attributes": item.attributes(),
            "facts": item.facts(),
        }
        started = item.moment("started_at")
        duration = item.seconds("duration_s")
        conversation = item.text("conversation_id", max_len=200)
        subject = item.text("subject", max_len=300)
        agent_ref = item.text("agent_id", max_len=100)
        agent_id = reference(item, "agents", Agent, "agent_id")
        customer_id = reference(item, "customers", Customer, "customer_id")
        customer = chunk.session.get(Customer, customer_id) if customer_id else None
        meta = {
            **({"subject": subject} if subject else {}),
            **({"recording_url": recording_url} if recording_url else {}),
        }
        pid = item.pid()
        existing = ingest.find_by_pid(chunk.session, chunk.company_id, pid)
        if existing is None:
            request = IngestRequest(
                company_id=chunk.company_id,
                source=chunk.source_id,
                data_set=self.data_set,
                channel=channel or Channel.CHAT.value,
                external_id=external,
                conversation_id=conversation,
                direction=direction,
                started_at=started,
                duration_s=duration,
                agent=AgentHints(external_id=agent_ref) if agent_id else AgentHints(),
                customer=CustomerHints(
                    customer_id=customer_id, name=customer.name if customer else None
                ),
                turns_follow=True,
                columns=columns,
                meta={**meta, "ingest_batch_id": str(chunk.batch_id)},
            )
            result = ingest.create_engagement(chunk.session, request)
            chunk.refs[("engagements", external)] = result.engagement.id
            chunk.touched.add(result.engagement.id)
            return Outcome.CREATED
        chunk.refs[("engagements", external)] = existing.id
        # the pipeline's facts (conversation stats, trackers) stay: the source's are its own
        columns["facts"] = {**calls.computed_facts(existing), **columns["facts"]}
        values = {
            **columns,
            "channel": channel,
            "direction": direction,
            "started_at": started,
            "duration_s": duration if duration is not None else existing.duration_s,
            "agent_id": agent_id,
            "customer_id": customer_id,
            "customer_name": customer.name[:200] if customer and customer.name else None,
        }
        changed = apply(existing, values)
        new_meta = {
            **{
                k: v
                for k, v in (existing.meta or {}).items()
                if k not in ("subject", "recording_url")
            },
            **meta,
        }
        if new_meta != (existing.meta or {}):
            existing.meta = {**new_meta, "ingest_batch_id": str(chunk.batch_id)}
            changed = True
        chunk.session.flush()
        return Outcome.UPDATED if changed else Outcome.UNCHANGED


class TurnsLoader(Loader):
    """Turns by (engagement, seq), a chunk at a time: one query for the chunk's
    engagements and one for their stored turns, PII spans found per engagement."""

    data_set = "turns"
    fields = frozenset({"engagement_id", "seq", "role", "text", "start_ms", "end_ms", "speaker"})

    def load_chunk(self, chunk: Chunk, items: list[Item]) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        parsed: dict[int, tuple[str, int, ParsedTurn]] = {}
        for index, item in enumerate(items):
            outcome = self.guarded(
                item, lambda it=item, i=index: self._parse(it, i, parsed), savepoint=False
            )
            if outcome is Outcome.REJECTED:
                outcomes[index] = outcome
        engagements = self._engagements(chunk, {ext for ext, _, _ in parsed.values()})
        by_engagement: dict[uuid.UUID, list[int]] = defaultdict(list)
        for index, (ext, _seq, _turn) in parsed.items():
            engagement = engagements.get(ext)
            if engagement is None:
                items[index].messages.append(
                    Message(
                        Level.ERROR,
                        MessageCode.UNKNOWN_REFERENCE,
                        f"Rejected: engagement_id {ext[:60]!r}: no such item in engagements "
                        "(send the engagement first).",
                        chunk.data_set,
                        chunk.file,
                        items[index].line,
                        items[index].id[:100],
                    )
                )
                outcomes[index] = Outcome.REJECTED
                continue
            by_engagement[engagement.id].append(index)
        if by_engagement:
            stored: dict[tuple[uuid.UUID, int], Turn] = {
                (t.engagement_id, t.seq): t
                for t in chunk.session.scalars(
                    select(Turn).where(
                        Turn.engagement_id.in_(list(by_engagement)),
                        Turn.seq.in_(sorted({seq for _e, seq, _t in parsed.values()})),
                    )
                )
            }
        else:
            stored = {}
        by_id = {e.id: e for e in engagements.values()}
        redacts = bool(accounts.get_company_settings(chunk.session, chunk.company_id).redact_pii)
        for engagement_id, indexes in by_engagement.items():
            engagement = by_id[engagement_id]
            latest: dict[int, int] = {}  # seq -> index: a seq sent twice, the last wins
            for index in indexes:
                latest[parsed[index][1]] = index
            for index in indexes:
                if latest[parsed[index][1]] != index:
                    outcomes[index] = Outcome.UNCHANGED
            keep = list(latest.values())
            turns = [(parsed[i][1], parsed[i][2]) for i in keep]
            existing = {
                seq: stored[(engagement_id, seq)]
                for seq, _ in turns
                if (engagement_id, seq) in stored
            }
            results = ingest.upsert_turns(
                chunk.session, engagement, turns, existing, redacts=redacts
            )
            for index, result in zip(keep, results, strict=True):
                outcomes[index] = Outcome(result)
            if any(r != Outcome.UNCHANGED for r in results):
                chunk.touched.add(engagement_id)
                timing = (engagement.meta or {}).get("timing")
                untimed = any(not parsed[i][2].timed for i in keep)
                wanted = Timing.NONE if untimed or timing == Timing.NONE else Timing.REAL
                if timing != wanted:
                    engagement.meta = {**(engagement.meta or {}), "timing": wanted}
        chunk.session.flush()
        return [outcomes[i] for i in range(len(items))]

    def _parse(
        self, item: Item, index: int, parsed: dict[int, tuple[str, int, ParsedTurn]]
    ) -> Outcome:
        ext = item.text("engagement_id", max_len=200, required=True) or ""
        seq = item.integer("seq", required=True) or 0
        role = item.enum("role", ROLES)
        if role is None:
            raise Rejected(MessageCode.MISSING_FIELD, "role is required.")
        text = item.data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Rejected(MessageCode.MISSING_FIELD, "text is required (the words of the turn).")
        if len(text) > MAX_TURN_CHARS:
            raise Rejected(
                MessageCode.BAD_VALUE, f"text is longer than {MAX_TURN_CHARS} characters."
            )
        start = item.integer("start_ms")
        end = item.integer("end_ms")
        timed = start is not None
        start_ms = start if start is not None else seq * 1000
        end_ms = end if end is not None else start_ms + MS_PER_WORD * max(1, len(text.split()))
        if end_ms < start_ms:
            raise Rejected(MessageCode.BAD_VALUE, "end_ms is before start_ms.")
        speaker = item.text("speaker", max_len=200)
        parsed[index] = (ext, seq, ParsedTurn(role, text.strip(), start_ms, end_ms, speaker, timed))
        return Outcome.UNCHANGED  # provisional: the chunk decides

    def _engagements(self, chunk: Chunk, externals: set[str]) -> dict[str, Engagement]:
        if not externals:
            return {}
        pids = {pid_for(chunk.company_id, chunk.source_id, "engagements", e): e for e in externals}
        rows = chunk.session.scalars(
            select(Engagement).where(
                Engagement.company_id == chunk.company_id, Engagement.pid.in_(list(pids))
            )
        )
        return {pids[row.pid]: row for row in rows if row.pid is not None}
