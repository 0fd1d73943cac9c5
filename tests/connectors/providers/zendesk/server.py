"""Zendesk Support's REST API as a local server, from its public docs
(developer.zendesk.com: Incremental Exports, Tickets, Ticket Comments, Users, Groups,
Rate limits, Verifying webhook authenticity):

- Basic auth `{email}/token:{api_token}`; a wrong one answers 401
  `{"error": "Couldn't authenticate you"}`; a non-admin gets 403 from the exports.
- `GET /api/v2/incremental/tickets/cursor.json`: `start_time` (epoch, items changed at
  or after it) or `cursor`; `per_page` (at most 1000); leaves out what changed in the
  last minute; answers `tickets`, `after_cursor`, `after_url`, `end_of_stream`.
- `GET /api/v2/tickets/{id}.json?include=users,groups`, `GET /api/v2/tickets/{id}/
  comments.json?include=users` (offset pages, `next_page` an absolute URL).
- 429 with `Retry-After` (seconds) when rate limited.
- Webhooks: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(signing secret,
  timestamp + body)), `X-Zendesk-Webhook-Signature-Timestamp` ISO 8601.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.connectors.fakes import FakeServer

EXPORT = "/api/v2/incremental/tickets/cursor.json"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ZUser:
    id: int
    name: str
    email: str
    role: str = "end-user"  # end-user | agent | admin
    phone: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "phone": self.phone,
            "active": True,
        }


@dataclass
class ZComment:
    id: int
    author_id: int
    body: str
    created_at: datetime
    public: bool = True


@dataclass
class ZTicket:
    id: int
    requester_id: int
    created_at: datetime
    updated_at: datetime
    assignee_id: int | None = None
    group_id: int | None = None
    subject: str = "Order did not arrive"
    status: str = "open"
    priority: str | None = "normal"
    type: str | None = "question"
    tags: list[str] = field(default_factory=list)
    satisfaction: dict[str, Any] | None = None
    comments: list[ZComment] = field(default_factory=list)

    def json(self, origin: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{origin}/api/v2/tickets/{self.id}.json",
            "subject": self.subject,
            "description": self.comments[0].body if self.comments else "",
            "status": self.status,
            "priority": self.priority,
            "type": self.type,
            "tags": self.tags,
            "requester_id": self.requester_id,
            "submitter_id": self.requester_id,
            "assignee_id": self.assignee_id,
            "group_id": self.group_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "generated_timestamp": int(self.updated_at.timestamp()),
            "satisfaction_rating": self.satisfaction,
            "via": {"channel": "email", "source": {}},
        }


class FakeZendesk(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.email = "admin@acme.test"
        self.api_token = secrets.token_urlsafe(30)
        self.signing_secret = secrets.token_urlsafe(32)
        self.users: dict[int, ZUser] = {}
        self.groups: dict[int, str] = {}
        self.tickets: dict[int, ZTicket] = {}
        self.max_per_page = 1000
        self.comments_per_page = 100
        self.rate_limited = 0  # answer this many next requests 429
        self.retry_after = "1"
        self.broken: set[int] = set()  # tickets whose reads answer 503

    @property
    def base_url(self) -> str:
        return self.origin

    # -- what the tests set up ----------------------------------------------------------

    def add_user(self, user: ZUser) -> ZUser:
        self.users[user.id] = user
        return user

    def add_ticket(self, ticket: ZTicket) -> ZTicket:
        self.tickets[ticket.id] = ticket
        return ticket

    def add_comment(self, ticket_id: int, comment: ZComment) -> None:
        ticket = self.tickets[ticket_id]
        ticket.comments.append(comment)
        ticket.updated_at = max(ticket.updated_at, comment.created_at)

    def sign(self, body: bytes, timestamp: str, secret: str | None = None) -> str:
        key = (secret or self.signing_secret).encode()
        digest = hmac.new(key, timestamp.encode() + body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # -- the API ------------------------------------------------------------------------

    def _authorized(self, req: BaseHTTPRequestHandler) -> ZUser | None:
        expected = base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()
        if req.headers.get("Authorization") != f"Basic {expected}":
            return None
        return next((u for u in self.users.values() if u.email == self.email), None)

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self.send(
                req,
                429,
                b'{"error": "APIRateLimitExceeded"}',
                headers={"Retry-After": self.retry_after},
            )
        me = self._authorized(req)
        if me is None:
            return self.json(req, 401, {"error": "Couldn't authenticate you"})
        if path == "/api/v2/users/me.json":
            return self.json(req, 200, {"user": me.json()})
        if path == "/api/v2/incremental/tickets/cursor.json":
            if me.role != "admin":
                return self.json(
                    req, 403, {"error": "Forbidden", "description": "You do not have access"}
                )
            return self._export(req, q)
        parts = path.split("/")
        # /api/v2/tickets/{id}.json and /api/v2/tickets/{id}/comments.json
        if len(parts) >= 5 and parts[3] == "tickets":
            ticket_id = int(parts[4].removesuffix(".json")) if parts[4][0].isdigit() else -1
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return self.json(req, 404, {"error": "RecordNotFound", "description": "Not found"})
            if ticket_id in self.broken:
                return self.send(req, 503, b"Service Unavailable", "text/plain")
            if len(parts) == 5:
                return self._ticket(req, ticket, q)
            if parts[5] == "comments.json":
                return self._comments(req, ticket, q)
        return self.json(req, 404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _export(self, req: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        per_page = min(int(q.get("per_page") or 1000), 1000, self.max_per_page)
        horizon = datetime.now(UTC) - timedelta(minutes=1)  # the last minute is left out
        order = sorted(
            (t for t in self.tickets.values() if t.updated_at <= horizon),
            key=lambda t: (int(t.updated_at.timestamp()), t.id),
        )
        if "cursor" in q:
            try:
                stamp, _, last_id = base64.b64decode(q["cursor"]).decode().partition("|")
                after = (int(stamp), int(last_id))
            except ValueError:
                return self.json(req, 400, {"error": "InvalidCursor"})
            rest = [t for t in order if (int(t.updated_at.timestamp()), t.id) > after]
        elif "start_time" in q:
            start = int(q["start_time"])
            if start > int(horizon.timestamp()):
                return self.json(
                    req,
                    400,
                    {"error": "InvalidValue", "description": "Too recent start_time."},
                )
            after = (start, -1)
            rest = [t for t in order if int(t.updated_at.timestamp()) >= start]
        else:
            return self.json(req, 400, {"error": "InvalidValue", "description": "start_time"})
        chunk = rest[:per_page]
        if chunk:
            last = chunk[-1]
            after = (int(last.updated_at.timestamp()), last.id)
        cursor = base64.b64encode(f"{after[0]}|{after[1]}".encode()).decode()
        self.json(
            req,
            200,
            {
                "tickets": [t.json(self.origin) for t in chunk],
                "after_cursor": cursor,
                "after_url": f"{self.origin}{EXPORT}?cursor={cursor}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": len(rest) <= per_page,
            },
        )

    def _sideloads(self, ids: set[int | None]) -> list[dict[str, Any]]:
        return [self.users[i].json() for i in sorted(i for i in ids if i in self.users)]

    def _ticket(self, req: BaseHTTPRequestHandler, ticket: ZTicket, q: dict[str, str]) -> None:
        include = set((q.get("include") or "").split(","))
        body: dict[str, Any] = {"ticket": ticket.json(self.origin)}
        if "users" in include:
            body["users"] = self._sideloads({ticket.requester_id, ticket.assignee_id})
        if "groups" in include:
            body["groups"] = [
                {"id": ticket.group_id, "name": self.groups[ticket.group_id]}
                for _ in [0]
                if ticket.group_id in self.groups
            ]
        self.json(req, 200, body)

    def _comments(self, req: BaseHTTPRequestHandler, ticket: ZTicket, q: dict[str, str]) -> None:
        page = int(q.get("page") or 1)
        size = min(int(q.get("per_page") or self.comments_per_page), 100)
        ordered = sorted(ticket.comments, key=lambda c: (c.created_at, c.id))
        if q.get("sort_order") == "desc":
            ordered.reverse()
        chunk = ordered[(page - 1) * size : page * size]
        more = len(ordered) > page * size
        body: dict[str, Any] = {
            "comments": [
                {
                    "id": c.id,
                    "type": "Comment",
                    "author_id": c.author_id,
                    "body": c.body,
                    "html_body": f"<p>{c.body}</p>",
                    "plain_body": c.body,
                    "public": c.public,
                    "created_at": iso(c.created_at),
                    "attachments": [],
                }
                for c in chunk
            ],
            "next_page": (
                f"{self.origin}/api/v2/tickets/{ticket.id}/comments.json?page={page + 1}"
                f"&per_page={size}&include=users&sort_order={q.get('sort_order', 'asc')}"
            )
            if more
            else None,
            "previous_page": None,
            "count": len(ordered),
        }
        if "users" in (q.get("include") or ""):
            body["users"] = self._sideloads({c.author_id for c in chunk})
        self.json(req, 200, body)
