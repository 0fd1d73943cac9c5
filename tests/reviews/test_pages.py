"""The Reviews pages in process: the queue with its filters, coverage per agent (share
tagged Reviewed), the dispute inbox, the tags page and a tag's auto review, the forms
editor (admins and managers only), the menu link and the journey's Feedback panel."""

from __future__ import annotations

import re
import uuid

from tests.reviews.conftest import World
from tests.web.conftest import csrf_from


def reviewed_tag(world: World) -> str:
    tags = {t["name"]: t["id"] for t in world.api.get("/api/tags").json()}
    return tags["Reviewed"]


def test_queue_filters_coverage_and_menu(world: World) -> None:
    done = world.chat(["My card has not arrived yet."])
    todo = world.chat(["What is the exchange rate?"])
    theirs = world.chat(["I forgot my passcode."], agent_id=world.other_agent)
    answer = world.api.post(
        "/api/reviews", json={"engagement_id": str(done), "tag_id": reviewed_tag(world)}
    )
    assert answer.status_code == 201
    manager = world.as_role("manager")
    page = manager.get("/reviews").text
    assert '<a href="/reviews"' in page  # the menu
    for engagement in (done, todo, theirs):
        assert f'data-engagement="{engagement}"' in page
    unreviewed = manager.get("/reviews", params={"state": "unreviewed"}).text
    assert f'data-engagement="{done}"' not in unreviewed
    assert f'data-engagement="{todo}"' in unreviewed
    by_agent = manager.get("/reviews", params={"agent_id": str(world.other_agent)}).text
    assert f'data-engagement="{theirs}"' in by_agent and f'data-engagement="{todo}"' not in by_agent
    coverage = page[page.index('data-testid="coverage"') :]
    coverage = coverage[: coverage.index("</table>")]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td><td[^>]*>(\d+)%", coverage)
    assert ("Agent", "2", "1", "50") in rows and ("Olga", "1", "0", "0") in rows
    # an agent's queue holds only their own engagements, and no coverage table
    agent = world.as_role("agent").get("/reviews").text
    assert f'data-engagement="{todo}"' in agent and f'data-engagement="{theirs}"' not in agent
    assert 'data-testid="coverage"' not in agent


def test_tag_page_shows_auto_review_status(world: World) -> None:
    tag_id = world.api.post(
        "/api/tags",
        json={"name": "Card arrival", "polarity": "negative", "levels": ["customer_turn"]},
    ).json()["id"]
    reviewer = world.as_role("reviewer")
    listing = reviewer.get("/reviews/tags").text
    assert f'data-tag="{tag_id}"' in listing and "Card arrival" in listing
    assert 'data-testid="new-tag"' not in listing  # reviewers add no tags
    page = reviewer.get(f"/reviews/tags/{tag_id}").text
    assert "needs examples" in page and "Not trained yet." in page
    assert 'data-testid="auto-toggle"' not in page
    assert reviewer.get(f"/reviews/tags/{uuid.uuid4()}").status_code == 404
    manager = world.as_role("manager")
    page = manager.get(f"/reviews/tags/{tag_id}").text
    csrf = csrf_from(page)
    toggled = manager.post(
        f"/reviews/tags/{tag_id}/auto-review", data={"csrf_token": csrf, "enabled": "true"}
    )
    assert toggled.status_code == 303
    assert "on · needs examples" in manager.get(f"/reviews/tags/{tag_id}").text


def test_forms_editor_for_admins_and_managers(world: World) -> None:
    for role in ("reviewer", "agent"):
        assert world.as_role(role).get("/reviews/forms").status_code == 403
    manager = world.as_role("manager")
    page = manager.get("/reviews/forms").text
    csrf = csrf_from(page)
    made = manager.post(
        "/reviews/forms/questions",
        data={
            "csrf_token": csrf,
            "text": "Did the agent verify the caller?",
            "kind": "binary",
            "weight": "2",
            "critical": "on",
        },
    )
    assert made.status_code == 303
    question = world.api.get("/api/questions").json()[0]
    assert question["critical"] and question["weight"] == 2
    saved = manager.post(
        "/reviews/forms",
        data={
            "csrf_token": csrf,
            "name": "Compliance",
            "levels": ["engagement"],
            "s0_title": "Checks",
            "s0_kind": "auto_fail",
            "s0_weight": "1",
            "s0_questions": [question["id"]],
        },
    )
    assert saved.status_code == 303
    page = manager.get("/reviews/forms").text
    assert "Compliance" in page and "Checks (auto-fail, weight 1.0, 1 questions)" in page
    bad = manager.post(
        "/reviews/forms", data={"csrf_token": csrf, "name": "Empty", "levels": ["engagement"]}
    )
    assert bad.status_code == 303  # back to the editor with the error flashed
    assert [f["name"] for f in world.api.get("/api/forms").json()] == ["Compliance"]
    # edited on the page: a new version, with the section as it was offered again
    form_id = world.api.get("/api/forms").json()[0]["id"]
    editor = manager.get("/reviews/forms", params={"edit": form_id}).text
    assert 'data-testid="edit-form-editor"' in editor and 'value="Checks"' in editor
    assert f'<option value="{question["id"]}" selected>' in editor
    saved = manager.post(
        f"/reviews/forms/{form_id}",
        data={
            "csrf_token": csrf,
            "name": "Compliance v2",
            "levels": ["engagement", "agent_turn"],
            "s0_title": "Checks",
            "s0_kind": "auto_fail",
            "s0_weight": "1",
            "s0_questions": [question["id"]],
        },
    )
    assert saved.status_code == 303
    form = world.api.get(f"/api/forms/{form_id}").json()
    assert (form["name"], form["version"], form["levels"]) == (
        "Compliance v2",
        2,
        ["engagement", "agent_turn"],
    )
    bad_weight = manager.post(
        f"/reviews/forms/{form_id}",
        data={
            "csrf_token": csrf,
            "name": "x",
            "levels": ["engagement"],
            "s0_weight": "heavy",
            "s0_questions": [question["id"]],
        },
    )
    assert bad_weight.status_code == 303  # flashed, not a 500
    assert world.api.get(f"/api/forms/{form_id}").json()["version"] == 2


def test_journey_has_the_feedback_panel(world: World) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.crm.models import Customer
    from callscribe.db import session_scope

    chat = world.chat(["My card has not arrived yet."])
    with session_scope() as s:
        customer = Customer(company_id=world.company.id, name="Pat Doe")
        s.add(customer)
        s.flush()
        engagement = s.get(Engagement, chat)
        assert engagement is not None
        engagement.customer_id = customer.id
        customer_id = customer.id
    page = world.as_role("reviewer").get(f"/customers/{customer_id}/journey").text
    assert 'data-testid="feedback-panel"' in page and "js/feedback.js" in page
    assert (
        'data-testid="feedback-form-select"' in page and 'data-testid="engagement-reviews"' in page
    )
    assert 'data-slot="forms"' not in page  # the placeholder is gone
