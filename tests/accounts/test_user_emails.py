"""Adding a user whose email another company uses says nothing of that company: the
refusal is word for word the one for an address that is not an email at all
(issue 17 #16)."""

from __future__ import annotations

import html
import re

from tests.conftest import CompanyCtx, LiveServer, make_company
from tests.web.conftest import (
    create_user,
    sign_in,
)


def _error(page: str) -> str:
    found = re.search(r'class="[^"]*error[^"]*"[^>]*>\s*([^<]+?)\s*<', page)
    assert found, page[:2000]
    return html.unescape(found.group(1))


def test_an_email_of_another_company_is_refused_without_saying_so(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN Globex with a user eve@globex.test and an admin of Acme
    WHEN the Acme admin adds eve@globex.test
    THEN it is refused (400) with the same message as 'not-an-email', the page names
    neither Globex nor an existing account; an Acme user's own address says so."""
    globex = make_company("Globex Secret Corp")
    create_user(globex.id, "eve@globex.test", "agent")
    create_user(company.id, "ann@acme.test", "admin")
    create_user(company.id, "bob@acme.test", "agent")
    admin = sign_in(api_server.url, "ann@acme.test")

    def add(email: str) -> tuple[int, str]:
        r = admin.post_form("/settings/users", {"name": "X", "email": email, "role": "agent"})
        return r.status_code, r.text

    taken_status, taken_page = add("eve@globex.test")
    bad_status, bad_page = add("not-an-email")
    assert taken_status == bad_status == 400
    assert _error(taken_page) == _error(bad_page)
    assert "Globex" not in taken_page and "exists" not in taken_page.lower()
    own_status, own_page = add("bob@acme.test")
    assert own_status == 400 and "your company" in _error(own_page)
