"""A small fixture of real engagements for the metrics: two voice calls carrying the
Harper Valley bank call's turns (real start/end times, Apache-2.0), two chats carrying
ABCD dialogues, one technical call that must stay out, Minutes on three of them,
transactions on two. Every expected figure in the tests is worked out by hand from
this table (and the transcript file), never read back from the code under test.

| eng | channel | agent | cust | started    | talk hold wait wrap dur | outcome eng/min | sentim. |
| E1  | voice   | Dana  | C1   | 2026-11-02 | 120  10   5    30   -   | sale / -        | positive |
| E2  | chat    | Sam   | C1   | 2026-11-05 | -    -    -    -    300 | - / unresolved  | negative |
| E3  | chat    | Sam   | C2   | 2026-11-20 | -    0    -    -    200 | resolved / esc. | neutral  |
| E4  | voice   | Dana  | C2   | 2026-11-30 | 60   20   15   0    -   | - / -           | -        |
| E5  | voice, technical: Dana, C1, 2026-11-06, talk 999, outcome sale (must stay out)       |
facts.score: E1 1, E3 4, E4 8, E5 100; attributes.region: E3 north, E4 south.
E1 and E2 share a conversation. Transactions: E1 100.0 and 50.5, E3 20.0, and 1000.0
linked to no engagement. Reviews: people tagged E1, E3 and E5 `Reviewed`; people's form
scores 80 and 60 on E1 and 90 on E2; an AI flag on E2 and a withdrawn one on E4.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.conftest import DATA, CompanyCtx

HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"
ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"


def harper_turns() -> list[tuple[str, int, int, str]]:
    """(role, start_ms, end_ms, text) of the bank call, by start."""
    raw = sorted(json.loads(HARPER.read_text()), key=lambda t: t["start_ms"])
    return [
        (
            "agent" if t["speaker_role"] == "agent" else "customer",
            t["start_ms"],
            t["start_ms"] + t["duration_ms"],
            t["human_transcript"] or t["transcript"] or "(inaudible)",
        )
        for t in raw
    ]


def abcd_turns(convo: int) -> list[tuple[str, int, int, str]]:
    dialogue = json.loads(ABCD.read_text())[convo]["original"]
    return [
        ("bot" if role == "action" else role, n * 20_000, n * 20_000 + 15_000, text)
        for n, (role, text) in enumerate(dialogue)
    ]


@dataclass
class World:
    company: CompanyCtx
    dana: uuid.UUID
    sam: uuid.UUID
    c1: uuid.UUID
    c2: uuid.UUID
    e: dict[str, uuid.UUID]


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["primary", "duckdb"])
def read_model(request: pytest.FixtureRequest, app_env: dict[str, str], monkeypatch):  # type: ignore[no-untyped-def]
    """Every analytics test that builds the world runs twice: on the primary database,
    and with the DuckDB read model on (refreshed once the world is built), where every
    run_query must be served by the read model (none may fall back to the primary)."""
    from callscribe.analytics import readmodel
    from callscribe.settings import reset_settings

    if request.param == "duckdb":
        monkeypatch.setenv("CALLSCRIBE_ANALYTICS_READ_MODEL", "duckdb")
        reset_settings()
    yield request.param
    model = readmodel.current()
    served = dict(model.served) if model is not None else None
    readmodel.close_all()
    if request.param == "duckdb":
        assert served is not None and served["primary"] == 0, served


@pytest.fixture
def world(company: CompanyCtx, read_model: str) -> World:
    from callscribe.accounts.models import Agent
    from callscribe.calls.models import Conversation, Engagement, Minutes, Turn
    from callscribe.crm.models import Customer, Transaction
    from callscribe.db import session_scope

    cid = company.id
    with session_scope() as s:
        dana = Agent(company_id=cid, name="Dana Agent", team="North", department="Sales")
        sam = Agent(company_id=cid, name="Sam Agent", team="South", department="Support")
        c1 = Customer(company_id=cid, name="Crystal Minh")
        c2 = Customer(company_id=cid, name="Ravi Patel")
        s.add_all([dana, sam, c1, c2])
        s.flush()
        conv_a = Conversation(company_id=cid, customer_id=c1.id)
        conv_b = Conversation(company_id=cid, customer_id=c2.id)
        conv_c = Conversation(company_id=cid, customer_id=c2.id)
        s.add_all([conv_a, conv_b, conv_c])
        s.flush()
        specs = {
            "E1": dict(
                channel="voice",
                agent_id=dana.id,
                customer_id=c1.id,
                started_at=_at(2),
                talk_s=120.0,
                hold_s=10.0,
                wait_s=5.0,
                wrapup_s=30.0,
                outcome="sale",
                conversation_id=conv_a.id,
                facts={"score": 1},
            ),
            "E2": dict(
                channel="chat",
                agent_id=sam.id,
                customer_id=c1.id,
                started_at=_at(5),
                duration_s=300.0,
                conversation_id=conv_a.id,
            ),
            "E3": dict(
                channel="chat",
                agent_id=sam.id,
                customer_id=c2.id,
                started_at=_at(20),
                duration_s=200.0,
                hold_s=0.0,
                outcome="resolved",
                conversation_id=conv_b.id,
                facts={"score": 4},
                attributes={"region": "north"},
            ),
            "E4": dict(
                channel="voice",
                agent_id=dana.id,
                customer_id=c2.id,
                started_at=_at(30),
                talk_s=60.0,
                hold_s=20.0,
                wait_s=15.0,
                wrapup_s=0.0,
                conversation_id=conv_c.id,
                facts={"score": 8},
                attributes={"region": "south"},
            ),
            "E5": dict(
                channel="voice",
                agent_id=dana.id,
                customer_id=c1.id,
                started_at=_at(6),
                talk_s=999.0,
                outcome="sale",
                is_technical=True,
                facts={"score": 100},
            ),
        }
        turns = {
            "E1": harper_turns(),
            "E2": abcd_turns(0),
            "E3": abcd_turns(1),
            "E4": harper_turns(),
            "E5": harper_turns()[:2],
        }
        ids: dict[str, uuid.UUID] = {}
        for key, fields in specs.items():
            eng = Engagement(company_id=cid, source="test", status="completed", **fields)
            s.add(eng)
            s.flush()
            ids[key] = eng.id
            for seq, (role, start, end, text) in enumerate(turns[key]):
                s.add(
                    Turn(
                        company_id=cid,
                        engagement_id=eng.id,
                        seq=seq,
                        role=role,
                        start_ms=start,
                        end_ms=end,
                        text=text,
                    )
                )
        for key, sentiment, outcome in (
            ("E1", "positive", "sale"),
            ("E2", "negative", "unresolved"),
            ("E3", "neutral", "escalated"),
        ):
            s.add(
                Minutes(
                    engagement_id=ids[key],
                    company_id=cid,
                    subject="s",
                    summary="s",
                    sentiment=sentiment,
                    outcome=outcome,
                    analyzer="test",
                )
            )
        for eng_key, revenue in (("E1", 100.0), ("E1", 50.5), ("E3", 20.0), (None, 1000.0)):
            s.add(
                Transaction(
                    company_id=cid,
                    engagement_id=ids[eng_key] if eng_key else None,
                    revenue=revenue,
                    kind="sale",
                )
            )
        # reviews: people tagged E1, E3 and the technical E5 `Reviewed`; people's form
        # scores 80 and 60 on E1, 90 on E2; the AI flags a turn of E2 and once flagged E4
        # (withdrawn since)
        from callscribe.reviews.models import BuiltinTag, Review, ReviewerKind, ReviewStatus
        from callscribe.reviews.service import builtin_tag

        reviewed = builtin_tag(s, cid, BuiltinTag.REVIEWED)
        human, ai = ReviewerKind.HUMAN.value, ReviewerKind.AI.value
        for key, tag_id, score, kind, status in (
            ("E1", reviewed.id, None, human, ReviewStatus.SUBMITTED),
            ("E3", reviewed.id, None, human, ReviewStatus.SUBMITTED),
            ("E5", reviewed.id, None, human, ReviewStatus.SUBMITTED),
            ("E1", None, 80.0, human, ReviewStatus.SUBMITTED),
            ("E1", None, 60.0, human, ReviewStatus.APPROVED),
            ("E2", None, 90.0, human, ReviewStatus.SUBMITTED),
            ("E2", None, None, ai, ReviewStatus.FLAGGED),
            ("E4", None, None, ai, ReviewStatus.WITHDRAWN),
        ):
            s.add(
                Review(
                    company_id=cid,
                    engagement_id=ids[key],
                    tag_id=tag_id,
                    score=score,
                    reviewer_kind=kind,
                    status=status.value,
                )
            )
    if read_model == "duckdb":
        from callscribe.analytics import readmodel

        readmodel.refresh_now()
    return World(company, dana.id, sam.id, c1.id, c2.id, ids)


@pytest.fixture
def client(app_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    with TestClient(create_app(embedded_worker=False)) as c:
        yield c


def signed_in(app, email: str):  # type: ignore[no-untyped-def]
    """A TestClient signed in as `email` (created before), sending the CSRF header."""
    from fastapi.testclient import TestClient

    from tests.web.conftest import PASSWORD, csrf_from

    c = TestClient(app, follow_redirects=False)
    token = csrf_from(c.get("/login").text)
    r = c.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    page = c.get("/analytics").text
    marker = 'name="csrf-token" content="'
    c.headers["X-CSRF-Token"] = page.split(marker, 1)[1].split('"', 1)[0]
    return c


@pytest.fixture
def app(app_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    application = create_app(embedded_worker=False)
    with TestClient(application):  # runs the lifespan (migrations, task wiring)
        yield application
