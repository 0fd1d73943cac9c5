"""The permission matrix of docs/permissions.md, cell by cell, through the API: each
action is tried by a session of every role, a company API key and an OAuth app's token,
and must be allowed or refused exactly as the matrix says."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count

import httpx
import pytest

from callscribe.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import (
    create_user,
    insert_transcribed_call,
    sign_in,
)

KINDS = ("admin", "manager", "reviewer", "agent", "api_key", "oauth_token")
# what each kind may do: a session has its role's row; keys and tokens act as admins,
# except that an app's token manages no OAuth apps
EXPECTED: dict[str, frozenset[Permission]] = {
    **{role.value: ROLE_PERMISSIONS[role] for role in Role},
    "api_key": ROLE_PERMISSIONS[Role.ADMIN],
    "oauth_token": ROLE_PERMISSIONS[Role.ADMIN] - {Permission.OAUTH_APPS_MANAGE},
}


@dataclass
class Caller:
    kind: str
    client: httpx.Client
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kw: object) -> httpx.Response:
        return self.client.request(method, path, headers=self.headers, **kw)  # type: ignore[arg-type]


@dataclass
class World:
    server: LiveServer
    company: CompanyCtx
    callers: dict[str, Caller]
    other_agent: uuid.UUID
    serial: Iterator[int] = field(default_factory=lambda: count(1))

    def company_client(self) -> httpx.Client:
        return self.server.client(headers=self.company.headers)


@pytest.fixture
def world(api_server: LiveServer, company: CompanyCtx) -> Iterator[World]:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    callers: dict[str, Caller] = {}
    for n, role in enumerate(Role):
        create_user(company.id, f"{role}@acme.test", role, extension_id=f"10{n}")
        web = sign_in(api_server.url, f"{role}@acme.test")
        callers[role.value] = Caller(role.value, web.client, {"X-CSRF-Token": web.csrf})
    callers["api_key"] = Caller("api_key", api_server.client(), company.headers)
    with api_server.client() as c:
        app = c.post("/api/oauth/apps", json={"name": "Dialer"}, headers=company.headers).json()
        token = c.post(
            "/api/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["clientId"],
                "client_secret": app["clientSecret"],
            },
        ).json()["access_token"]
    callers["oauth_token"] = Caller(
        "oauth_token", api_server.client(), {"Authorization": f"Bearer {token}"}
    )
    with session_scope() as s:
        other = accounts.upsert_agent(s, company.id, name="Olga Other", email="olga@acme.test")
        other_id = other.id
    yield World(api_server, company, callers, other_id)
    for caller in callers.values():
        caller.client.close()


def _fresh_app(world: World) -> str:
    with world.company_client() as c:
        r = c.post("/api/oauth/apps", json={"name": f"App {next(world.serial)}"})
        assert r.status_code == 201, r.text
        return r.json()["id"]


def _turn_with_card(world: World) -> int:
    """A turn of a call every caller may see, holding a card number."""
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope
    from tests.conftest import insert_text_engagement

    call_id = insert_text_engagement(
        world.company.id, [("customer", "my card is 4111 1111 1111 1111")], agent_id=None
    )
    with session_scope() as s:
        turn = s.scalars(select(Turn).where(Turn.engagement_id == call_id)).one()
        return turn.id


def _chat(world: World) -> str:
    from tests.conftest import insert_text_engagement

    return str(insert_text_engagement(world.company.id, [("customer", "Where is my card?")]))


def _bookmark(world: World) -> str:
    with world.company_client() as c:
        return next(t["id"] for t in c.get("/api/tags").json() if t["name"] == "Bookmark")


def _disputed_review(world: World) -> str:
    """A review of a call every caller may see, disputed by the company's API key."""
    with world.company_client() as c:
        made = c.post(
            "/api/reviews", json={"engagement_id": _chat(world), "tag_id": _bookmark(world)}
        )
        assert made.status_code == 201, made.text
        review = made.json()["id"]
        disputed = c.post(f"/api/reviews/{review}/dispute", json={"comment": "no"})
        assert disputed.status_code == 200, (disputed.text, made.text)
        return review


# action: (permission, attempt(world, caller) -> response, status when allowed, when refused)
Attempt = Callable[[World, Caller], httpx.Response]
ACTIONS: dict[str, tuple[Permission, Attempt, int, int]] = {
    "read another agent's call": (
        Permission.CALLS_VIEW_ALL,
        lambda w, c: c.request(
            "GET",
            f"/api/calls/{insert_transcribed_call(w.company.id, agent_id=w.other_agent)}",
        ),
        200,
        404,
    ),
    "add a ticket as another agent": (
        Permission.CALLS_ATTRIBUTE_ANY,
        lambda w, c: c.request(
            "POST",
            "/api/tickets",
            json={
                "channel": "chat",
                "external_id": f"chat-{c.kind}",
                "agent": {"email": "olga@acme.test"},
                "messages": [{"role": "customer", "text": "My parcel never came."}],
            },
        ),
        201,
        403,
    ),
    "add a customer": (
        Permission.CUSTOMERS_WRITE,
        lambda w, c: c.request(
            "POST",
            "/api/customers",
            json={"name": f"Customer {c.kind}", "email": f"{c.kind}@customers.test"},
        ),
        201,
        403,
    ),
    "set the customer stages": (
        Permission.CRM_CONFIGURE,
        lambda w, c: c.request(
            "PUT", "/api/customers/stages", json={"stages": ["lead", "customer"]}
        ),
        200,
        403,
    ),
    "list the connector types": (
        Permission.CONNECTORS_MANAGE,
        lambda w, c: c.request("GET", "/api/connectors/types"),
        200,
        403,
    ),
    "list the automations": (
        Permission.AUTOMATIONS_MANAGE,
        lambda w, c: c.request("GET", "/api/automations"),
        200,
        403,
    ),
    "set the private delivery targets": (
        Permission.AUTOMATIONS_MANAGE,
        lambda w, c: c.request(
            "PUT", "/api/settings/private-targets", json={"hosts": ["10.20.0.0/16"]}
        ),
        200,
        403,
    ),
    "change the AI settings": (
        Permission.SETTINGS_AI_WRITE,
        lambda w, c: c.request(
            "PUT", "/api/settings/ai", json={"outcome_labels": ["resolved", "escalated"]}
        ),
        200,
        403,
    ),
    "reveal a masked PII value": (
        Permission.PII_REVEAL,
        lambda w, c: c.request(
            "POST", f"/api/turns/{_turn_with_card(w)}/reveal", json={"index": 0}
        ),
        200,
        403,
    ),
    "read the PII reveal log": (
        Permission.PII_AUDIT,
        lambda w, c: c.request("GET", "/api/privacy/reveals"),
        200,
        403,
    ),
    "create an OAuth app": (
        Permission.OAUTH_APPS_MANAGE,
        lambda w, c: c.request("POST", "/api/oauth/apps", json={"name": f"By {c.kind}"}),
        201,
        403,
    ),
    "revoke an OAuth app": (
        Permission.OAUTH_APPS_MANAGE,
        lambda w, c: c.request("DELETE", f"/api/oauth/apps/{_fresh_app(w)}"),
        200,
        403,
    ),
    "add a review tag": (
        Permission.FORMS_MANAGE,
        lambda w, c: c.request(
            "POST", "/api/tags", json={"name": f"Tag by {c.kind}", "levels": ["engagement"]}
        ),
        201,
        403,
    ),
    "review an engagement": (
        Permission.REVIEWS_WRITE,
        lambda w, c: c.request(
            "POST", "/api/reviews", json={"engagement_id": _chat(w), "tag_id": _bookmark(w)}
        ),
        201,
        403,
    ),
    "resolve a dispute": (
        Permission.REVIEWS_RESOLVE,
        lambda w, c: c.request(
            "POST", f"/api/reviews/{_disputed_review(w)}/resolve", json={"outcome": "rejected"}
        ),
        200,
        403,
    ),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_principal_kind_is_allowed_or_refused_as_the_matrix_says(
    world: World, action: str
) -> None:
    permission, attempt, allowed, refused = ACTIONS[action]
    wrong = []
    for kind in KINDS:
        answer = attempt(world, world.callers[kind])
        want = allowed if permission in EXPECTED[kind] else refused
        if answer.status_code != want:
            wrong.append(f"{kind}: {answer.status_code} (want {want}) {answer.text[:200]}")
    assert wrong == []


def test_a_refused_ticket_is_not_stored(world: World) -> None:
    """GIVEN an agent who names another agent on a ticket THEN it is refused and nothing
    of it is kept (the request's transaction rolls back)."""
    from sqlalchemy import func, select

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    agent = world.callers["agent"]
    body = {
        "channel": "chat",
        "external_id": "chat-olga",
        "agent": {"email": "olga@acme.test"},
        "messages": [{"role": "customer", "text": "Hello?"}],
    }
    assert agent.request("POST", "/api/tickets", json=body).status_code == 403
    with session_scope() as s:
        stored = s.scalar(select(func.count()).select_from(Engagement))
    assert stored == 0
    # as themselves (no agent named: the ticket is theirs) it is accepted
    mine = {**body, "external_id": "chat-mine", "agent": None}
    assert agent.request("POST", "/api/tickets", json=mine).status_code == 201


def test_an_apps_token_cannot_revoke_another_app(world: World) -> None:
    victim = _fresh_app(world)
    token = world.callers["oauth_token"]
    assert token.request("DELETE", f"/api/oauth/apps/{victim}").status_code == 403
    with world.company_client() as c:
        listed = {a["id"]: a for a in c.get("/api/oauth/apps").json()}
        assert listed[victim]["revoked_at"] is None
        # the company's key can
        assert c.delete(f"/api/oauth/apps/{victim}").status_code == 200
        listed = {a["id"]: a for a in c.get("/api/oauth/apps").json()}
        assert listed[victim]["revoked_at"]
