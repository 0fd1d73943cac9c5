"""Listing calls and action items: filters, paging, sorting and who may see what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from callscribe.accounts import service as accounts
from callscribe.auth.permissions import Role
from callscribe.auth.principal import Principal
from callscribe.calls import service as calls
from callscribe.calls.models import ActionItem, Engagement
from callscribe.errors import NotFound
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.schemas import Page


def _rows(page: Page) -> tuple[list, int]:
    return page.items, page.total


@pytest.fixture
def seeded(session):  # type: ignore[no-untyped-def]
    company = accounts.create_company(session, "Q Corp")
    other = accounts.create_company(session, "Other Corp")
    ann = accounts.upsert_agent(session, company.id, name="Ann", extension_id="101")
    bob = accounts.upsert_agent(session, company.id, name="Bob", extension_id="102")
    base = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    rows = []
    for i in range(30):
        rows.append(
            Engagement(
                company_id=company.id,
                agent_id=(ann if i % 2 == 0 else bob).id,
                direction="inbound" if i % 3 else "outbound",
                status="completed" if i % 5 else "failed",
                customer_name=f"Customer {i:02d}",
                started_at=base + timedelta(days=i % 10, minutes=i),
                duration_s=60 + i,
            )
        )
    rows.append(Engagement(company_id=other.id, status="completed", customer_name="Hidden"))
    session.add_all(rows)
    session.flush()
    for seq, (call, prio, status) in enumerate(
        [(rows[0], "high", "open"), (rows[1], "low", "done"), (rows[2], "medium", "open")]
    ):
        session.add(
            ActionItem(
                company_id=company.id,
                engagement_id=call.id,
                seq=0,
                title=f"item {seq}",
                priority=prio,
                status=status,
            )
        )
    session.flush()
    return company, other, ann, bob, rows


def test_filters_combine_and_stay_inside_the_company(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, _other, ann, _bob, rows = seeded
    p = Principal(company.id, role=Role.ADMIN)
    got, total = _rows(calls.list_calls(session, p, calls.CallFilters(), 1, 100))
    assert total == 30 and "Hidden" not in {c.customer_name for c in got}
    f = calls.CallFilters(status="completed", agent_id=ann.id, direction="inbound")
    got, total = _rows(calls.list_calls(session, p, f, 1, 100))
    expected = [
        r
        for r in rows[:30]
        if r.agent_id == ann.id and r.direction == "inbound" and r.status == "completed"
    ]
    assert total == len(expected) and {c.id for c in got} == {r.id for r in expected}
    day = datetime(2026, 11, 3, tzinfo=UTC)
    f = calls.CallFilters(date_from=day, date_to=day + timedelta(days=1))
    _got, total = _rows(calls.list_calls(session, p, f, 1, 100))
    assert total == 3
    _got, total = _rows(
        calls.list_calls(session, p, calls.CallFilters(customer="customer 1"), 1, 100)
    )
    assert total == 10  # Customer 10..19


def test_paging_and_sorting(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, *_ = seeded
    p = Principal(company.id, role=Role.ADMIN)
    f = calls.CallFilters(sort="duration")
    pages = [calls.list_calls(session, p, f, n, 7).items for n in (1, 2, 3, 4, 5)]
    durations = [c.duration_s for page in pages for c in page]
    assert durations == sorted(durations) and len(durations) == 30
    f = calls.CallFilters(sort="-duration")
    first = calls.list_calls(session, p, f, 1, 1).items[0]
    assert first.duration_s == 89


def test_agent_sees_only_own_calls(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, other, ann, bob, rows = seeded
    as_ann = Principal(company.id, role=Role.AGENT, agent_id=ann.id)
    got, total = _rows(calls.list_calls(session, as_ann, calls.CallFilters(), 1, 100))
    assert total == 15 and {c.agent_id for c in got} == {ann.id}
    bobs_call = next(r for r in rows if r.agent_id == bob.id)
    with pytest.raises(NotFound):
        calls.get_call(session, as_ann, bobs_call.id)
    with pytest.raises(NotFound):
        calls.get_call(session, Principal(other.id, role=Role.ADMIN), bobs_call.id)
    with pytest.raises(NotFound):
        calls.get_call(session, Principal(company.id, role=Role.ADMIN), "not-a-uuid")
    items, total = _rows(calls.list_action_items(session, as_ann, calls.ActionItemFilters(), 1, 50))
    assert {i.engagement_id for i in items} <= {r.id for r in rows if r.agent_id == ann.id}


def test_action_item_filters_and_update_scope(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, other, ann, _bob, rows = seeded
    p = Principal(company.id, role=Role.ADMIN)
    items, total = _rows(
        calls.list_action_items(session, p, calls.ActionItemFilters(status="open"), 1, 50)
    )
    assert total == 2
    items, total = _rows(
        calls.list_action_items(session, p, calls.ActionItemFilters(priority="low"), 1, 50)
    )
    assert [i.title for i in items] == ["item 1"]
    items, total = _rows(
        calls.list_action_items(
            session, p, calls.ActionItemFilters(calls=EngagementFilter(agent_id=ann.id)), 1, 50
        )
    )
    assert {i.title for i in items} == {"item 0", "item 2"}
    target = items[0]
    with pytest.raises(NotFound):
        calls.update_action_item(
            session, Principal(other.id, role=Role.ADMIN), target.id, status="done"
        )
    with pytest.raises(NotFound):
        calls.update_action_item(session, p, uuid.uuid4(), status="done")
    assert calls.update_action_item(session, p, target.id, status="done").status == "done"


def test_long_labels_are_trimmed_and_logged(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, *_ = seeded
    value = accounts.trim_attribute(session, company.id, "customer_name", "x" * 150)
    assert value == "x" * 100
    log = accounts.list_technical_log(session, company.id)
    assert log and "150 characters" in log[0].message


def test_agent_user_without_agent_record_sees_no_calls(session, seeded) -> None:  # type: ignore[no-untyped-def]
    company, *_ = seeded
    unlinked = Principal(company.id, role=Role.AGENT, agent_id=None)
    session.add(Engagement(company_id=company.id, status="completed", customer_name="Unassigned"))
    session.flush()
    assert calls.list_calls(session, unlinked, calls.CallFilters(), 1, 100).total == 0
