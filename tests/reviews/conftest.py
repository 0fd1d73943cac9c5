"""An in-process app (TestClient) with a company, users of every role signed in through
the real login form, and chats of real BANKING77 utterances."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CompanyCtx, insert_text_engagement
from tests.web.conftest import PASSWORD, create_user, csrf_from

BANKING = Path(__file__).resolve().parents[1] / "data" / "banking77" / "subset.csv"


def banking() -> list[tuple[str, str]]:
    """(text, intent) of the copied subset, in file order."""
    with BANKING.open(newline="") as fh:
        return [(row["text"], row["category"]) for row in csv.DictReader(fh)]


def signed_in(app: object, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    csrf = csrf_from(client.get("/login").text)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 303, answer.text[:300]
    client.headers["X-CSRF-Token"] = csrf_from(client.get("/reviews").text)
    return client


@dataclass
class World:
    company: CompanyCtx
    api: TestClient  # the company's API key (acts as an admin)
    app: object
    agent: uuid.UUID  # extension 301: the agent of the user "agent" once signed in
    other_agent: uuid.UUID  # Olga, extension 302 (no user)
    clients: dict[str, TestClient] = field(default_factory=dict)

    def as_role(self, role: str) -> TestClient:
        """A session of a user of `role` (created on first use: argon2 is slow)."""
        if role not in self.clients:
            create_user(
                self.company.id,
                f"{role}@acme.test",
                role,
                extension_id="301" if role == "agent" else None,
            )
            self.clients[role] = signed_in(self.app, f"{role}@acme.test")
        return self.clients[role]

    def chat(self, texts: list[str], agent_id: uuid.UUID | None | str = "own") -> uuid.UUID:
        """A chat of the customer's `texts`, each answered by the agent; `agent_id`
        None: no agent; by default the agent user's own agent."""
        turns = []
        for text in texts:
            turns += [("customer", text), ("agent", "Thanks, let me look into that for you.")]
        agent = self.agent if agent_id == "own" else agent_id
        return insert_text_engagement(
            self.company.id, turns, agent_id=agent, customer_name="Pat Doe"
        )


@pytest.fixture
def world(company: CompanyCtx) -> Iterator[World]:
    from callscribe.accounts import service as accounts
    from callscribe.app import create_app
    from callscribe.db import session_scope

    with session_scope() as s:
        agent = accounts.upsert_agent(s, company.id, name="Agent", extension_id="301").id
        olga = accounts.upsert_agent(s, company.id, name="Olga", extension_id="302").id
    app = create_app()
    with TestClient(app) as api:
        api.headers.update(company.headers)
        yield World(company, api, app, agent, olga)


def turn_ids(engagement_id: uuid.UUID) -> list[int]:
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.db import session_scope

    with session_scope() as s:
        return list(
            s.scalars(select(Turn.id).where(Turn.engagement_id == engagement_id).order_by(Turn.seq))
        )
