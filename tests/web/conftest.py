"""Fixtures of the web tests: a signed-in httpx client (cookie session + CSRF token),
users with roles, calls attributed to agents, and Chromium driven by Playwright."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, DATA  # noqa: F401  (browser: tests/conftest.py)

PASSWORD = "correct horse battery"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@dataclass
class WebClient:
    """An httpx client holding a browser-like cookie session."""

    client: httpx.Client
    csrf: str = ""

    def refresh_csrf(self, path: str = "/calls") -> str:
        page = self.client.get(path)
        self.csrf = csrf_from(page.text)
        return self.csrf

    def post_form(self, path: str, data: dict | None = None, **kw: object) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)  # type: ignore[arg-type]


def sign_in(base_url: str, email: str, password: str = PASSWORD) -> WebClient:
    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    web = WebClient(client)
    web.csrf = csrf_from(client.get("/login").text)
    answer = web.post_form("/login", {"email": email, "password": password})
    assert answer.status_code == 303, answer.text[:500]
    web.refresh_csrf()
    return web


def create_user(
    company_id: uuid.UUID,
    email: str,
    role: str,
    *,
    extension_id: str | None = None,
    platform_admin: bool = False,
) -> uuid.UUID:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        user = service.create_user(
            s,
            company_id,
            email=email,
            name=email.split("@")[0].title(),
            password=PASSWORD,
            role=role,
            is_platform_admin=platform_admin,
        )
        if extension_id:
            service.link_user_agent(s, company_id, user, extension_id=extension_id)
        return user.id


def agent_of(user_id: uuid.UUID) -> uuid.UUID | None:
    from callscribe.accounts.models import User
    from callscribe.db import session_scope

    with session_scope() as s:
        user = s.get(User, user_id)
        return user.agent_id if user else None


HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"


def insert_transcribed_call(
    company_id: uuid.UUID,
    *,
    agent_id: uuid.UUID | None = None,
    customer_name: str | None = None,
    transcript: Path = HARPER,
) -> uuid.UUID:
    """A call whose transcript is already there (as a provider delivers it, no audio):
    the turns of a real bank phone call (Harper Valley, Apache-2.0), status `received`,
    so the pipeline only analyzes it. The caller enqueues it, or leaves it be."""
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    segments = sorted(json.loads(transcript.read_text()), key=lambda s: s["start_ms"])
    call_id = uuid.uuid4()
    with session_scope() as s:
        s.add(
            Engagement(
                id=call_id,
                company_id=company_id,
                channel="voice",
                source="tests",
                agent_id=agent_id,
                customer_name=customer_name,
                direction="inbound",
                duration_s=(segments[-1]["start_ms"] + segments[-1]["duration_ms"]) / 1000,
                status="received",
                meta={"transcript_complete": True},
            )
        )
        s.flush()
        for seq, seg in enumerate(segments):
            role = {"agent": "agent", "caller": "customer"}.get(seg["speaker_role"], "unknown")
            s.add(
                Turn(
                    company_id=company_id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role,
                    start_ms=seg["start_ms"],
                    end_ms=seg["start_ms"] + seg["duration_ms"],
                    text=seg["human_transcript"],
                )
            )
    return call_id


def sign_in_page(page, url: str, email: str, *, land_on_calls: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real login form in a Playwright page."""
    from playwright.sync_api import expect

    page.goto(f"{url}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click("button[type=submit]")
    if land_on_calls:
        expect(page).to_have_url(re.compile(r"/calls$"))
