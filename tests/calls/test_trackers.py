"""Trackers: stemmed and exact matching on whole words, by role; the CRUD API with its
errors; the Trackers step storing matches and `facts.tracker_<name>` counts."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, insert_text_engagement


def test_stemmed_and_exact_matching_on_whole_words() -> None:
    from callscribe.calls.trackers import find_terms

    text = "I'm cancelling my accounts today. Acme's offer? Acme is cheaper than Globex."
    stemmed = find_terms(text, ["cancel my account", "acme"], "stem")
    assert [(f.term, text[f.start : f.end]) for f in stemmed] == [
        ("cancel my account", "cancelling my accounts"),
        ("acme", "Acme's"),  # the possessive stems to the name
        ("acme", "Acme"),
    ]
    exact = find_terms(text, ["cancel my account", "Acme is", "globex"], "exact")
    assert [(f.term, text[f.start : f.end]) for f in exact] == [
        ("Acme is", "Acme is"),
        ("globex", "Globex"),
    ]
    assert find_terms("Acmes and Globexcorp", ["globex"], "exact") == []  # whole words only
    assert find_terms("", ["acme"], "stem") == []


def _client(company: CompanyCtx):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from callscribe.app import create_app

    client = TestClient(create_app())
    client.headers.update(company.headers)
    return client


def test_the_trackers_api_and_its_errors(company: CompanyCtx) -> None:
    with _client(company) as api:
        made = api.post(
            "/api/trackers",
            json={"name": "competitor", "terms": ["Acme", "Globex"], "roles": ["customer"]},
        )
        assert made.status_code == 201, made.text
        tracker = made.json()
        assert tracker["mode"] == "stem" and tracker["roles"] == ["customer"]
        assert (
            api.post("/api/trackers", json={"name": "competitor", "terms": ["x"]}).status_code
            == 409
        )
        for bad in (
            {"name": "Bad Name", "terms": ["x"]},
            {"name": "ok", "terms": []},
            {"name": "ok", "terms": ["..."]},
            {"name": "ok", "terms": ["x"], "roles": ["boss"]},
            {"name": "ok", "terms": ["x"], "mode": "fuzzy"},
            {"name": "ok", "terms": ["x" * 101]},
        ):
            answer = api.post("/api/trackers", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
        changed = api.patch(
            f"/api/trackers/{tracker['id']}", json={"mode": "exact", "terms": ["Acme Corp"]}
        )
        assert changed.status_code == 200 and changed.json()["terms"] == ["Acme Corp"]
        assert [t["name"] for t in api.get("/api/trackers").json()] == ["competitor"]
        assert api.delete(f"/api/trackers/{tracker['id']}").status_code == 204
        assert api.delete(f"/api/trackers/{tracker['id']}").status_code == 404
        assert api.get("/api/trackers").json() == []


def test_the_trackers_step_stores_matches_by_role_and_counts_them_as_facts(
    company: CompanyCtx,
) -> None:
    from callscribe.calls import trackers
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    with session_scope() as s:
        trackers.create_tracker(
            s, company.id, name="competitor", terms=["Acme", "Globex"], roles=["customer"]
        )
        trackers.create_tracker(s, company.id, name="cancel", terms=["cancel my account"])
        trackers.create_tracker(s, company.id, name="unused", terms=["zebra"])
        trackers.create_tracker(s, company.id, name="off", terms=["acme"], enabled=False)
    call_id = insert_text_engagement(
        company.id,
        [
            ("customer", "Globex offered me a better price, so I want to cancel my account."),
            ("agent", "Acme? No, Globex. I understand, before cancelling your account..."),
            ("customer", "Acme too. Please just cancel my accounts."),
        ],
    )
    assert process_call(call_id) == "completed"
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        facts = dict(call.facts)
        found = trackers.matches_of(s, call_id)
    # the agent's Acme/Globex are not counted: the tracker listens to the customer
    assert facts["tracker_competitor"] == 2 and facts["tracker_cancel"] == 2
    assert facts["tracker_unused"] == 0 and "tracker_off" not in facts
    assert [(m["tracker"], m["role"], m["turn_seq"]) for m in found] == [
        ("competitor", "customer", 0),  # in the order said
        ("cancel", "customer", 0),
        ("competitor", "customer", 2),
        ("cancel", "customer", 2),
    ]
    with _client(company) as api:
        shown = api.get(f"/api/calls/{call_id}/trackers").json()
    assert len(shown) == 4 and shown[0]["term"] == "Globex"
    # reprocessing replaces the matches, it does not add to them
    with session_scope() as s:
        s.get(Engagement, call_id).status = "received"  # type: ignore[union-attr]
    assert process_call(call_id) == "completed"
    with session_scope() as s:
        assert len(trackers.matches_of(s, call_id)) == 4


@pytest.mark.parametrize("mode", ["stem", "exact"])
def test_analytics_reads_tracker_counts_and_stats_facts(company: CompanyCtx, mode: str) -> None:
    from callscribe.calls import trackers
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    with session_scope() as s:
        trackers.create_tracker(s, company.id, name="rivals", terms=["Globex"], mode=mode)
    for text in ("Globex is cheaper. Globex!", "Is Globex better?", "No rivals here."):
        call_id = insert_text_engagement(company.id, [("customer", text)])
        assert process_call(call_id) == "completed"
    with _client(company) as api:
        for name, expression in (
            ("rivals_total", "SUM(facts.tracker_rivals)"),
            ("questions_total", "SUM(facts.questions_customer)"),
        ):
            made = api.post(
                "/api/metrics", json={"name": name, "label": name, "expression": expression}
            )
            assert made.status_code in (200, 201), made.text
        answer = api.post(
            "/api/metrics/query", json={"metrics": ["rivals_total", "questions_total"]}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"][0] == [3, 1]


def test_the_settings_page_adds_lists_and_deletes_trackers_and_the_call_page_shows_matches(
    company: CompanyCtx,
) -> None:
    from fastapi.testclient import TestClient

    from callscribe.app import create_app
    from callscribe.calls import trackers
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from tests.web.conftest import PASSWORD, WebClient, create_user, csrf_from

    create_user(company.id, "ann@acme.test", "admin")
    with TestClient(create_app(), base_url="https://testserver", follow_redirects=False) as tc:
        web = WebClient(tc)
        web.csrf = csrf_from(tc.get("/login").text)
        assert (
            web.post_form("/login", {"email": "ann@acme.test", "password": PASSWORD}).status_code
            == 303
        )
        web.refresh_csrf("/settings/trackers")
        added = web.post_form(
            "/settings/trackers",
            {"name": "competitor", "terms": "Acme, Globex", "mode": "exact", "roles": ["customer"]},
        )
        assert added.status_code == 303
        bad = web.post_form("/settings/trackers", {"name": "Not Valid", "terms": "x"})
        assert bad.status_code == 303
        page = tc.get("/settings/trackers").text
        assert page.count('data-testid="tracker-row"') == 1 and "Acme, Globex" in page
        with session_scope() as s:
            (tracker,) = trackers.list_trackers(s, company.id)
            assert tracker.roles == ["customer"] and tracker.mode == "exact"
        call_id = insert_text_engagement(company.id, [("customer", "Acme called me yesterday.")])
        assert process_call(call_id) == "completed"
        call_page = tc.get(f"/calls/{call_id}").text
        assert call_page.count('data-testid="tracker-match"') == 1 and "competitor" in call_page
        web.refresh_csrf("/settings/trackers")
        assert web.post_form(f"/settings/trackers/{tracker.id}/delete").status_code == 303
        assert 'data-testid="tracker-row"' not in tc.get("/settings/trackers").text


def test_the_journey_carries_each_engagements_tracker_counts(company: CompanyCtx) -> None:
    from datetime import UTC, datetime

    from callscribe.calls import trackers
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from tests.journey.conftest import chat_messages, customer, customer_of, ticket

    with session_scope() as s:
        trackers.create_tracker(s, company.id, name="refund", terms=["refund"])
        trackers.create_tracker(s, company.id, name="never", terms=["zebra crossing"])
    messages = chat_messages(0, datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    messages.append({"role": "customer", "text": "I want a refund, a full refund."})
    with _client(company) as api:
        call_id = ticket(
            api,
            {"channel": "chat", "external_id": "t1", "customer": customer(), "messages": messages},
        )
        assert process_call(call_id) == "completed"
        journey = api.get(f"/api/customers/{customer_of(call_id)}/journey").json()
    (engagement,) = [e for c in journey["conversations"] for e in c["engagements"]]
    expected = sum(len(trackers.find_terms(m["text"], ["refund"], "stem")) for m in messages)
    assert expected >= 2 and engagement["trackers"] == {"refund": expected}
