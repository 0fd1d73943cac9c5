"""Freshdesk's API v2 as a local server, from its public docs (developers.freshdesk.com/
api: Authentication, Rate limit, Pagination, Tickets, Conversations, Agents, Groups,
Satisfaction Ratings):

- Basic auth, the API key as user name and any password ("X"); a wrong key answers 401
  `{"code": "invalid_credentials", "message": "You have to be logged in to perform this
  action."}`.
- `GET /api/v2/tickets`: `updated_since` (ISO 8601), `order_by` (created_at, due_by,
  updated_at, status; default created_at), `order_type` (asc | desc, default desc),
  `per_page` (at most 100, default 30), `page`, `include=requester` (id, name, email,
  mobile, phone); a `Link: <url>; rel="next"` header while there are more. Without
  `updated_since`, only tickets created in the last 30 days.
- `GET /api/v2/tickets/{id}` (`include=requester`), `GET /api/v2/tickets/{id}/
  conversations` (paged the same way; `incoming`, `private`, `user_id`, `body_text`).
- `GET /api/v2/agents/me`, `GET /api/v2/agents/{id}` (`contact`: name, email),
  `GET /api/v2/groups/{id}`, `GET /api/v2/surveys/satisfaction_ratings` (`created_since`,
  `user_id`; `ratings.default_question` 103 .. -103).
- 429 with `Retry-After` (seconds) past the plan's rate limit.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlencode

from tests.connectors.fakes import FakeServer


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class FContact:
    id: int
    name: str
    email: str
    phone: str | None = None
    mobile: str | None = None


@dataclass
class FConversation:
    id: int
    user_id: int
    body_text: str
    created_at: datetime
    incoming: bool = False
    private: bool = False


@dataclass
class FTicket:
    id: int
    requester_id: int
    description_text: str
    created_at: datetime
    updated_at: datetime
    responder_id: int | None = None
    group_id: int | None = None
    subject: str = "Cannot log in"
    status: int = 2
    priority: int = 1
    source: int = 1
    tags: list[str] = field(default_factory=list)
    conversations: list[FConversation] = field(default_factory=list)


class FakeFreshdesk(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.api_key = secrets.token_urlsafe(15)
        self.contacts: dict[int, FContact] = {}
        self.agents: dict[int, FContact] = {}
        self.me_id = 0
        self.groups: dict[int, str] = {}
        self.tickets: dict[int, FTicket] = {}
        self.ratings: list[dict[str, Any]] = []
        self.rate_limited = 0
        self.retry_after = "1"
        self.broken: set[int] = set()

    @property
    def base_url(self) -> str:
        return self.origin

    def add_ticket(self, ticket: FTicket) -> FTicket:
        self.tickets[ticket.id] = ticket
        return ticket

    def add_conversation(self, ticket_id: int, conversation: FConversation) -> None:
        ticket = self.tickets[ticket_id]
        ticket.conversations.append(conversation)
        ticket.updated_at = max(ticket.updated_at, conversation.created_at)

    # -- the API ------------------------------------------------------------------------

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self.send(
                req,
                429,
                b'{"message": "You have exceeded the limit of requests per minute"}',
                headers={"Retry-After": self.retry_after},
            )
        expected = "Basic " + base64.b64encode(f"{self.api_key}:X".encode()).decode()
        if req.headers.get("Authorization") != expected:
            return self.json(
                req,
                401,
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        parts = path.strip("/").split("/")  # api v2 <resource> [id] [sub]
        if parts[:2] != ["api", "v2"] or len(parts) < 3:
            return self._not_found(req)
        resource, rest = parts[2], parts[3:]
        if resource == "agents" and len(rest) == 1:
            agent = self.agents.get(self.me_id if rest[0] == "me" else _int(rest[0]))
            if agent is None:
                return self._not_found(req)
            return self.json(req, 200, self._agent(agent))
        if resource == "groups" and len(rest) == 1:
            name = self.groups.get(_int(rest[0]))
            if name is None:
                return self._not_found(req)
            return self.json(req, 200, {"id": _int(rest[0]), "name": name})
        if resource == "surveys" and rest == ["satisfaction_ratings"]:
            return self._ratings(req, path, q)
        if resource == "tickets" and not rest:
            return self._list(req, path, q)
        if resource == "tickets":
            ticket = self.tickets.get(_int(rest[0]))
            if ticket is None:
                return self._not_found(req)
            if ticket.id in self.broken:
                return self.send(req, 503, b"Service Unavailable", "text/plain")
            if len(rest) == 1:
                return self.json(
                    req, 200, self._ticket(ticket, "requester" in q.get("include", ""))
                )
            if rest[1:] == ["conversations"]:
                return self._conversations(req, path, ticket, q)
        return self._not_found(req)

    def _not_found(self, req: BaseHTTPRequestHandler) -> None:
        self.send(req, 404, b"", "application/json")

    @staticmethod
    def _agent(agent: FContact) -> dict[str, Any]:
        return {
            "id": agent.id,
            "available": True,
            "occasional": False,
            "contact": {"name": agent.name, "email": agent.email, "active": True},
        }

    def _ticket(self, ticket: FTicket, requester: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": ticket.id,
            "subject": ticket.subject,
            "description": f"<div>{ticket.description_text}</div>",
            "description_text": ticket.description_text,
            "requester_id": ticket.requester_id,
            "responder_id": ticket.responder_id,
            "group_id": ticket.group_id,
            "status": ticket.status,
            "priority": ticket.priority,
            "source": ticket.source,
            "type": "Question",
            "tags": ticket.tags,
            "spam": False,
            "created_at": iso(ticket.created_at),
            "updated_at": iso(ticket.updated_at),
        }
        if requester:
            c = self.contacts[ticket.requester_id]
            body["requester"] = {
                "id": c.id,
                "name": c.name,
                "email": c.email,
                "mobile": c.mobile,
                "phone": c.phone,
            }
        return body

    def _paged(
        self,
        req: BaseHTTPRequestHandler,
        path: str,
        q: dict[str, str],
        items: list[Any],
        default_size: int = 30,
    ) -> None:
        size = int(q.get("per_page") or default_size)
        page = int(q.get("page") or 1)
        if not 1 <= size <= 100 or page < 1:
            return self.json(
                req,
                400,
                {"description": "Validation failed", "errors": [{"field": "per_page"}]},
            )
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if len(items) > page * size:
            link = f"{self.origin}{path}?{urlencode({**q, 'page': page + 1})}"
            headers["Link"] = f'<{link}>; rel="next"'
        self.send(req, 200, json.dumps(chunk).encode(), headers=headers)

    def _list(self, req: BaseHTTPRequestHandler, path: str, q: dict[str, str]) -> None:
        tickets = list(self.tickets.values())
        if q.get("updated_since"):
            since = parse_iso(q["updated_since"])
            tickets = [t for t in tickets if t.updated_at >= since]
        else:
            month = datetime.now(UTC) - timedelta(days=30)
            tickets = [t for t in tickets if t.created_at >= month]
        key = q.get("order_by") or "created_at"
        if key not in ("created_at", "updated_at", "due_by", "status"):
            return self.json(req, 400, {"description": "Validation failed"})
        tickets.sort(key=lambda t: (getattr(t, key, t.created_at), t.id))
        if (q.get("order_type") or "desc") == "desc":
            tickets.reverse()
        include = "requester" in (q.get("include") or "")
        self._paged(req, path, q, [self._ticket(t, include) for t in tickets])

    def _conversations(
        self, req: BaseHTTPRequestHandler, path: str, ticket: FTicket, q: dict[str, str]
    ) -> None:
        items = [
            {
                "id": c.id,
                "body": f"<div>{c.body_text}</div>",
                "body_text": c.body_text,
                "incoming": c.incoming,
                "private": c.private,
                "user_id": c.user_id,
                "ticket_id": ticket.id,
                "source": 2 if c.private else 0,
                "created_at": iso(c.created_at),
                "updated_at": iso(c.created_at),
            }
            for c in sorted(ticket.conversations, key=lambda c: (c.created_at, c.id))
        ]
        self._paged(req, path, q, items)

    def _ratings(self, req: BaseHTTPRequestHandler, path: str, q: dict[str, str]) -> None:
        items = list(self.ratings)
        if q.get("created_since"):
            since = parse_iso(q["created_since"])
            items = [r for r in items if parse_iso(r["created_at"]) >= since]
        if q.get("user_id"):
            items = [r for r in items if str(r["user_id"]) == q["user_id"]]
        self._paged(req, path, q, items)


def _int(value: str) -> int:
    return int(value) if value.isdigit() else -1
