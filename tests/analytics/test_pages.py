"""The analytics pages, in-process: dashboards with a table and CSV for every chart,
drill-down links (agent -> profile, segment -> engagements -> journey), the
visualization list's sections and search, the metric editor, the technical log."""

from __future__ import annotations

import csv
import io
import json
import uuid
from urllib.parse import quote

from tests.analytics.conftest import World, signed_in
from tests.web.conftest import create_user


def test_overview_has_a_table_csv_and_drill_down_for_every_tile(app, world: World) -> None:
    create_user(world.company.id, "mia@example.com", "manager")
    web = signed_in(app, "mia@example.com")
    page = web.get("/analytics/dashboards/overview")
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="tile"') == 6
    assert html.count('data-testid="tile-table"') == 6
    assert html.count('data-testid="csv"') == 6
    assert 'href="/analytics"' in html  # in the nav
    assert f'href="/analytics/agents/{world.dana}"' in html
    assert "vendor/chartjs-4.5.1/chart.umd.min.js" in html and "<script>" not in html
    data = web.get("/analytics/visualizations/ov-by-channel.csv?channel=voice")
    assert data.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(data.text))) == [["channel", "engagements"], ["voice", "2"]]
    segment = quote(json.dumps({"agent": str(world.dana)}))
    listing = web.get(f"/analytics/engagements?segment={segment}")
    assert listing.status_code == 200
    assert f"/customers/{world.c2}/journey?engagement={world.e['E4']}" in listing.text
    assert listing.text.count('data-testid="engagement-link"') == 2
    profile = web.get(f"/analytics/agents/{world.dana}")
    assert profile.status_code == 200 and "Dana Agent" in profile.text
    # her engagements' reviews (E1's tag and two scores, E4's AI flag, E5's tag), not
    # Sam's (E2's 90 %)
    reviews = profile.text.split('data-testid="agent-reviews"', 1)[1].split("</ul>", 1)[0]
    assert reviews.count("<li") == 5
    assert "Reviewed" in reviews and "80%" in reviews and "60%" in reviews
    assert reviews.count('class="review-ai"') == 1 and "90%" not in reviews
    assert "review_coverage" in profile.text
    # the engagements saved as a selection, listed and opened as they were saved
    saved = web.post("/api/selections", json={"segment": {"agent": str(world.dana)}, "name": "D"})
    assert saved.status_code == 201, saved.text
    listed = web.get("/analytics/selections")
    assert listed.status_code == 200 and 'data-testid="selection-link"' in listed.text
    opened = web.get(f"/analytics/engagements?selection={saved.json()['id']}")
    assert opened.status_code == 200 and "Selection: D" in opened.text
    assert opened.text.count('data-testid="engagement-link"') == 2
    assert web.get(f"/analytics/engagements?selection={uuid.uuid4()}").status_code == 404


def test_visualization_list_sections_search_and_favorites(app, world: World) -> None:
    create_user(world.company.id, "lou@example.com", "manager")
    web = signed_in(app, "lou@example.com")
    assert web.put("/api/visualizations/ov-by-week/favorite").status_code == 204
    html = web.get("/analytics/visualizations").text
    favorites = html.split('data-testid="section-favorites"', 1)[1]
    assert "Engagements by week" in favorites and "Handle times" not in favorites
    found = web.get("/analytics/visualizations?q=handle").text
    assert "Handle times" in found and "Engagements by week" not in found
    one = web.get("/analytics/visualizations/ov-times")
    assert one.status_code == 200 and "Save as new" in one.text
    assert web.get("/analytics/metrics").text.count("built-in") >= 20


def test_technical_log_is_for_admins(app, world: World) -> None:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    with session_scope() as s:
        accounts.log_technical(
            s,
            world.company.id,
            "ingest",
            "agent name trimmed to 100 characters",
            data_set="agents",
            ref="batch-7",
        )
    create_user(world.company.id, "root@example.com", "admin")
    create_user(world.company.id, "boss@example.com", "manager")
    html = signed_in(app, "root@example.com").get("/settings/technical-log").text
    assert "agent name trimmed" in html and "batch-7" in html and ">agents<" in html
    assert signed_in(app, "boss@example.com").get("/settings/technical-log").status_code == 403


def test_hidden_filters_are_not_shown_but_apply_to_the_drill_down(app, world: World) -> None:
    create_user(world.company.id, "ida@example.com", "manager")
    web = signed_in(app, "ida@example.com")
    dash = web.post(
        "/api/dashboards",
        json={
            "name": "Sam's",
            "items": [{"visualization": "ov-by-channel"}],
            "hidden_filters": {"agent_id": str(world.sam)},
        },
    ).json()
    html = web.get(f"/analytics/dashboards/{dash['id']}").text
    # neither chosen in the filter bar nor carried by the links
    assert f'value="{world.sam}" selected' not in html and f"agent_id={world.sam}" not in html
    link = html.split('data-testid="segment-link"', 1)[0].rsplit('href="', 1)[1].split('"')[0]
    listing = web.get(link.replace("&amp;", "&"))
    assert listing.status_code == 200, (link, listing.text[:500])
    assert listing.status_code == 200
    assert listing.text.count('data-testid="engagement-link"') == 2  # E2, E3: Sam's chats
    assert f"engagement={world.e['E3']}" in listing.text
    assert f"engagement={world.e['E1']}" not in listing.text


def test_a_manager_makes_edits_and_deletes_a_visualization_on_the_pages(app, world: World) -> None:
    create_user(world.company.id, "vic@example.com", "manager")
    create_user(world.company.id, "al@example.com", "agent")
    web = signed_in(app, "vic@example.com")
    listing = web.get("/analytics/visualizations").text
    assert 'data-testid="vis-new"' in listing and 'value="review_coverage"' in listing
    assert 'value="tag"' in listing and 'value="date:week"' in listing
    refused = web.post(
        "/analytics/visualizations", data={"name": "Nothing", "chart": "bar", "group_by": "tag"}
    )
    assert refused.status_code == 303 and refused.headers["location"] == "/analytics/visualizations"
    assert "metrics" in web.get("/analytics/visualizations").text  # said why; nothing made
    made = web.post(
        "/analytics/visualizations",
        data={
            "name": "Revenue by tag",
            "chart": "bar",
            "metrics": ["engagements", "revenue"],
            "group_by": ["tag", "", ""],
            "filter_channel": "voice",
        },
    )
    assert made.status_code == 303, made.text
    where = made.headers["location"]
    page = web.get(where).text
    assert "Revenue by tag" in page and 'data-testid="vis-edit"' in page
    table = page.split('data-testid="tile-table"', 1)[1].split("</table>", 1)[0]
    assert "Reviewed" in table and "150.5" in table and "chat" not in table  # E1 only
    edited = web.post(
        where,
        data={
            "name": "Engagements by tag and channel",
            "chart": "table",
            "metrics": ["engagements"],
            "group_by": ["tag", "channel"],
        },
    )
    assert edited.status_code == 303
    vis_id = where.rsplit("/", 1)[-1]
    saved = web.get(f"/api/visualizations/{vis_id}").json()
    assert saved["group_by"] == ["tag", "channel"] and saved["filters"] == {}
    assert saved["chart"] == "table" and saved["name"] == "Engagements by tag and channel"
    bad = web.post(where, data={"name": "x", "chart": "radar", "metrics": ["engagements"]})
    assert bad.status_code == 303
    assert web.get(f"/api/visualizations/{vis_id}").json()["chart"] == "table"  # unchanged

    agent = signed_in(app, "al@example.com")
    theirs = agent.get(where).text
    assert 'data-testid="vis-edit"' not in theirs and 'data-testid="vis-new"' not in (
        agent.get("/analytics/visualizations").text
    )
    agent.post(f"{where}/delete")
    assert web.get(f"/api/visualizations/{vis_id}").status_code == 200  # an agent cannot
    assert web.post(f"{where}/delete").status_code == 303
    assert web.get(f"/api/visualizations/{vis_id}").status_code == 404
    assert web.post("/analytics/visualizations/ov-times", data={"name": "x"}).status_code == 303
