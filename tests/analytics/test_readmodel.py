"""The DuckDB read model itself: its refresh follows changes, new and deleted engagements
(and copies only what changed), a stale or unavailable model is not used, and a statement
reading what it does not hold goes to the primary database. The other analytics tests
run every query through it too (conftest.read_model)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.analytics.conftest import World

duckdb_only = pytest.mark.parametrize("read_model", ["duckdb"], indirect=True)


def _query(world: World, metrics: list[str], group_by: list[str], **flt):  # type: ignore[no-untyped-def]
    from callscribe.analytics import service
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.db import session_scope

    admin = Principal(company_id=world.company.id, role=Role.ADMIN)
    with session_scope() as s:
        return service.run_query(s, admin, metrics, group_by, service.parse_filter(flt))


def _on_primary(world: World, monkeypatch, metrics: list[str], group_by: list[str]):  # type: ignore[no-untyped-def]
    from callscribe.analytics import readmodel

    with monkeypatch.context() as m:
        m.setattr(readmodel, "current", lambda: None)
        result = _query(world, metrics, group_by)
    assert result.path == "primary"
    return result.rows


METRICS = ["engagements", "revenue", "talk_ratio_agent", "first_contact_resolution"]


@duckdb_only
def test_refresh_follows_changes_new_and_deleted_engagements(world: World, monkeypatch) -> None:
    from sqlalchemy import delete, select

    from callscribe.analytics import readmodel
    from callscribe.calls.models import Engagement, Minutes, Turn
    from callscribe.db import session_scope
    from callscribe.reviews.models import Review

    before = _query(world, METRICS, ["channel"])
    assert before.path == "duckdb"
    assert before.rows == _on_primary(world, monkeypatch, METRICS, ["channel"])
    assert [r[:2] for r in before.rows] == [["chat", 2], ["voice", 2]]

    monkeypatch.setattr(readmodel, "OVERLAP_S", 0)  # to see that it copies only changes
    with session_scope() as s:
        e2 = s.get(Engagement, world.e["E2"])
        assert e2 is not None
        e2.channel = "email"
        s.add(Engagement(company_id=world.company.id, channel="voice", status="completed"))
        e4 = world.e["E4"]
        for model in (Review, Turn, Minutes):
            s.execute(delete(model).where(model.engagement_id == e4))
        s.execute(delete(Engagement).where(Engagement.id == e4))

    # until the next refresh the model answers as of the last one
    assert _query(world, METRICS, ["channel"]).rows == before.rows
    copied = readmodel.refresh_now()
    assert copied["engagements"] <= 3  # E2 and the new one (and the watermark's own)
    after = _query(world, METRICS, ["channel"])
    assert after.path == "duckdb"
    assert after.rows == _on_primary(world, monkeypatch, METRICS, ["channel"])
    assert [r[:2] for r in after.rows] == [["chat", 1], ["email", 1], ["voice", 2]]
    with session_scope() as s:  # E4's turns went with it
        left = s.scalar(select(Turn.id).where(Turn.engagement_id == world.e["E4"]))
    assert left is None
    model = readmodel.current()
    assert model is not None
    gone = model.con.execute("SELECT count(*) FROM turns WHERE engagement_id = ?", [e4])
    assert gone.fetchone() == (0,)


@duckdb_only
def test_a_stale_model_is_not_used_and_the_sweep_refreshes_when_due(
    world: World, monkeypatch
) -> None:
    from callscribe.analytics import readmodel
    from callscribe.settings import get_settings

    assert readmodel.refresh_due() == 0  # refreshed by the fixture just now
    monkeypatch.setattr(get_settings(), "ANALYTICS_MAX_LAG_S", 0)
    assert _query(world, ["engagements"], []).path == "primary"
    monkeypatch.setattr(get_settings(), "ANALYTICS_MAX_LAG_S", 300)
    monkeypatch.setattr(get_settings(), "ANALYTICS_REFRESH_S", 0)
    assert readmodel.refresh_due() > 0
    assert _query(world, ["engagements"], []).path == "duckdb"
    model = readmodel.current()
    assert model is not None
    model.served["primary"] = 0  # the one fallback above was this test's point


def test_statements_reading_what_it_does_not_hold_go_to_the_primary() -> None:
    from sqlalchemy import select

    from callscribe.analytics.readmodel import servable
    from callscribe.calls.models import Engagement, Turn
    from callscribe.crm.models import Customer

    assert servable(select(Engagement.channel, Turn.start_ms).join(Turn))
    assert not servable(select(Turn.text))  # a long text is not copied
    assert not servable(select(Customer.name))  # nor is the customers table


@duckdb_only
def test_a_model_another_process_holds_is_not_used(world: World, tmp_path) -> None:
    from callscribe.analytics import readmodel

    path = readmodel.model_path()
    readmodel.close_all()  # this process lets go; another one takes the file
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(path)!r}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert readmodel.current() is None
        result = _query(world, ["engagements"], [])
        assert result.path == "primary" and result.rows == [[4]]
    finally:
        holder.communicate("", timeout=10)
    readmodel.close_all()


def _as(world: World, principal, metrics, group_by, flt):  # type: ignore[no-untyped-def]
    from callscribe.analytics import service
    from callscribe.db import session_scope

    with session_scope() as s:
        return service.run_query(s, principal, metrics, group_by, service.parse_filter(flt))


def test_role_scoping_and_filters_give_the_hand_computed_rows_on_both_paths(
    world: World, read_model: str
) -> None:
    from callscribe.analytics import readmodel
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal

    cid = world.company.id
    dana = Principal(company_id=cid, role=Role.AGENT, agent_id=world.dana)
    admin = Principal(company_id=cid, role=Role.ADMIN)
    cases = [
        # Dana (an agent) sees only her own: E1 and E4, voice (E5 is technical)
        (dana, ["engagements", "avg_talk_time_s"], ["channel"], {}, [["voice", 2, 90.0]]),
        (dana, ["engagements"], [], {"channel": "chat"}, [[0]]),
        (admin, ["engagements"], ["agent"], {"outcome": "sale"}, [["Dana Agent", 1]]),
        (admin, ["engagements"], [], {"technical": True}, [[1]]),
        (admin, ["engagements"], [], {"reviewed": True}, [[2]]),
        (admin, ["engagements"], [], {"tag": "reviewed", "channel": "chat"}, [[1]]),
        (
            admin,
            ["engagements", "revenue"],
            ["date:month"],
            {"date_from": "2026-11-04T00:00:00Z", "date_to": "2026-11-21T00:00:00Z"},
            [["2026-11-01", 2, 20.0]],  # E2 and E3
        ),
        (
            admin,
            ["engagements"],
            ["attributes.region"],
            {},
            [[None, 2], ["north", 1], ["south", 1]],
        ),
    ]
    for principal, metrics, group_by, flt, rows in cases:
        result = _as(world, principal, metrics, group_by, flt)
        assert result.rows == rows, (metrics, group_by, flt)
        assert result.path == ("duckdb" if read_model == "duckdb" else "primary")
    # the customer filter reads the customer's name on the engagement, which the model
    # does not hold: the primary answers
    from sqlalchemy import update

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        s.execute(
            update(Engagement)
            .where(Engagement.id.in_([world.e["E3"], world.e["E4"]]))
            .values(customer_name="Ravi Patel")
        )
    found = _as(world, admin, ["engagements"], [], {"customer": "Ravi"})
    assert found.rows == [[2]] and found.path == "primary"
    model = readmodel.current()
    if model is not None:
        model.served["primary"] = 0  # that fallback was the point
