"""EngagementFilter: each field narrows the engagements on both databases, fields
combine, and the company scope keeps other tenants' rows out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from callscribe.accounts import service as accounts
from callscribe.calls.models import Engagement
from callscribe.kit.filters import EngagementFilter

DAY = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    mine = accounts.create_company(session, "Mine")
    theirs = accounts.create_company(session, "Theirs")
    ann = accounts.upsert_agent(session, mine.id, name="Ann", extension_id="1")
    bob = accounts.upsert_agent(session, mine.id, name="Bob", extension_id="2")
    rows = {
        "a": Engagement(
            company_id=mine.id,
            agent_id=ann.id,
            status="completed",
            direction="inbound",
            channel="voice",
            source="api",
            customer_name="Crystal Minh",
            customer_phone="+19776252661",
            started_at=DAY,
        ),
        "b": Engagement(
            company_id=mine.id,
            agent_id=bob.id,
            status="failed",
            direction="outbound",
            channel="chat",
            source="cloudvoice",
            customer_name="Dana Ruiz",
            started_at=DAY + timedelta(days=2),
        ),
        # no start time: its date is when it was received
        "c": Engagement(
            company_id=mine.id,
            agent_id=ann.id,
            status="waiting",
            direction="inbound",
            channel="voice",
            source="upload",
            customer_phone="+15550001111",
            created_at=DAY + timedelta(days=5),
        ),
        "other": Engagement(
            company_id=theirs.id,
            agent_id=None,
            status="completed",
            direction="inbound",
            channel="voice",
            source="api",
            customer_name="Crystal Minh",
            started_at=DAY,
        ),
    }
    session.add_all(rows.values())
    session.flush()
    return mine, theirs, ann, bob, rows


def _matching(session, world, spec: EngagementFilter) -> set[str]:  # type: ignore[no-untyped-def]
    mine, *_rest, rows = world
    names = {row.id: name for name, row in rows.items()}
    stmt = spec.apply(select(Engagement), Engagement, mine.id)
    return {names[e.id] for e in session.scalars(stmt)}


def test_empty_filter_is_the_whole_company(session, world) -> None:  # type: ignore[no-untyped-def]
    assert _matching(session, world, EngagementFilter()) == {"a", "b", "c"}


def test_each_field_narrows(session, world) -> None:  # type: ignore[no-untyped-def]
    _mine, _theirs, ann, bob, _rows = world
    cases = [
        (EngagementFilter(status="completed"), {"a"}),
        (EngagementFilter(status="completed,waiting"), {"a", "c"}),
        (EngagementFilter(status=["failed", "waiting"]), {"b", "c"}),
        (EngagementFilter(agent_id=ann.id), {"a", "c"}),
        (EngagementFilter(agent_id=bob.id), {"b"}),
        (EngagementFilter(agent_id=uuid.uuid4()), set()),
        (EngagementFilter(direction="outbound"), {"b"}),
        (EngagementFilter(channel="voice"), {"a", "c"}),
        (EngagementFilter(source="cloudvoice"), {"b"}),
        (EngagementFilter(customer="crystal"), {"a"}),  # case-insensitive, on both DBs
        (EngagementFilter(customer="555000"), {"c"}),  # part of the phone
        (EngagementFilter(date_from=DAY + timedelta(days=1)), {"b", "c"}),
        (EngagementFilter(date_to=DAY + timedelta(days=2)), {"a", "b"}),  # inclusive
        (
            EngagementFilter(date_from=DAY + timedelta(days=4), date_to=DAY + timedelta(days=6)),
            {"c"},  # by its received time: it has no start
        ),
    ]
    for spec, expected in cases:
        assert _matching(session, world, spec) == expected, spec


def test_fields_combine(session, world) -> None:  # type: ignore[no-untyped-def]
    _mine, _theirs, ann, _bob, _rows = world
    spec = EngagementFilter(agent_id=ann.id, direction="inbound", status="waiting,completed")
    assert _matching(session, world, spec) == {"a", "c"}
    spec = EngagementFilter(agent_id=ann.id, channel="voice", customer="crystal", status="failed")
    assert _matching(session, world, spec) == set()


def test_company_scope_keeps_other_tenants_out(session, world) -> None:  # type: ignore[no-untyped-def]
    mine, theirs, _ann, _bob, rows = world
    spec = EngagementFilter(customer="Crystal")
    theirs_only = session.scalars(spec.apply(select(Engagement), Engagement, theirs.id)).all()
    assert [e.id for e in theirs_only] == [rows["other"].id]
    unscoped = session.scalars(spec.apply(select(Engagement), Engagement)).all()
    assert {e.id for e in unscoped} == {rows["a"].id, rows["other"].id}


def test_the_filter_is_a_value() -> None:
    spec = EngagementFilter(status=" completed , failed ,")
    assert spec.status == ("completed", "failed")
    assert EngagementFilter(status="") == EngagementFilter()
    # a saved view stores it as JSON and reads the same filter back
    assert EngagementFilter.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValidationError):
        EngagementFilter(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        spec.status = None  # type: ignore[misc]
