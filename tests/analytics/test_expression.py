"""The metric expression language through POST /api/metrics: valid expressions compute
the hand-computed figure; invalid ones answer 422 invalid_expression at the position."""

from __future__ import annotations

import pytest

from tests.analytics.conftest import World


def _create(client, world: World, name: str, expression: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/metrics",
        json={"name": name, "label": name.title(), "expression": expression},
        headers=world.company.headers,
    )


def _value(client, world: World, name: str) -> float:  # type: ignore[no-untyped-def]
    r = client.post("/api/metrics/query", json={"metrics": [name]}, headers=world.company.headers)
    assert r.status_code == 200, r.text
    return r.json()["rows"][0][0]


VALID = [
    ("sale_share", 'COUNT(engagement WHERE outcome = "sale") / COUNT(engagement)', 0.25),
    ("score_median", "MEDIAN(facts.score)", 4.0),  # 1, 4, 8 (E5 is technical)
    ("score_avg", "AVG(facts.score)", 13 / 3),
    ("south_talk", 'SUM(talk_s WHERE attributes.region = "south")', 60.0),
    ("twice_minus", "engagements * 2 - customers", 6.0),
    ("voice_agents", 'COUNT_DISTINCT(agent WHERE channel = "voice")', 1),
    ("long_or_chat", 'count(engagement where talk_s > 100 or not channel != "chat")', 3),
    ("max_hold", "MAX(hold_s WHERE hold_s < 20) + MIN(wait_s)", 15.0),
    ("neg", "-(1 + 2) * 2", -6.0),
    ("by_zero", "COUNT(engagement) / (customers - 2)", None),  # no value, not an error
]


def test_valid_expressions_compute_the_hand_computed_value(client, world: World) -> None:
    for name, expression, expected in VALID:
        r = _create(client, world, name, expression)
        assert r.status_code == 201, (name, r.text)
        assert r.json() == {
            "name": name,
            "label": name.title(),
            "unit": "number",
            "builtin": False,
            "expression": expression,
        }
        value = _value(client, world, name)
        assert value == (None if expected is None else pytest.approx(expected)), name


def test_a_metric_can_use_another_custom_metric(client, world: World) -> None:
    assert (
        _create(client, world, "sales", 'COUNT(engagement WHERE outcome = "sale")').status_code
        == 201
    )
    assert _create(client, world, "sales_per_customer", "sales / customers").status_code == 201
    assert _value(client, world, "sales_per_customer") == pytest.approx(0.5)
    listed = client.get("/api/metrics", headers=world.company.headers).json()["items"]
    assert {
        "name": "sales",
        "label": "Sales",
        "unit": "number",
        "builtin": False,
        "expression": 'COUNT(engagement WHERE outcome = "sale")',
    } in listed
    # in use: cannot be deleted from under its dependent
    assert client.delete("/api/metrics/sales", headers=world.company.headers).status_code == 409


INVALID = [
    ("unknown_name", "AVG(nope)", 5, "Unknown name 'nope'"),
    ("unknown_metric", "engagements + nothing_here", 15, "Unknown metric"),
    ("type_sum_text", "SUM(channel)", 5, "needs a number"),
    ("type_compare", 'COUNT(engagement WHERE talk_s = "long")', 33, "Type error"),
    ("type_order_text", 'COUNT(engagement WHERE channel < "b")', 24, "Type error"),
    ("metric_as_filter", "COUNT(engagement WHERE engagements > 2)", 24, "cannot be filters"),
    ("sql_drop", "1; DROP TABLE engagements", 2, "Unexpected character ';'"),
    ("sql_select", "SELECT * FROM engagements", 15, "Unexpected"),
    ("sql_comment", "COUNT(engagement) -- x", 22, "Unknown metric 'x'"),  # minus minus x
    ("quote_escape", "COUNT(engagement WHERE channel = 'x' OR 1=1)", 34, "Unexpected character"),
    ("field_bare", "talk_s * 2", 1, "is a field, not a metric"),
    ("empty_where", "COUNT(engagement WHERE)", 23, "Unexpected"),
    ("ends_early", "COUNT(engagement) +", 20, "ends too early"),
    ("deep", "(" * 10_000 + "1" + ")" * 10_000, 33, "nested too deeply"),
    ("deep_minus", "-" * 1500 + "1", 65, "nested too deeply"),
]


def test_invalid_expressions_answer_422_at_the_position(client, world: World) -> None:
    for name, expression, position, words in INVALID:
        r = _create(client, world, name, expression)
        assert r.status_code == 422, (name, r.text)
        body = r.json()
        assert body["success"] is False
        assert set(body["error"]) == {"code", "message", "position"}
        assert body["error"]["code"] == "invalid_expression"
        assert words in body["error"]["message"], (name, body)
        assert body["error"]["position"] == position, (name, body)
    listed = client.get("/api/metrics", headers=world.company.headers).json()["items"]
    assert not {i["name"] for i in listed} & {i[0] for i in INVALID}


def test_names_are_checked(client, world: World) -> None:
    assert _create(client, world, "engagements", "COUNT(engagement)").status_code == 409
    assert _create(client, world, "Bad-Name", "COUNT(engagement)").status_code == 422
    assert _create(client, world, "ok_one", "COUNT(engagement)").status_code == 201
    assert _create(client, world, "ok_one", "COUNT(engagement)").status_code == 409
