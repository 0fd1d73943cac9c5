"""Issue 17 #13: security headers on every kind of response, the API docs served from
vendored Swagger UI (nothing from a CDN), and pages that the CSP lets through whole."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, sign_in_page

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _assert_security_headers(headers: Any) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (name, headers.get(name))
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "object-src 'none'" in csp


def test_html_json_static_and_error_responses_carry_the_security_headers(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")  # else /login sends to /setup
    with api_server.client() as c:
        for path, kind in [
            ("/login", "text/html"),
            ("/api/health", "application/json"),
            ("/api/calls", "application/json"),  # 401, no credentials
            ("/api/nope", "application/json"),  # 404
            ("/static/css/app.css", "text/css"),
            ("/static/vendor/htmx-2.0.8/htmx.min.js", "javascript"),
            ("/api/docs", "text/html"),
        ]:
            resp = c.get(path)
            assert kind in resp.headers.get("content-type", ""), (path, resp.headers)
            _assert_security_headers(resp.headers)


def test_api_docs_reference_only_same_origin_urls(api_server: LiveServer) -> None:
    with api_server.client() as c:
        html = c.get("/api/docs").text
        for url in re.findall(r"""(?:src|href)=["']([^"']+)""", html) + re.findall(
            r"""url:\s*["']([^"']+)""", html
        ):
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
            assert c.get(url).status_code == 200, url
        assert "cdn." not in html and "https://" not in html


@pytest.mark.slow
def test_pages_and_api_docs_raise_no_csp_violation_and_swagger_renders(
    api_server: LiveServer, chromium, company: CompanyCtx
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a signed-in admin WHEN the main pages and /api/docs open in Chromium
    THEN no Content-Security-Policy violation is reported, and Swagger UI lists the
    API's operations (it loaded its script from /static)."""
    from playwright.sync_api import expect

    create_user(company.id, "ann@acme.test", "admin")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    context.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        for path in [
            "/calls",
            "/upload",
            "/action-items",
            "/automations",
            "/integrations",
            "/settings/users",
            "/settings/api-keys",
            "/settings/ai",
            "/api/docs",
        ]:
            page.goto(f"{api_server.url}{path}")
            page.wait_for_load_state("networkidle")
            if path == "/api/docs":
                expect(page.locator(".opblock").first).to_be_visible()
                assert page.locator(".opblock").count() > 10
            violations = page.evaluate("window.__csp")
            assert violations == [], (path, violations)
        assert not [m for m in console if "Content Security Policy" in m], console
        assert all(u.startswith(api_server.url) for u in requests), [
            u for u in requests if not u.startswith(api_server.url)
        ]
    finally:
        context.close()
