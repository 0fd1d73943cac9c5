"""The Overview dashboard in Chromium: filter by agent, save the view as default,
reload (the view applies), click a bar -> the engagements behind it -> the journey."""

from __future__ import annotations

import re

import pytest

from tests.analytics.conftest import World
from tests.conftest import LiveServer
from tests.web.conftest import create_user, sign_in_page
from tests.web.test_browser import _screenshot

# the page, not the database path, is the point here (the live server is another
# process: the read model's file belongs to this one)
pytestmark = pytest.mark.parametrize("read_model", ["primary"], indirect=True)


@pytest.mark.slow
def test_overview_filter_default_view_and_drill_down_to_the_journey(
    api_server: LiveServer, chromium, world: World
) -> None:
    from playwright.sync_api import expect

    create_user(world.company.id, "eve@example.com", "manager")
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        sign_in_page(page, api_server.url, "eve@example.com")
        page.goto(f"{api_server.url}/analytics")
        page.get_by_test_id("dashboard-link").filter(has_text="Overview").click()
        expect(page.get_by_test_id("tile")).to_have_count(6)
        page.get_by_test_id("filter-agent").select_option(str(world.dana))
        page.get_by_test_id("apply-filter").click()
        expect(page).to_have_url(re.compile(rf"agent_id={world.dana}"))
        page.get_by_test_id("my-views").locator("summary").click()
        page.get_by_test_id("view-name").fill("Dana only")
        page.get_by_test_id("view-default").check()
        page.get_by_test_id("save-view").click()
        expect(page).to_have_url(re.compile(r"\?view="))
        page.goto(f"{api_server.url}/analytics/dashboards/overview")  # a plain reopen
        expect(page.get_by_test_id("filter-agent")).to_have_value(str(world.dana))
        expect(page.get_by_test_id("my-views").locator("summary")).to_contain_text("Dana only")
        # the "Engagements by channel" bar chart: click its first bar
        tile = page.get_by_test_id("tile").filter(has_text="Engagements by channel")
        canvas = tile.locator("canvas[data-ready='1']")
        expect(canvas).to_have_count(1)
        point = canvas.evaluate(
            "c => { const el = Chart.getChart(c).getDatasetMeta(0).data[0];"
            " return {x: el.x, y: (el.y + el.base) / 2}; }"
        )
        canvas.click(position={"x": point["x"], "y": point["y"]})
        expect(page).to_have_url(re.compile(r"/analytics/engagements\?segment="))
        links = page.get_by_test_id("engagement-link")
        expect(links).to_have_count(2)  # Dana's two voice calls
        links.first.click()
        expect(page).to_have_url(re.compile(r"/customers/[0-9a-f-]+/journey\?engagement="))
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.slow
def test_a_copied_dashboard_is_arranged_by_buttons_and_by_dragging(
    api_server: LiveServer, chromium, world: World
) -> None:
    from playwright.sync_api import expect

    create_user(world.company.id, "ada@example.com", "manager")
    context = chromium.new_context(viewport={"width": 1360, "height": 2400})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def order() -> list[str]:
        return page.get_by_test_id("tile").evaluate_all(
            "ts => ts.map(t => t.getAttribute('data-vis'))"
        )

    try:
        sign_in_page(page, api_server.url, "ada@example.com")
        page.goto(f"{api_server.url}/analytics/dashboards/overview")
        expect(page.get_by_test_id("arrange")).to_have_count(0)  # built-in: read-only
        page.get_by_test_id("copy-dashboard").click()
        expect(page).to_have_url(re.compile(r"/analytics/dashboards/[0-9a-f-]{36}$"))
        expect(page.get_by_test_id("tile")).to_have_count(6)
        first = order()
        page.get_by_test_id("tile").first.locator("[data-tile=later]").click()
        page.wait_for_load_state("networkidle")
        expect(page.get_by_test_id("tile").nth(1)).to_have_attribute("data-vis", first[0])
        assert order() == [first[1], first[0], *first[2:]]
        page.get_by_test_id("tile").first.locator("[data-tile=wider]").click()
        expect(page.get_by_test_id("tile").first).to_have_attribute("data-w", "8")
        # drag the last tile by its header onto the first (HTML5 drag and drop: the
        # pointer moves over the target more than once, as a hand does)
        # drag the last tile by its header onto the first (HTML5 drag and drop; the page
        # is tall enough to show both, so nothing scrolls mid-drag)
        page.get_by_test_id("tile").last.locator("header").drag_to(
            page.get_by_test_id("tile").first.locator("header")
        )
        expect(page.get_by_test_id("tile").first).to_have_attribute("data-vis", first[5])
        page.get_by_test_id("tile").last.locator("[data-tile=remove]").click()
        expect(page.get_by_test_id("tile")).to_have_count(5)
        page.get_by_test_id("arrange").locator("summary").click()
        page.get_by_test_id("add-tile-vis").select_option("ov-times")
        page.get_by_test_id("add-tile").click()
        expect(page.get_by_test_id("tile")).to_have_count(6)
        expect(page.get_by_test_id("tile").last).to_have_attribute("data-vis", "ov-times")
        page.reload()  # saved, not just drawn
        expect(page.get_by_test_id("tile").first).to_have_attribute("data-vis", first[5])
        page.set_viewport_size({"width": 1360, "height": 1500})
        page.get_by_test_id("arrange").locator("summary").click()
        _screenshot(page, "dashboard-arrange.png")
        assert not errors, errors
    finally:
        context.close()
