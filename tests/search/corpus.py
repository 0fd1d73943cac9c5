"""Real transcripts for the search tests: the three ABCD customer-service chats and the
first turns of a QMSum (AMI) meeting, inserted as engagements of a company."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from tests.conftest import DATA, insert_text_engagement

ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"
QMSUM = DATA / "transcripts" / "qmsum" / "ES2004a.json"
MEETING_TURNS = 60  # enough real meeting talk around the chats, quick to embed
ROLES = {"agent": "agent", "customer": "customer", "action": "bot"}
# the one line not from ABCD: its chats name no product code, and a code said inside a
# sentence (not alone in a turn, like the order ids) is what keyword search is for
PRODUCT_CODE = "MK-88213"
PRODUCT_TURN = (
    f"They are the slim fit jeans, style code {PRODUCT_CODE}, the same as on the receipt."
)


@dataclass
class Corpus:
    company_id: uuid.UUID
    chats: list[uuid.UUID] = field(default_factory=list)  # ABCD, in file order
    meeting: uuid.UUID | None = None
    agents: list[uuid.UUID] = field(default_factory=list)


def abcd_turns() -> list[list[tuple[str, str]]]:
    chats = [[(ROLES[r], t) for r, t in c["original"]] for c in json.loads(ABCD.read_text())]
    wrong_size = next(i for i, (_r, t) in enumerate(chats[0]) if t == "I got the wrong size.")
    chats[0].insert(wrong_size + 1, ("customer", PRODUCT_TURN))
    return chats


def meeting_turns() -> list[tuple[str, str]]:
    turns = json.loads(QMSUM.read_text())["meeting_transcripts"]
    kept = [t["content"] for t in turns if len(t["content"].split()) >= 4]
    return [("unknown", text) for text in kept[:MEETING_TURNS]]


def make_agent(company_id: uuid.UUID, name: str, team: str | None = None) -> uuid.UUID:
    from callscribe.accounts.models import Agent
    from callscribe.db import session_scope

    with session_scope() as s:
        agent = Agent(company_id=company_id, name=name, team=team)
        s.add(agent)
        s.flush()
        return agent.id


def insert_corpus(company_id: uuid.UUID, *, meeting: bool = True) -> Corpus:
    """The chats (the first two with one agent of team "returns", the third with another)
    and, unless told not, the meeting as a voice call without an agent."""
    corpus = Corpus(company_id)
    corpus.agents = [
        make_agent(company_id, "Ada", team="returns"),
        make_agent(company_id, "Bob", team="promotions"),
    ]
    for i, turns in enumerate(abcd_turns()):
        agent = corpus.agents[0] if i < 2 else corpus.agents[1]
        corpus.chats.append(insert_text_engagement(company_id, turns, agent_id=agent))
    if meeting:
        corpus.meeting = insert_text_engagement(
            company_id, meeting_turns(), channel="voice", direction="internal"
        )
    return corpus


def index_all(engagement_ids: list[uuid.UUID]) -> int:
    from callscribe.db import session_scope
    from callscribe.search import service

    n = 0
    for eid in engagement_ids:
        with session_scope() as s:
            n += service.index_engagement(s, eid)
    return n
