"""The web app over HTTP: first run, sign in, CSRF, login rate limit, roles and the
agent's view of calls, settings, users and API keys."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import (
    PASSWORD,
    agent_of,
    create_user,
    csrf_from,
    insert_transcribed_call,
    sign_in,
)


def test_first_visit_leads_to_setup_and_first_account_becomes_platform_admin(
    api_server: LiveServer,
) -> None:
    """GIVEN a fresh install WHEN the first visitor fills in the setup page THEN a company
    and its platform admin exist, the admin is signed in at once (issue 18) and can sign
    in again later, and setup cannot be replayed."""
    from callscribe.accounts.models import Company, User
    from callscribe.db import session_scope

    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        assert c.get("/").headers["location"] == "/setup"
        assert c.get("/login").headers["location"] == "/setup"
        token = csrf_from(c.get("/setup").text)
        answer = c.post(
            "/setup",
            data={
                "csrf_token": token,
                "company_name": "Acme Support",
                "name": "Ann Admin",
                "email": "Ann@Acme.test",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/calls"
        signed_in = c.get("/calls")
        assert signed_in.status_code == 200 and "Ann Admin" in signed_in.text
        assert "You are the administrator of Acme Support" in signed_in.text
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        assert c.get("/setup").headers["location"] == "/login"
        token = csrf_from(c.get("/login").text)
        replay = c.post(
            "/setup",
            data={
                "csrf_token": token,
                "company_name": "Evil",
                "name": "Eve",
                "email": "eve@evil.test",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert replay.status_code == 303
    with session_scope() as s:
        users = s.query(User).all()
        assert [(u.email, u.role, u.is_platform_admin) for u in users] == [
            ("ann@acme.test", "admin", True)
        ]
        assert [c.name for c in s.query(Company).all()] == ["Acme Support"]
    web = sign_in(api_server.url, "ann@acme.test")
    page = web.client.get("/calls")
    assert page.status_code == 200
    assert "Ann Admin" in page.text and "Upload recordings" in page.text


def test_setup_refuses_mismatched_passwords(api_server: LiveServer) -> None:
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        token = csrf_from(c.get("/setup").text)
        answer = c.post(
            "/setup",
            data={
                "csrf_token": token,
                "company_name": "Acme",
                "name": "Ann",
                "email": "ann@acme.test",
                "password": PASSWORD,
                "password_confirm": PASSWORD + "x",
            },
        )
        assert answer.status_code == 400
        assert "The two passwords differ." in answer.text
        assert c.get("/").headers["location"] == "/setup"


def test_pages_redirect_to_login_when_signed_out(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        for path in ("/calls", "/upload", "/action-items", "/settings/ai", "/calls/x"):
            answer = c.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=")
        # htmx requests get HX-Redirect instead of a redirect they would swap in
        answer = c.get("/calls", headers={"HX-Request": "true"})
        assert answer.status_code == 401 and answer.headers["hx-redirect"].startswith("/login")


def test_form_post_without_csrf_token_is_refused(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a signed-in admin WHEN a form is posted without (or with a wrong) CSRF token
    THEN it is refused with 403 and nothing changes; with the token it works."""
    from callscribe.accounts import service
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    before = len(_keys(company.id))
    refused = web.client.post("/settings/api-keys", data={"name": "no token"})
    assert refused.status_code == 403
    assert "security token" in refused.text
    forged = web.client.post("/settings/api-keys", data={"name": "x", "csrf_token": "f" * 43})
    assert forged.status_code == 403
    assert len(_keys(company.id)) == before
    assert web.post_form("/settings/api-keys", {"name": "with token"}).status_code == 200
    assert len(_keys(company.id)) == before + 1
    # anonymous forms too: a login post without the token is refused
    with httpx.Client(base_url=api_server.url) as anon:
        answer = anon.post("/login", data={"email": "ann@acme.test", "password": PASSWORD})
        assert answer.status_code == 403
    # and logging out needs it
    assert web.client.post("/logout").status_code == 403
    with session_scope() as s:
        assert service.list_users(s, company.id)


def _keys(company_id: uuid.UUID) -> list:
    from callscribe.auth.api_keys import list_api_keys
    from callscribe.db import session_scope

    with session_scope() as s:
        return [k.name for k in list_api_keys(s, company_id)]


def test_cookie_authenticated_api_writes_need_the_csrf_header(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    assert web.client.get("/api/settings/ai").status_code == 200  # reads need no header
    body = {"outcome_labels": ["resolved", "sale"]}
    refused = web.client.put("/api/settings/ai", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    ok = web.client.put("/api/settings/ai", json=body, headers={"X-CSRF-Token": web.csrf})
    assert ok.status_code == 200 and ok.json()["outcome_labels"] == ["resolved", "sale"]
    # API keys are not affected by the cookie rule
    keyed = httpx.put(
        f"{api_server.url}/api/settings/ai", json=body, headers=company.headers, timeout=30
    )
    assert keyed.status_code == 200


def test_login_rate_limit_answers_429_after_ten_failures(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    create_user(company.id, "bob@acme.test", "manager")
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        token = csrf_from(c.get("/login").text)
        for _ in range(10):
            wrong = c.post(
                "/login", data={"csrf_token": token, "email": "ann@acme.test", "password": "nope"}
            )
            assert wrong.status_code == 401
            assert "Wrong email or password." in wrong.text
        limited = c.post(
            "/login", data={"csrf_token": token, "email": "ann@acme.test", "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert "Too many failed sign-ins" in limited.text
        assert int(limited.headers["retry-after"]) > 0
        # another account from the same address is not locked by ann's failures
        other = c.post(
            "/login", data={"csrf_token": token, "email": "bob@acme.test", "password": PASSWORD}
        )
        assert other.status_code == 303


def test_logout_ends_the_session_on_the_server_too(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """A copy of the session cookie taken before signing out does not work afterwards."""
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    stolen = web.client.cookies.get("cs_session")
    assert stolen
    assert web.post_form("/logout").status_code == 303
    assert web.client.get("/calls").status_code == 303
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as other:
        other.cookies.set("cs_session", stolen)
        assert other.get("/calls").status_code == 303
        assert other.get("/api/calls").status_code == 401


def test_deactivating_a_user_signs_them_out(api_server: LiveServer, company: CompanyCtx) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    dana_id = create_user(company.id, "dana@acme.test", "agent", extension_id="EXT-3")
    dana = sign_in(api_server.url, "dana@acme.test")
    assert dana.client.get("/calls").status_code == 200
    admin = sign_in(api_server.url, "ann@acme.test")
    answer = admin.post_form(f"/settings/users/{dana_id}", {"role": "agent", "is_active": ""})
    assert answer.status_code == 303
    assert dana.client.get("/calls").status_code == 303
    refused = httpx.post(
        f"{api_server.url}/login",
        data={"csrf_token": dana.csrf, "email": "dana@acme.test", "password": PASSWORD},
        cookies=dana.client.cookies,
    )
    assert refused.status_code == 401


def test_agent_cannot_open_another_agents_call_by_url_or_api(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN agents Ann (EXT-1) and Bob (EXT-2) with a call each, and a manager
    WHEN Ann asks for Bob's call by page URL, by API, its audio, its Minutes download
    THEN 404 every time; she sees only her call in lists; the manager sees both."""
    ann = create_user(company.id, "ann@acme.test", "agent", extension_id="EXT-1")
    bob = create_user(company.id, "bob@acme.test", "agent", extension_id="EXT-2")
    create_user(company.id, "max@acme.test", "manager")
    create_user(company.id, "nolink@acme.test", "agent")
    ann_call = insert_transcribed_call(company.id, agent_id=agent_of(ann), customer_name="Ann's")
    bob_call = insert_transcribed_call(company.id, agent_id=agent_of(bob), customer_name="Bob's")
    insert_transcribed_call(company.id, agent_id=None, customer_name="Nobody's")

    web = sign_in(api_server.url, "ann@acme.test")
    assert web.client.get(f"/calls/{ann_call}").status_code == 200
    page = web.client.get(f"/calls/{bob_call}")
    assert page.status_code == 404 and "Call not found" in page.text
    for path in (
        f"/api/calls/{bob_call}",
        f"/api/calls/{bob_call}/audio",
        f"/api/calls/{bob_call}/minutes.md",
        f"/api/calls/{bob_call}/events",
    ):
        assert web.client.get(path).status_code == 404, path
    retry = web.client.post(f"/api/calls/{bob_call}/retry", headers={"X-CSRF-Token": web.csrf})
    assert retry.status_code == 404
    listed = web.client.get("/api/calls").json()
    assert [c["id"] for c in listed["calls"]] == [str(ann_call)]
    html = web.client.get("/calls").text
    assert str(ann_call) in html and str(bob_call) not in html

    unlinked = sign_in(api_server.url, "nolink@acme.test")
    assert unlinked.client.get("/api/calls").json()["total"] == 0
    assert unlinked.client.get(f"/calls/{ann_call}").status_code == 404

    manager = sign_in(api_server.url, "max@acme.test")
    assert manager.client.get("/api/calls").json()["total"] == 3
    assert manager.client.get(f"/calls/{bob_call}").status_code == 200


def test_agent_cannot_toggle_another_agents_action_item(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.minutes import service as minutes
    from callscribe.minutes.analyzers.local import LocalAnalyzer

    ann = create_user(company.id, "ann@acme.test", "agent", extension_id="EXT-1")
    bob = create_user(company.id, "bob@acme.test", "agent", extension_id="EXT-2")
    bob_call = insert_transcribed_call(company.id, agent_id=agent_of(bob))
    with session_scope() as s:
        minutes.analyze_engagement(s, s.get(Engagement, bob_call), LocalAnalyzer())
    with session_scope() as s:
        from callscribe.calls import service as calls

        items = calls.list_call_action_items(s, bob_call)
        assert items, "the Harper Valley call has a commitment"
        item_id = items[0].id
    assert ann
    web = sign_in(api_server.url, "ann@acme.test")
    assert web.post_form(f"/action-items/{item_id}/toggle").status_code == 404
    patch = web.client.patch(
        f"/api/action-items/{item_id}", json={"status": "done"}, headers={"X-CSRF-Token": web.csrf}
    )
    assert patch.status_code == 404
    bob_web = sign_in(api_server.url, "bob@acme.test")
    toggled = bob_web.post_form(f"/action-items/{item_id}/toggle", {"layout": "row"})
    assert toggled.status_code == 200 and 'data-status="done"' in toggled.text


def test_saving_the_ai_key_resumes_waiting_calls_and_shows_only_its_last_four(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "admin")
    waiting = insert_transcribed_call(company.id)
    with session_scope() as s:
        call = s.get(Engagement, waiting)
        call.status, call.status_reason = "waiting", "AI key not set"
    web = sign_in(api_server.url, "ann@acme.test")
    page = web.client.get("/settings/ai")
    assert "1 call waiting for these settings" in page.text
    call_page = web.client.get(f"/calls/{waiting}").text
    assert "Waiting: AI key not set" in call_page and 'href="/settings/ai"' in call_page

    key = "sk-test-secret-value-9f3c"
    form = {
        "ai_engine": "openai",
        "ai_provider": "custom",
        "ai_base_url": "http://127.0.0.1:9/v1",
        "ai_model": "small-model",
        "ai_api_key": key,
        "speech_engine": "faster-whisper",
        "outcome_labels": "resolved\nsale\nno sale",
        "agent_channel": "1",
    }
    saved = web.post_form("/settings/ai", form)
    assert saved.status_code == 303, saved.text[:300]
    page = web.client.get("/settings/ai").text
    assert "1 waiting call resumed" in page
    assert key not in page and "…9f3c" in page
    with session_scope() as s:
        call = s.get(Engagement, waiting)
        assert call.status == "received" and call.enqueued_at is not None
    api = web.client.get("/api/settings/ai").json()
    assert api["ai_api_key_set"] and api["ai_api_key_last4"] == "9f3c"
    assert api["ai_base_url"] == "http://127.0.0.1:9/v1" and api["ai_model"] == "small-model"
    assert api["channel_roles"]["*"] == {"0": "customer", "1": "agent"}
    assert api["outcome_labels"] == ["resolved", "sale", "no sale"]
    # an empty key field keeps the key
    again = web.post_form("/settings/ai", {**form, "ai_api_key": ""})
    assert again.status_code == 303
    assert web.client.get("/api/settings/ai").json()["ai_api_key_last4"] == "9f3c"


def test_ai_test_button_reports_the_answer_or_the_error(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    local = web.post_form("/settings/ai/test", {"ai_engine": "local"})
    assert local.status_code == 200
    assert "It works." in local.text and "<dt>Subject</dt>" in local.text
    down = web.post_form(
        "/settings/ai/test",
        {
            "ai_engine": "openai",
            "ai_provider": "custom",
            "ai_base_url": "http://127.0.0.1:9/v1",
            "ai_api_key": "sk-x",
        },
    )
    assert down.status_code == 200
    assert "The test failed." in down.text and "unreachable" in down.text
    nokey = web.post_form(
        "/settings/ai/test",
        {"ai_engine": "openai", "ai_provider": "custom", "ai_base_url": "http://127.0.0.1:9/v1"},
    )
    assert "AI key not set" in nokey.text


def test_api_key_is_shown_once_works_and_can_be_revoked(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    created = web.post_form("/settings/api-keys", {"name": "Phone system"})
    key = re.search(r'id="new-key-value" readonly value="([^"]+)"', created.text).group(1)
    assert key.startswith("cs_")
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{api_server.url}/api/calls", headers=headers).status_code == 200
    listing = web.client.get("/settings/api-keys").text
    assert key not in listing and key[:9] in listing and "Phone system" in listing
    from callscribe.auth.api_keys import list_api_keys
    from callscribe.db import session_scope

    with session_scope() as s:
        row = next(k for k in list_api_keys(s, company.id) if k.name == "Phone system")
        assert row.last_used_at is not None
        key_id = row.id
    assert web.post_form(f"/settings/api-keys/{key_id}/revoke").status_code == 303
    assert httpx.get(f"{api_server.url}/api/calls", headers=headers).status_code == 401


def test_admin_adds_an_agent_user_linked_by_extension_who_accepts_the_invitation(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.accounts.models import Agent, User
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    added = web.post_form(
        "/settings/users",
        {"name": "Dana Agent", "email": "dana@acme.test", "role": "agent", "extension_id": "EXT-9"},
    )
    assert added.status_code == 200
    link = re.search(r'id="invite-url" readonly value="([^"]+)"', added.text).group(1)
    with session_scope() as s:
        user = s.query(User).filter_by(email="dana@acme.test").one()
        agent = s.get(Agent, user.agent_id)
        assert (user.role, agent.name, agent.extension_id) == ("agent", "Dana Agent", "EXT-9")
    # a manager cannot open the users page
    create_user(company.id, "max@acme.test", "manager")
    assert sign_in(api_server.url, "max@acme.test").client.get("/settings/users").status_code == 403

    path = link.split(api_server.url, 1)[1].replace("&amp;", "&")
    with httpx.Client(base_url=api_server.url, follow_redirects=False) as c:
        page = c.get(path)
        assert page.status_code == 200 and "Choose your password" in page.text
        token = path.split("token=", 1)[1]
        done = c.post(
            path.split("?", 1)[0],
            data={
                "csrf_token": csrf_from(page.text),
                "token": token,
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert done.status_code == 303
        assert c.get(path).status_code == 404  # single use
    dana = sign_in(api_server.url, "dana@acme.test")
    assert dana.client.get("/calls").status_code == 200
    # the admin cannot demote themselves out of the last admin seat
    with session_scope() as s:
        me = s.query(User).filter_by(email="ann@acme.test").one()
        my_id = me.id
    demote = web.post_form(f"/settings/users/{my_id}", {"role": "agent", "is_active": "1"})
    assert demote.status_code == 400 and "cannot demote" in demote.text


def test_upload_through_the_api_with_the_session_cookie_needs_the_csrf_header(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """The upload page posts to /api/add-calls with the cookie and the X-CSRF-Token
    header; the call is marked as uploaded. Without the header nothing is stored."""
    from tests.conftest import AUDIO

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    audio = (AUDIO / "jfk.flac").read_bytes()
    files = {"call": ("jfk.flac", audio, "audio/flac")}
    refused = web.client.post("/api/add-calls", files=files, data={"source": "upload"})
    assert refused.status_code == 403
    assert web.client.get("/api/calls").json()["total"] == 0
    stored = web.client.post(
        "/api/add-calls",
        files=files,
        data={"source": "upload", "customer_name": "Acme Corp"},
        headers={"X-CSRF-Token": web.csrf},
    )
    assert stored.status_code == 201, stored.text
    call = web.client.get(f"/api/calls/{stored.json()['call_id']}").json()
    assert (call["source"], call["customer_name"]) == ("upload", "Acme Corp")
    page = web.client.get(f"/calls/{call['id']}").text
    assert "Queued for processing" in page and f"/api/calls/{call['id']}/audio" in page


def test_failed_call_shows_its_error_and_retry_queues_it_again(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "manager")
    failed = insert_transcribed_call(company.id)
    with session_scope() as s:
        call = s.get(Engagement, failed)
        call.status, call.error = "failed", "The recording cannot be decoded: truncated file."
    web = sign_in(api_server.url, "ann@acme.test")
    page = web.client.get(f"/calls/{failed}").text
    assert "Processing failed" in page and "truncated file" in page
    assert f'action="/calls/{failed}/retry"' in page
    assert "truncated file" in web.client.get("/calls").text
    retried = web.post_form(f"/calls/{failed}/retry")
    assert retried.status_code == 303
    with session_scope() as s:
        call = s.get(Engagement, failed)
        assert (call.status, call.error) == ("received", None)
        assert call.enqueued_at is not None
    assert "The call is queued again." in web.client.get(f"/calls/{failed}").text


def test_calls_list_filters_pages_and_sorts(api_server: LiveServer, company: CompanyCtx) -> None:
    from datetime import UTC, datetime, timedelta

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    create_user(company.id, "ann@acme.test", "manager")
    ids = [insert_transcribed_call(company.id, customer_name=f"Cust {i:02d}") for i in range(30)]
    with session_scope() as s:
        for i, call_id in enumerate(ids):
            call = s.get(Engagement, call_id)
            call.created_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i)
            call.duration_s = 60 + i
            call.direction = "outbound" if i % 2 else "inbound"
            if i == 7:
                call.status, call.status_reason = "waiting", "AI key not set"
    web = sign_in(api_server.url, "ann@acme.test")

    def customers(html: str) -> list[str]:
        return re.findall(r"<small>(Cust \d\d)", html)

    first = web.client.get("/calls").text
    assert "30 calls" in first and "Page 1 of 2" in first
    assert customers(first)[0] == "Cust 29" and len(customers(first)) == 25
    second = web.client.get("/calls?page=2").text
    assert customers(second) == [f"Cust {i:02d}" for i in range(4, -1, -1)]
    by_duration = web.client.get("/calls?sort=duration").text
    assert customers(by_duration)[0] == "Cust 00"
    waiting = web.client.get("/calls?status=waiting").text
    assert customers(waiting) == ["Cust 07"] and "AI key not set" in waiting
    outbound = web.client.get("/calls?direction=outbound&customer=Cust 1").text
    assert customers(outbound) == ["Cust 19", "Cust 17", "Cust 15", "Cust 13", "Cust 11"]
    dated = web.client.get("/calls?date_from=2026-01-03&date_to=2026-01-04").text
    assert customers(dated) == ["Cust 03", "Cust 02"]
    # htmx asks for the table alone (filters, live polling)
    partial = web.client.get(
        "/calls?status=waiting", headers={"HX-Request": "true", "HX-Target": "calls-table"}
    ).text
    assert partial.lstrip().startswith('<div id="calls-table"') and "<html" not in partial
