"""The Minutes card in Chromium: the outcome label reads as the company wrote it, with
only its first letter raised ("Follow-up needed"), never title-cased ("Follow-Up Needed";
issue 18)."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, insert_transcribed_call, sign_in_page

OUTCOME_JS = """() => [...document.querySelectorAll('.minutes-facts div')]
  .find(d => d.querySelector('small').innerText.toLowerCase() === 'outcome')
  .querySelector('strong').innerText"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("label", "shown"),
    [("follow-up needed", "Follow-up needed"), ("sent to CRM team", "Sent to CRM team")],
)
def test_the_outcome_label_shows_as_written_with_a_capital_first_letter(
    api_server: LiveServer, company: CompanyCtx, chromium, label: str, shown: str
) -> None:  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Minutes
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    create_user(company.id, "ann@acme.test", "admin")
    call_id = insert_transcribed_call(company.id)
    assert process_call(call_id) == "completed"
    with session_scope() as s:
        minutes = s.get(Minutes, call_id)
        assert minutes is not None
        minutes.outcome = label
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in_page(page, api_server.url, "ann@acme.test")
        page.goto(f"{api_server.url}/calls/{call_id}")
        page.wait_for_selector(".minutes-facts")
        assert page.evaluate(OUTCOME_JS) == shown
    finally:
        context.close()
