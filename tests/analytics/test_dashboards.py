"""Dashboards, visualizations, saved views and selections through the API: built-ins
read-only ("save as new" copies), hidden and locked filters applied and unchangeable,
views private to their user, the default view applied when the dashboard opens."""

from __future__ import annotations

from tests.analytics.conftest import World, signed_in
from tests.web.conftest import create_user


def _tile_count(body: dict) -> int:
    volume = next(t for t in body["tiles"] if t["visualization"]["id"] == "ov-volume")
    return volume["rows"][0][0]


def test_builtin_dashboards_and_visualizations_are_read_only_and_copyable(
    client, world: World
) -> None:
    h = world.company.headers
    names = [d["name"] for d in client.get("/api/dashboards", headers=h).json()["items"]]
    assert names[:5] == [
        "Overview",
        "Agents",
        "Quality & reviews",
        "Customer experience",
        "Topics & tags",
    ]
    body = {"name": "Mine", "items": [], "filters": {}}
    assert client.put("/api/dashboards/overview", json=body, headers=h).status_code == 403
    assert client.delete("/api/visualizations/ov-volume", headers=h).status_code == 403
    copy = client.post("/api/visualizations/ov-by-channel/copy", json={}, headers=h)
    assert copy.status_code == 201
    vis = copy.json()
    assert vis["builtin"] is False and vis["name"] == "Engagements by channel (copy)"
    edited = client.put(
        f"/api/visualizations/{vis['id']}",
        json={
            "name": "Voice by agent",
            "chart": "bar",
            "metrics": ["engagements"],
            "group_by": ["agent"],
            "filters": {"channel": "voice"},
        },
        headers=h,
    )
    assert edited.status_code == 200, edited.text
    data = client.post(f"/api/visualizations/{vis['id']}/query", json={}, headers=h).json()
    assert data["rows"] == [["Dana Agent", 2]]
    assert data["keys"] == [{"agent": str(world.dana)}]
    found = client.get("/api/visualizations?q=voice by", headers=h).json()["items"]
    assert [v["id"] for v in found] == [vis["id"]]
    # on a dashboard, then deleted: the dashboard answers without that tile
    dash = client.post(
        "/api/dashboards",
        json={
            "name": "Mine",
            "items": [{"visualization": vis["id"]}, {"visualization": "ov-volume"}],
        },
        headers=h,
    ).json()
    assert client.delete(f"/api/visualizations/{vis['id']}", headers=h).status_code == 204
    tiles = client.post(f"/api/dashboards/{dash['id']}/query", json={}, headers=h).json()["tiles"]
    assert [t["visualization"]["id"] for t in tiles] == ["ov-volume"]


def test_dashboard_tiles_answer_under_its_filters(client, world: World) -> None:
    r = client.post(
        "/api/dashboards/overview/query",
        json={"filter": {"channel": "chat"}},
        headers=world.company.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["tiles"]) == 6 and _tile_count(body) == 2
    by_channel = next(t for t in body["tiles"] if t["visualization"]["id"] == "ov-by-channel")
    assert by_channel["columns"] == ["channel", "engagements"]
    assert by_channel["rows"] == [["chat", 2]]


def test_hidden_and_locked_filters_apply_and_cannot_be_changed(client, world: World) -> None:
    h = world.company.headers
    r = client.post(
        "/api/dashboards",
        json={
            "name": "Dana's voice",
            "items": [{"visualization": "ov-volume"}],
            "locked_filters": {"channel": "voice"},
            "hidden_filters": {"agent_id": str(world.dana)},
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    dash = r.json()
    assert "hidden_filters" not in dash and dash["locked_filters"] == {"channel": "voice"}
    q = client.post(f"/api/dashboards/{dash['id']}/query", json={"filter": {}}, headers=h)
    assert q.status_code == 200
    assert _tile_count(q.json()) == 2  # E1, E4
    assert q.json()["filter"] == {"channel": "voice"}  # the hidden one is not shown
    for attempt in ({"channel": "chat"}, {"agent_id": str(world.sam)}):
        refused = client.post(
            f"/api/dashboards/{dash['id']}/query", json={"filter": attempt}, headers=h
        )
        assert refused.status_code == 403, attempt
        assert "fixed on this dashboard" in refused.json()["error"]["message"]
    # the same value is fine, and other filters narrow further
    same = client.post(
        f"/api/dashboards/{dash['id']}/query",
        json={"filter": {"channel": "voice", "date_from": "2026-11-10T00:00:00Z"}},
        headers=h,
    )
    assert _tile_count(same.json()) == 1


def test_views_are_private_and_the_default_applies_on_open(app, world: World) -> None:
    create_user(world.company.id, "ann@example.com", "manager")
    create_user(world.company.id, "bob@example.com", "manager")
    ann = signed_in(app, "ann@example.com")
    bob = signed_in(app, "bob@example.com")
    r = ann.post(
        "/api/views",
        json={
            "dashboard": "overview",
            "name": "Voice only",
            "filters": {"channel": "voice"},
            "is_default": True,
        },
    )
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["is_default"] is True
    assert [v["id"] for v in ann.get("/api/views").json()["items"]] == [view["id"]]
    assert bob.get("/api/views").json()["items"] == []
    assert bob.get(f"/api/views/{view['id']}").status_code == 404
    assert bob.delete(f"/api/views/{view['id']}").status_code == 404
    assert bob.put(f"/api/views/{view['id']}/default").status_code == 404
    # opening the dashboard applies Ann's default; Bob's opens unfiltered
    ann_page = ann.get("/analytics/dashboards/overview")
    assert ann_page.status_code == 200
    assert "Voice only" in ann_page.text and 'value="voice"' in ann_page.text
    assert 'value="voice"' not in bob.get("/analytics/dashboards/overview").text
    # Reset shows the dashboard's own defaults
    assert 'value="voice"' not in ann.get("/analytics/dashboards/overview?reset=1").text
    second = ann.post(
        "/api/views",
        json={"dashboard": "overview", "name": "Chats", "filters": {"channel": "chat"}},
    ).json()
    ann.put(f"/api/views/{second['id']}/default")
    defaults = [v["name"] for v in ann.get("/api/views").json()["items"] if v["is_default"]]
    assert defaults == ["Chats"]


def test_a_view_cannot_lift_a_locked_filter(app, world: World) -> None:
    create_user(world.company.id, "max@example.com", "manager")
    mx = signed_in(app, "max@example.com")
    dash = mx.post(
        "/api/dashboards",
        json={"name": "Locked", "items": [], "locked_filters": {"channel": "voice"}},
    ).json()
    r = mx.post(
        "/api/views", json={"dashboard": dash["id"], "name": "x", "filters": {"channel": "chat"}}
    )
    assert r.status_code == 403


def test_agents_cannot_change_shared_analytics(app, world: World) -> None:
    create_user(world.company.id, "agent@example.com", "agent")
    agent = signed_in(app, "agent@example.com")
    r = agent.post(
        "/api/metrics", json={"name": "x", "label": "X", "expression": "COUNT(engagement)"}
    )
    assert r.status_code == 403
    r = agent.post("/api/visualizations/ov-volume/copy", json={})
    assert r.status_code == 403
    # an agent with no agent record of their own sees no numbers at all
    q = agent.post("/api/metrics/query", json={"metrics": ["engagements"]})
    assert q.json()["rows"] == [[0]]


def test_drill_down_and_selection_keep_the_engagements_behind_a_segment(
    client, world: World
) -> None:
    h = world.company.headers
    seg = {"filter": {"channel": "voice"}, "segment": {"agent": str(world.dana)}}
    r = client.post("/api/metrics/engagements", json=seg, headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [str(world.e["E4"]), str(world.e["E1"])]
    assert items[0]["url"] == f"/customers/{world.c2}/journey?engagement={world.e['E4']}"
    week = client.post(
        "/api/metrics/engagements", json={"segment": {"date:week": "2026-11-02"}}, headers=h
    ).json()["items"]
    assert {i["id"] for i in week} == {str(world.e["E1"]), str(world.e["E2"])}
    sel = client.post("/api/selections", json={**seg, "name": "Dana voice"}, headers=h)
    assert sel.status_code == 201
    assert sorted(sel.json()["engagement_ids"]) == sorted([str(world.e["E1"]), str(world.e["E4"])])
    listed = client.get("/api/selections", headers=h).json()["items"]
    assert [s["name"] for s in listed] == ["Dana voice"]
    ask = client.post(
        "/api/metrics/ask",
        json={"engagement_ids": [str(world.e["E1"])], "prompt": "harper valley bank"},
        headers=h,
    )
    assert ask.status_code == 200 and ask.json()["engine"] == "local"
    assert "harper valley" in ask.json()["answer"].lower()


def test_an_edit_without_hidden_filters_keeps_them(client, world: World) -> None:
    h = world.company.headers
    dash = client.post(
        "/api/dashboards",
        json={
            "name": "A",
            "items": [{"visualization": "ov-volume"}],
            "hidden_filters": {"channel": "chat"},
        },
        headers=h,
    ).json()
    renamed = client.put(
        f"/api/dashboards/{dash['id']}", json={"name": "B", "items": dash["items"]}, headers=h
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "B"
    body = client.post(f"/api/dashboards/{dash['id']}/query", json={}, headers=h).json()
    assert _tile_count(body) == 2  # still only the chats


def test_ask_about_engagements_goes_to_the_companys_llm_when_it_has_one(
    client, world: World
) -> None:
    """GIVEN the company's AI endpoint is a local OpenAI-protocol server WHEN asking about
    the engagements behind a tile THEN their masked transcripts go to it, each under its
    engagement's heading, and only turns that were sent come back as sources."""
    import json

    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope
    from tests.minutes.conftest import ChatServer, Reply, completion

    h = world.company.headers
    with session_scope() as s:
        first = s.scalars(
            select(Turn).where(Turn.engagement_id == world.e["E1"]).order_by(Turn.seq)
        ).first()
        assert first is not None
        first_id = first.id
    server = ChatServer().start()
    try:
        server.responder = lambda body, n: Reply(
            200,
            completion(json.dumps({"answer": "The bank call.", "sources": [first_id, 10**9]})),
        )
        r = client.put(
            "/api/settings/ai",
            json={
                "ai_engine": "openai",
                "ai_provider": "custom",
                "ai_base_url": server.base_url,
                "ai_model": "test-model",
                "ai_api_key": "sk-test-analytics-secret",
            },
            headers=h,
        )
        assert r.status_code == 200, r.text
        ids = [str(world.e["E1"]), str(world.e["E2"])]
        ask = client.post(
            "/api/metrics/ask", json={"engagement_ids": ids, "prompt": "Which bank?"}, headers=h
        )
        assert ask.status_code == 200, ask.text
        assert ask.json() == {
            "engine": "llm",
            "answer": "The bank call.",
            "sources": [{"engagement_id": str(world.e["E1"]), "turn_id": first_id}],
        }
        (request,) = server.requests
        user = request.body["messages"][-1]["content"]
        assert "Question: Which bank?" in user
        assert f"## engagement {world.e['E1']}" in user and f"## engagement {world.e['E2']}" in user
        assert f"[{first_id}] " in user
    finally:
        server.stop()
