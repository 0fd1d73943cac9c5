"""Freshdesk tickets: one text engagement per ticket (connectors.helpdesk).

- Sync: `GET /api/v2/tickets?updated_since=&order_by=updated_at&order_type=asc
  &per_page=100&page=N`, pages followed while the `Link` header has
  `rel="next"` (Freshdesk stops at page 300: the listing then starts again from the last
  `updated_at` seen). The cursor is the last `updated_at` (inclusive: the last ticket is
  seen again and found unchanged).
- A ticket: `GET /api/v2/tickets/{id}?include=requester`; its description is the first
  message (the requester's), then `GET /api/v2/tickets/{id}/conversations` (paged):
  `private` ones are internal notes, `incoming` ones the customer's, the rest agents'
  replies. The assignee (`responder_id`) from `GET /api/v2/agents/{id}`, the group from
  `GET /api/v2/groups/{id}`, the rating from `GET /api/v2/surveys/satisfaction_ratings`
  (`created_since` the ticket's creation, `user_id` its requester).
- Auth: Basic with the API key as user name and `X` as password.
- Webhook: an automation rule's "Trigger webhook" action, POST, with our generated
  secret in a custom header `X-Callscribe-Secret` and the JSON body
  `{"ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}", "event":
  "{{triggered_event}}"}` (the same body again is a re-delivery).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from callscribe.connectors.base import (
    AgentInfo,
    CallPage,
    CallRef,
    CredentialField,
    FetchedCall,
    ProviderAuthError,
    ProviderError,
    ProviderHTTP,
    WebhookDelivery,
    WebhookRequest,
)
from callscribe.connectors.helpdesk import (
    TicketMessage,
    TicketPerson,
    iso,
    parse_time,
    same_origin_path,
    ticket_call,
)
from callscribe.errors import BadRequest, ErrorCode, Unauthorized
from callscribe.security.crypto import constant_time_equals

PAGE_SIZE = 100  # Freshdesk's maximum
MAX_PAGE = 300  # Freshdesk's last page of a listing
MAX_CONVERSATION_PAGES = 30
INITIAL_LOOKBACK = timedelta(days=30)
WEBHOOK_HEADER = "X-Callscribe-Secret"
PAYLOAD_TEMPLATE = (
    '{"ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}", "event": "{{triggered_event}}"}'
)
STATUSES: dict[Any, str] = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITIES: dict[Any, str] = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
SOURCES: dict[Any, str] = {
    1: "email",
    2: "portal",
    3: "phone",
    5: "twitter",
    6: "facebook",
    7: "chat",
    9: "feedback_widget",
    10: "outbound_email",
}
_TICKET_ID = re.compile(r"^\d{1,19}$")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

WEBHOOK_INSTRUCTIONS = (
    "In Freshdesk Admin > Workflows > Automations > 'Ticket updates' (and 'Ticket "
    "creation'), add a rule whose action is 'Trigger webhook': request type POST, the URL "
    "above, 'Custom headers' on with the header and secret shown here "
    '({"X-Callscribe-Secret": "<secret>"}), encoding JSON, content "Advanced" with the body '
    "above."
)


def csat_word(rating: float) -> str:
    """Freshdesk's rating scale: 100 neutral, 101..103 happier, -101..-103 unhappier."""
    return "happy" if rating > 100 else "neutral" if rating == 100 else "unhappy"


class FreshdeskConnector:
    type: ClassVar[str] = "freshdesk"
    label: ClassVar[str] = "Freshdesk"
    default_base_url: ClassVar[str] = "https://yourdomain.freshdesk.com"
    base_url_help: ClassVar[str] = (
        "Your helpdesk address, https://{domain}.freshdesk.com (your domain in place of "
        "yourdomain)."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_key",
            "API key",
            help="Profile settings > 'View API Key' of an agent who can see all tickets.",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = WEBHOOK_HEADER
    webhook_payload_template: ClassVar[str] = PAYLOAD_TEMPLATE
    webhook_uses_secret: ClassVar[bool] = True
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.api_key = (credentials.get("api_key") or "").strip()
        self.http = ProviderHTTP("Freshdesk", base_url, [self.api_key])
        self._agents: dict[Any, dict[str, Any] | None] = {}
        self._groups: dict[Any, str | None] = {}

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        response = self.http.get(
            same_origin_path(path, self.http.base_url),
            params=params,
            headers={"Accept": "application/json"},
            auth=httpx.BasicAuth(self.api_key, "X"),
        )
        if response.status_code == 401:
            raise ProviderAuthError(
                "Freshdesk refused the API key (HTTP 401). Check it (Profile settings > View "
                "API Key) and that the agent is active.",
                transient=False,
            )
        if response.status_code == 403:
            raise ProviderAuthError(
                "Freshdesk does not let this agent read it (HTTP 403): use the API key of an "
                "agent who can see all tickets.",
                code=ErrorCode.PROVIDER_PERMISSION_DENIED,
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"Freshdesk has no {path.split('?', 1)[0]} (HTTP 404).",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            self.http.refused(response, transient_statuses=(408, 409, 425))
        return response

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json_of(self._get(path, params))

    def _json_of(self, response: httpx.Response) -> Any:
        return self.http.json_of(
            response, hint="check the Base URL (https://{domain}.freshdesk.com)."
        )

    def _pages(
        self, path: str, params: dict[str, Any], max_pages: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of a listing, following `Link: <...>; rel="next"`."""
        next_path: str | None = path
        query: dict[str, Any] | None = params
        for _ in range(max_pages):
            if not next_path:
                return
            response = self._get(next_path, query)
            body = self._json_of(response)
            yield (
                [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
            )
            match = _NEXT.search(response.headers.get("link", ""))
            next_path, query = (match.group(1) if match else None), None

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        if not self.api_key:
            raise ProviderAuthError("Enter the Freshdesk API key.", transient=False)
        me = self._json("/api/v2/agents/me") or {}
        contact = (me.get("contact") or {}) if isinstance(me, dict) else {}
        self._json("/api/v2/tickets", {"per_page": 1})
        who = contact.get("name") or contact.get("email") or "an agent"
        return f"Connected to Freshdesk as {who}: the API key works and tickets can be read."

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"updated_since": iso(last_seen)}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        since = parse_time((cursor or {}).get("updated_since")) or (
            datetime.now(UTC) - INITIAL_LOOKBACK
        )
        while True:
            params = {
                "updated_since": iso(since),
                "order_by": "updated_at",
                "order_type": "asc",
                "per_page": PAGE_SIZE,
                # no include=requester here (it costs an API credit a page): the ticket
                # is read with its requester when it is fetched
            }
            pages = 0
            last: datetime | None = None
            for tickets in self._pages("/api/v2/tickets", params, MAX_PAGE):
                pages += 1
                refs = [ref for t in tickets if (ref := self._ticket_ref(t)) is not None]
                last = max((r.created_at for r in refs if r.created_at), default=last)
                yield CallPage(refs)
            # Freshdesk lists 300 pages at most: go on from the last change seen
            if pages < MAX_PAGE or last is None or last <= since:
                return
            since = last

    @staticmethod
    def _ticket_ref(ticket: dict[str, Any]) -> CallRef | None:
        if ticket.get("id") is None or ticket.get("deleted") or ticket.get("spam"):
            return None
        return CallRef(
            external_id=str(ticket["id"]),
            created_at=parse_time(ticket.get("updated_at")) or parse_time(ticket.get("created_at")),
            data={"updated_at": ticket.get("updated_at")},
            updatable=True,
        )

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        ticket_id = ref.external_id
        try:
            ticket = self._json(f"/api/v2/tickets/{ticket_id}", {"include": "requester"}) or {}
        except ProviderError as exc:
            if exc.code == ErrorCode.PROVIDER_NOT_FOUND:
                raise ProviderError(
                    f"Freshdesk has no ticket {ticket_id} (deleted, or another helpdesk's).",
                    code=ErrorCode.PROVIDER_CALL_NOT_FOUND,
                    transient=False,
                ) from exc
            raise
        requester = ticket.get("requester") or {}
        requester_id = ticket.get("requester_id")
        created = parse_time(ticket.get("created_at"))
        messages = [
            TicketMessage(
                role="customer",
                text=str(ticket.get("description_text") or ""),
                author=requester.get("name"),
                sent_at=created,
            )
        ]
        for page in self._pages(
            f"/api/v2/tickets/{ticket_id}/conversations",
            {"per_page": PAGE_SIZE},
            MAX_CONVERSATION_PAGES,
        ):
            messages.extend(self._message(c, requester_id, requester) for c in page)
        assignee = self._agent(ticket.get("responder_id"))
        rating = self._rating(ticket_id, requester_id, created)
        facts: dict[str, float] = {}
        attributes: dict[str, Any] = {
            "status": STATUSES.get(ticket.get("status"), ticket.get("status")),
            "priority": PRIORITIES.get(ticket.get("priority"), ticket.get("priority")),
            "type": ticket.get("type"),
            "tags": ticket.get("tags"),
            "channel": SOURCES.get(ticket.get("source"), ticket.get("source")),
        }
        meta: dict[str, Any] = {"ticket_id": ticket_id, "updated_at": ticket.get("updated_at")}
        if rating is not None:
            value = (rating.get("ratings") or {}).get("default_question")
            if isinstance(value, int | float) and not isinstance(value, bool):
                facts["csat"] = float(value)
                attributes["csat"] = csat_word(float(value))
            if rating.get("feedback"):
                meta["csat_comment"] = str(rating["feedback"])[:1000]
        return ticket_call(
            provider="Freshdesk",
            ticket_id=ticket_id,
            messages=messages,
            created_at=created,
            requester=TicketPerson(
                external_id=str(requester_id),
                name=requester.get("name"),
                email=requester.get("email"),
                phone=requester.get("phone") or requester.get("mobile"),
            )
            if requester_id is not None
            else None,
            assignee=AgentInfo(
                external_id=str(ticket.get("responder_id")),
                name=str((assignee.get("contact") or {}).get("name") or ""),
            )
            if assignee
            else None,
            queue=self._group(ticket.get("group_id")),
            attributes=attributes,
            facts=facts,
            meta={"subject": ticket.get("subject"), "provider": meta},
        )

    def _message(
        self, conversation: dict[str, Any], requester_id: Any, requester: dict[str, Any]
    ) -> TicketMessage:
        user_id = conversation.get("user_id")
        incoming = bool(conversation.get("incoming"))
        if incoming:
            author = requester.get("name") if user_id == requester_id else None
        else:
            agent = self._agent(user_id)
            author = (agent.get("contact") or {}).get("name") if agent else None
        return TicketMessage(
            role="customer" if incoming else "agent",
            text=str(conversation.get("body_text") or ""),
            author=author,
            sent_at=parse_time(conversation.get("created_at")),
            internal=bool(conversation.get("private")),
        )

    def _agent(self, agent_id: Any) -> dict[str, Any] | None:
        if agent_id is None:
            return None
        if agent_id not in self._agents:
            try:
                found = self._json(f"/api/v2/agents/{agent_id}")
            except ProviderError as exc:
                if exc.transient:
                    raise
                found = None  # a deleted agent, or no permission to list agents
            self._agents[agent_id] = found if isinstance(found, dict) else None
        return self._agents[agent_id]

    def _group(self, group_id: Any) -> str | None:
        if group_id is None:
            return None
        if group_id not in self._groups:
            try:
                found = self._json(f"/api/v2/groups/{group_id}")
            except ProviderError as exc:
                if exc.transient:
                    raise
                found = None
            self._groups[group_id] = found.get("name") if isinstance(found, dict) else None
        return self._groups[group_id]

    def _rating(
        self, ticket_id: str, requester_id: Any, created: datetime | None
    ) -> dict[str, Any] | None:
        """The ticket's latest satisfaction rating; None when there is none, or the plan
        has no surveys (403/404)."""
        params: dict[str, Any] = {"per_page": PAGE_SIZE}
        if created is not None:
            params["created_since"] = iso(created)
        if requester_id is not None:
            params["user_id"] = requester_id
        ratings: list[dict[str, Any]] = []
        try:
            for page in self._pages("/api/v2/surveys/satisfaction_ratings", params, 10):
                ratings += [r for r in page if str(r.get("ticket_id")) == ticket_id]
        except ProviderError as exc:
            if exc.transient:
                raise
            return None
        ratings.sort(key=lambda r: str(r.get("updated_at") or r.get("created_at") or ""))
        return ratings[-1] if ratings else None

    # -- webhook -------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        given = request.headers.get(WEBHOOK_HEADER.lower(), "").strip()
        if not given:
            raise Unauthorized(
                f"The {WEBHOOK_HEADER} header is missing: add it in the rule's 'Trigger "
                "webhook' action under Custom headers."
            )
        if not secret or not constant_time_equals(given, secret):
            raise Unauthorized(
                f"The {WEBHOOK_HEADER} header does not match this connector's secret."
            )
        payload = request.json()
        if not isinstance(payload, dict) or "ticket_id" not in payload:
            raise BadRequest(
                f"The body has no ticket_id. Use the JSON body {PAYLOAD_TEMPLATE}.",
                code="malformed_body",
            )
        value = payload["ticket_id"]
        ticket_id = str(value).strip()
        if isinstance(value, bool) or not _TICKET_ID.match(ticket_id):
            raise BadRequest(
                f"ticket_id must be the ticket's number, got {ticket_id[:40]!r}: check that "
                "the body uses {{ticket.id}}.",
                code="malformed_body",
            )
        # the same body again is a re-delivery (imported once); a changed one re-imports
        version = hashlib.sha256(request.body).hexdigest()[:32]
        return WebhookDelivery(
            refs=[
                CallRef(external_id=str(int(ticket_id)), data={"version": version}, updatable=True)
            ]
        )
