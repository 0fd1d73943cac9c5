"""The Search page without a browser: what it answers for odd input (never a 500, the
query never rendered as markup), the htmx fragment, and agent scoping."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer, insert_text_engagement
from tests.search.corpus_surface import PROMO, REFUND, add_chat, processed
from tests.web.conftest import (
    agent_of,
    create_user,
    sign_in,
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_odd_input_is_answered_with_a_message_and_never_rendered_as_markup(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    processed(
        insert_text_engagement(
            company.id, [("customer", "My code <script>alert(1)</script> REF-7731 fails")]
        )
    )
    web = sign_in(api_server.url, "ann@acme.test").client
    page = web.get("/search", params={"q": "<script>alert(1)</script>", "mode": "bogus"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    found = web.get("/search", params={"q": "REF-7731", "mode": "keyword"})
    assert "<mark>" in found.text.lower() and "<script>alert" not in found.text
    for params, message in (
        ({"q": "x" * 1001}, "at most 1,000 characters"),
        ({"q": "refund", "page": "999999999"}, "first 1,000 results"),
    ):
        answer = web.get("/search", params=params)
        assert answer.status_code == 200 and message in answer.text, params
    odd = web.get(
        "/search",
        params={"q": "refund", "date_from": "not-a-date", "channel": "fax", "agent_id": "x"},
    )
    assert odd.status_code == 200  # unparsable filters are ignored, as the form never sends them
    fragment = web.get(
        "/search",
        params={"q": "REF-7731", "mode": "keyword"},
        headers={"HX-Request": "true", "HX-Target": "search-results"},
    )
    assert fragment.text.lstrip().startswith('<div id="search-results"')
    assert "<html" not in fragment.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_agent_finds_only_their_own_calls_on_the_page(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    ana = agent_of(create_user(company.id, "ana@acme.test", "agent", extension_id="301"))
    mine = add_chat(company.id, REFUND, agent_id=ana)
    theirs = add_chat(company.id, PROMO)
    web = sign_in(api_server.url, "ana@acme.test").client
    page = web.get("/search", params={"q": "help you", "mode": "keyword"})
    assert page.status_code == 200
    assert f'data-engagement-id="{mine}"' in page.text
    assert f'data-engagement-id="{theirs}"' not in page.text
