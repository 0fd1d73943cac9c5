"""Every built-in metric against the figure worked out by hand from the fixture table
(tests/analytics/conftest.py), through POST /api/metrics/query, on both databases."""

from __future__ import annotations

import pytest

from tests.analytics.conftest import World, harper_turns


def _harper() -> tuple[float, float]:
    """Talk ratio and silence share of the bank call, from the transcript file."""
    turns = harper_turns()
    agent = sum(e - s for r, s, e, _ in turns if r == "agent")
    customer = sum(e - s for r, s, e, _ in turns if r == "customer")
    span = max(e for *_x, e, _t in [(t[0], t[1], t[2], t[3]) for t in turns]) - min(
        t[1] for t in turns
    )
    speech = sum(e - s for _r, s, e, _ in turns)
    return agent / (agent + customer), max(span - speech, 0) / span


TALK, SILENCE = _harper()
THIRD = 1 / 3

EXPECTED = {
    "engagements": 4,  # E5 is technical
    "conversations": 3,
    "customers": 2,
    "avg_handle_time_s": (160 + 300 + 200 + 80) / 4,
    "avg_talk_time_s": 90.0,
    "avg_hold_time_s": 10.0,
    "avg_wait_time_s": 10.0,
    "talk_ratio_agent": TALK,  # E1 and E4 carry the same call: the pooled ratio is its own
    "silence_share": SILENCE,
    "sentiment_positive_share": THIRD,
    "sentiment_neutral_share": THIRD,
    "sentiment_negative_share": THIRD,
    "sentiment_mixed_share": 0.0,
    "sale_rate": THIRD,  # E1 sale, E2 unresolved (Minutes), E3 resolved (its own wins)
    "resolved_rate": THIRD,
    "unresolved_rate": THIRD,
    "escalated_rate": 0.0,
    "follow_up_rate": 0.0,
    "first_contact_resolution": 0.75,  # E1 is followed by E2 3 days later
    "repeat_contact_rate": 0.25,  # E2 came 3 days after E1; E4 10 days after E3
    "revenue": 170.5,  # the unlinked 1000 is not an engagement's
    "transactions": 3,
    "review_coverage": 0.5,  # E1 and E3 of four (E5, technical, stays out)
    "avg_qa_score": (70 + 90) / 2,  # E1's two scores averaged first, then with E2's
    "ai_flagged_share": 0.25,  # E2; E4's flag was withdrawn
}


def test_catalog_lists_every_builtin_with_unit_and_description(client, world: World) -> None:
    r = client.get("/api/metrics", headers=world.company.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert set(items[0]) == {"name", "label", "unit", "builtin", "expression"}
    names = {i["name"] for i in items}
    assert set(EXPECTED) <= names
    assert {"engagements", "avg_handle_time_s", "talk_ratio_agent", "review_coverage"} <= names
    by = {i["name"]: i for i in items}
    assert by["engagements"]["expression"] == "COUNT(engagement)" and by["engagements"]["builtin"]
    assert by["avg_handle_time_s"]["unit"] == "seconds"


def test_each_builtin_metric_equals_the_hand_computed_value(client, world: World) -> None:
    names = list(EXPECTED)
    r = client.post("/api/metrics/query", json={"metrics": names}, headers=world.company.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == names
    assert len(body["rows"]) == 1
    for name, value in zip(names, body["rows"][0], strict=True):
        assert value == pytest.approx(EXPECTED[name], abs=1e-6), name


def test_group_by_agent_and_week_puts_groups_first_and_names_agents(client, world: World) -> None:
    r = client.post(
        "/api/metrics/query",
        json={"metrics": ["engagements", "avg_hold_time_s"], "group_by": ["agent", "date:week"]},
        headers=world.company.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "columns": ["agent", "date:week", "engagements", "avg_hold_time_s"],
        "rows": [
            ["Dana Agent", "2026-11-02", 1, 10.0],
            ["Dana Agent", "2026-11-30", 1, 20.0],
            ["Sam Agent", "2026-11-02", 1, None],
            ["Sam Agent", "2026-11-16", 1, 0.0],
        ],
    }


def test_group_by_tag_counts_each_engagement_under_its_tags(client, world: World) -> None:
    r = client.post(
        "/api/metrics/query",
        json={"metrics": ["engagements", "revenue"], "group_by": ["tag", "channel"]},
        headers=world.company.headers,
    )
    assert r.status_code == 200, r.text
    # E1 (voice) and E3 (chat) are tagged Reviewed; E5 too, but technical; untagged: out
    assert r.json()["rows"] == [["Reviewed", "chat", 1, 20.0], ["Reviewed", "voice", 1, 150.5]]


def test_filters_channel_outcome_and_technical(client, world: World) -> None:
    def count(flt: dict) -> int:
        r = client.post(
            "/api/metrics/query",
            json={"metrics": ["engagements"], "filter": flt},
            headers=world.company.headers,
        )
        assert r.status_code == 200, r.text
        return r.json()["rows"][0][0]

    assert count({"channel": "voice"}) == 2
    assert count({"outcome": "unresolved"}) == 1  # the Minutes' outcome counts too
    assert count({"technical": True}) == 1
    assert count({"agent_id": str(world.sam)}) == 2
    assert count({"date_from": "2026-11-10T00:00:00Z"}) == 2
    # the quality dashboard's: people tagged E1 and E3 `Reviewed` (E5 is technical)
    assert count({"tag": "reviewed"}) == 2
    assert count({"reviewed": True}) == 2
    assert count({"reviewed": False}) == 2  # E2, E4
    assert count({"reviewed": True, "channel": "chat"}) == 1  # E3
    assert count({"tag": "No such tag"}) == 0


def test_agents_see_only_their_own_numbers(world: World, session) -> None:  # type: ignore[no-untyped-def]
    from callscribe.analytics import service
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.kit.filters import EngagementFilter

    agent = Principal(company_id=world.company.id, role=Role.AGENT, agent_id=world.dana)
    result = service.run_query(
        session, agent, ["engagements", "revenue"], ["agent"], EngagementFilter()
    )
    assert result.rows == [["Dana Agent", 2, 150.5]]
    nobody = Principal(company_id=world.company.id, role=Role.AGENT)
    assert service.run_query(session, nobody, ["engagements"], [], EngagementFilter()).rows == [[0]]


def test_unknown_metric_or_group_is_a_422(client, world: World) -> None:
    for body in (
        {"metrics": ["nope"]},
        {"metrics": ["engagements"], "group_by": ["customer_phone"]},
        {"metrics": ["engagements"], "filter": {"channel": 3, "bogus": 1}},
    ):
        r = client.post("/api/metrics/query", json=body, headers=world.company.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["success"] is False
