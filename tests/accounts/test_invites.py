"""One live invitation (or password-reset) link per user: a new link ends the older
ones, and using a link ends it and every other (issue 17 #7)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import (
    PASSWORD,
    create_user,
    csrf_from,
    sign_in,
)

NEW = "correct horse battery staple 2"


def _link_path(server: LiveServer, html: str) -> str:
    link = re.search(r'id="invite-url" readonly value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    return link.split(server.url, 1)[1].replace("&amp;", "&")


def _choose_password(server: LiveServer, path: str, password: str) -> int:
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        page = c.get(path)
        if page.status_code != 200:
            return page.status_code
        answer = c.post(
            path.split("?", 1)[0],
            data={
                "csrf_token": csrf_from(page.text),
                "token": path.split("token=", 1)[1],
                "password": password,
                "password_confirm": password,
            },
        )
        return answer.status_code


def _user_id(email: str) -> str:
    from callscribe.accounts.models import User
    from callscribe.db import session_scope

    with session_scope() as s:
        return str(s.query(User).filter_by(email=email).one().id)


def test_a_new_invitation_ends_the_older_links(api_server: LiveServer, company: CompanyCtx) -> None:
    """GIVEN an invited user and a second invitation sent later
    THEN the first link no longer opens, and the second one works once."""
    create_user(company.id, "ann@acme.test", "admin")
    admin = sign_in(api_server.url, "ann@acme.test")
    added = admin.post_form(
        "/settings/users", {"name": "Dana", "email": "dana@acme.test", "role": "agent"}
    )
    first = _link_path(api_server, added.text)
    again = admin.post_form(f"/settings/users/{_user_id('dana@acme.test')}/invite")
    second = _link_path(api_server, again.text)
    assert first != second
    with httpx.Client(base_url=api_server.url) as c:
        assert c.get(first).status_code == 404
        assert c.get(second).status_code == 200
    assert _choose_password(api_server, first, PASSWORD) == 404
    assert _choose_password(api_server, second, PASSWORD) == 303
    assert _choose_password(api_server, second, NEW) == 404  # spent
    sign_in(api_server.url, "dana@acme.test", PASSWORD)


def test_a_reset_link_ends_the_earlier_reset_links(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a user with a password, reset twice by an admin, who then uses the latest
    link THEN neither link works any more, the older one included (before, the older link
    came back to life once the password hash was empty again)."""
    create_user(company.id, "ann@acme.test", "admin")
    create_user(company.id, "dana@acme.test", "agent")
    admin = sign_in(api_server.url, "ann@acme.test")
    dana = _user_id("dana@acme.test")
    older = _link_path(api_server, admin.post_form(f"/settings/users/{dana}/invite").text)
    newer = _link_path(api_server, admin.post_form(f"/settings/users/{dana}/invite").text)
    assert _choose_password(api_server, older, NEW) == 404
    assert _choose_password(api_server, newer, NEW) == 303
    assert _choose_password(api_server, older, PASSWORD) == 404
    assert _choose_password(api_server, newer, PASSWORD) == 404
    sign_in(api_server.url, "dana@acme.test", NEW)
