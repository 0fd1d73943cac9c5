"""The header menus in Chromium: Log out readable on the user menu, and each role sees
only the pages it may open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# WCAG contrast ratio between an element's text colour and the colour behind it (the
# first opaque background up its ancestors; white if none).
CONTRAST_JS = """
(el) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const fg = rgb(getComputedStyle(el).color);
  let bg = [255, 255, 255];
  for (let n = el; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c.slice(0, 3); break; }
  }
  const [a, b] = [lum(fg.slice(0, 3)), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
"""


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_log_out_is_readable_on_the_user_menu_and_on_hover(
    api_server: LiveServer, company: CompanyCtx, chromium
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a signed-in admin WHEN they open the user menu THEN "Log out" has a text
    contrast of at least 4.5:1 (WCAG AA), also while hovered, and signs them out."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        page.click(".user-menu summary")
        logout = page.get_by_test_id("logout")
        expect(logout).to_be_visible()
        _shot(page, "after-logout.png")
        assert logout.evaluate(CONTRAST_JS) >= 4.5
        logout.hover()
        assert logout.evaluate(CONTRAST_JS) >= 4.5
        logout.click()
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()


NAV_LINKS_JS = "() => [...document.querySelectorAll('.app-nav-links a')].map(a => a.pathname)"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_role_sees_only_the_pages_it_may_open(
    api_server: LiveServer, company: CompanyCtx, chromium
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an admin, a manager, a reviewer and an agent WHEN each opens the calls page
    THEN the menu lists exactly the pages their role may open (auth.permissions), and
    every page it links to opens (no "Not allowed")."""
    expected = {
        "admin": [
            "/calls",
            "/customers",
            "/search",
            "/reviews",
            "/upload",
            "/action-items",
            "/analytics",
            "/automations",
            "/integrations",
            "/settings/ai",
            "/settings/users",
            "/settings/api-keys",
            "/settings/company",
            "/settings/technical-log",
        ],
        "manager": [
            "/calls",
            "/customers",
            "/search",
            "/reviews",
            "/upload",
            "/action-items",
            "/analytics",
            "/integrations",
        ],
        "reviewer": [
            "/calls",
            "/customers",
            "/search",
            "/reviews",
            "/upload",
            "/action-items",
            "/analytics",
        ],
        "agent": [
            "/calls",
            "/customers",
            "/search",
            "/reviews",
            "/upload",
            "/action-items",
            "/analytics",
        ],
    }
    for role in expected:
        create_user(company.id, f"{role}@acme.test", role)
    for role, links in expected.items():
        context = chromium.new_context(viewport={"width": 1280, "height": 720})
        context.set_default_timeout(30_000)
        page = context.new_page()
        try:
            sign_in_page(page, api_server.url, f"{role}@acme.test")
            assert page.evaluate(NAV_LINKS_JS) == links, role
            if role == "agent":
                _shot(page, "after-menu-agent.png")
            for href in links:
                answer = page.goto(f"{api_server.url}{href}")
                assert answer is not None and answer.status == 200, (role, href)
        finally:
            context.close()


# Whether the whole element is inside the viewport and its centre is not covered.
ON_SCREEN_JS = """
(el) => {
  const r = el.getBoundingClientRect();
  const inView = r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return inView && (hit === el || el.contains(hit));
}
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_users_edit_opens_whole_and_on_top_for_the_last_row(
    api_server: LiveServer, company: CompanyCtx, chromium
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an admin and one more user (the last row of the users table) WHEN the admin
    opens that row's Edit THEN the whole form, Save and the link button included, is on
    screen and on top, and saving it changes the role."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    create_user(company.id, "zoe@acme.test", "agent")
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        page.goto(f"{api_server.url}/settings/users")
        edit = page.get_by_test_id("user-edit").last
        edit.locator("summary").click()
        form = edit.locator("ul[role=dialog]")
        expect(form).to_be_visible()
        _shot(page, "after-user-edit.png")
        for target in (form, form.get_by_role("button", name="Save")):
            assert target.evaluate(ON_SCREEN_JS), target
        form.locator("select[name=role]").select_option("reviewer")
        form.get_by_role("button", name="Save").click()
        expect(page.get_by_role("cell", name="Reviewer", exact=True)).to_be_visible()
    finally:
        context.close()
