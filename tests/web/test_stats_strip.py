"""The call page's conversation stats strip and its timeline of who spoke when."""

from __future__ import annotations

import html
import json
import re

from tests.conftest import CompanyCtx
from tests.web.conftest import WebClient, create_user, csrf_from, insert_transcribed_call


def test_the_call_page_shows_the_stats_strip_and_the_timeline(company: CompanyCtx) -> None:
    from fastapi.testclient import TestClient

    from callscribe.app import create_app
    from callscribe.pipeline.runner import process_call

    call_id = insert_transcribed_call(company.id, customer_name="Harper")
    create_user(company.id, "ann@acme.test", "admin")
    with TestClient(create_app(), base_url="https://testserver", follow_redirects=False) as tc:
        web = WebClient(tc)
        web.csrf = csrf_from(tc.get("/login").text)
        answer = web.post_form(
            "/login", {"email": "ann@acme.test", "password": "correct horse battery"}
        )
        assert answer.status_code == 303, answer.text[:300]
        before = tc.get(f"/calls/{call_id}").text
        assert 'data-testid="stats-strip"' not in before  # no stats before the step
        assert process_call(call_id) == "completed"
        page = tc.get(f"/calls/{call_id}").text
        api = tc.get(f"/api/calls/{call_id}").json()
    assert 'data-testid="stats-strip"' in page
    assert "js/stats.js" in page
    questions = re.search(r'data-testid="stat-questions-agent">(\d+)<', page)
    assert questions and int(questions.group(1)) == api["stats"]["questions"]["agent"]
    found = re.search(r'data-timeline="([^"]+)"', page)
    assert found
    timeline = json.loads(html.unescape(found.group(1)))
    assert {s[0] for s in timeline["spans"]} == {"agent", "customer"}
    assert len(timeline["spans"]) == len(api["turns"])
    assert timeline["end_ms"] >= max(s[2] for s in timeline["spans"])
