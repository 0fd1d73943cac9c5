"""Zendesk Support tickets: one text engagement per ticket (connectors.helpdesk).

- Sync: the cursor-based incremental ticket export
  (`GET /api/v2/incremental/tickets/cursor.json?start_time=` then `?cursor=`), pages
  until `end_of_stream`; the last page's `after_cursor` is the connector's cursor, so
  the next sync asks only for tickets changed since. Admins only; 10 requests a minute.
- A ticket: `GET /api/v2/tickets/{id}.json?include=users,groups` (requester, assignee,
  group) and its comments `GET /api/v2/tickets/{id}/comments.json?include=users`,
  followed through `next_page`.
- Auth: Basic `{email}/token:{api_token}`.
- Webhook: a trigger's webhook with the body `{"ticket_id": "{{ticket.id}}", "updated_at":
  "{{ticket.updated_at_with_timestamp}}"}` (a body seen before is a re-delivery), signed by
  Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(signing secret,
  `X-Zendesk-Webhook-Signature-Timestamp` + body)); the signing secret is the
  connector's credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    parse_time,
    same_origin_path,
    ticket_call,
)
from callscribe.errors import BadRequest, ErrorCode, Unauthorized
from callscribe.security.crypto import constant_time_equals

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
EXPORT_PAGE_SIZE = 1000  # the export's maximum
INITIAL_LOOKBACK = timedelta(days=30)
# the export leaves out what changed in the last minute and wants an older start_time
EXPORT_LAG = timedelta(seconds=61)
MAX_COMMENT_PAGES = 50  # 100 comments a page
SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
SIGNATURE_TOLERANCE = timedelta(minutes=5)  # older deliveries are refused (replays)
PAYLOAD_TEMPLATE = (
    '{"ticket_id": "{{ticket.id}}", "updated_at": "{{ticket.updated_at_with_timestamp}}"}'
)
AGENT_ROLES = ("agent", "admin")
CSAT_SCORES = {"good": 1.0, "bad": 0.0}
_TICKET_ID = re.compile(r"^\d{1,19}$")

WEBHOOK_INSTRUCTIONS = (
    "In Zendesk Admin Center > Apps and integrations > Webhooks, create a webhook: "
    "'Trigger or automation', endpoint URL above, method POST, format JSON, no "
    "authentication. Open it, reveal its signing secret and paste it into this "
    "connector's 'Webhook signing secret'. Then add a trigger (Objects and rules > "
    "Triggers) on 'Ticket is Created' or 'Ticket is Updated' with the action 'Notify by "
    "> Active webhook', this webhook, and the JSON body above. Zendesk signs every "
    "delivery (X-Zendesk-Webhook-Signature); deliveries are refused until the signing "
    "secret is stored here, and when signed more than 5 minutes ago."
)


class ZendeskConnector:
    type: ClassVar[str] = "zendesk"
    label: ClassVar[str] = "Zendesk"
    default_base_url: ClassVar[str] = "https://yoursubdomain.zendesk.com"
    base_url_help: ClassVar[str] = (
        "Your Zendesk address, https://{subdomain}.zendesk.com (your subdomain in place of "
        "yoursubdomain)."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "email",
            "Agent email",
            secret=False,
            placeholder="admin@yourcompany.com",
            help="An admin's email: the incremental export is for admins only.",
        ),
        CredentialField(
            "api_token",
            "API token",
            help="Admin Center > Apps and integrations > Zendesk API: token access on, add "
            "an API token.",
        ),
        CredentialField(
            "webhook_secret",
            "Webhook signing secret",
            required=False,
            help="For real-time imports: the signing secret of the Zendesk webhook (shown "
            "once it exists; add it later by editing the connector).",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = ""  # Zendesk signs: nothing for the admin to add
    webhook_payload_template: ClassVar[str] = PAYLOAD_TEMPLATE
    webhook_uses_secret: ClassVar[bool] = False  # signed with Zendesk's signing secret
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.email = (credentials.get("email") or "").strip()
        self.api_token = credentials.get("api_token") or ""
        self.signing_secret = credentials.get("webhook_secret") or ""
        self.http = ProviderHTTP("Zendesk", base_url, [self.api_token, self.signing_secret])

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.http.get(
            same_origin_path(path, self.http.base_url),
            params=params,
            headers={"Accept": "application/json"},
            auth=httpx.BasicAuth(f"{self.email}/token", self.api_token),
        )
        if response.status_code == 401:
            raise ProviderAuthError(
                "Zendesk refused the agent email and API token (HTTP 401). Check both, that "
                "the token (the API key from Admin Center > Zendesk API) is active and that "
                "token access is on.",
                transient=False,
            )
        if response.status_code == 403:
            raise ProviderAuthError(
                "Zendesk does not let this user read it (HTTP 403): the incremental export "
                "is for admins. Use an admin's email and API token.",
                code=ErrorCode.PROVIDER_PERMISSION_DENIED,
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"Zendesk has no {path.split('?', 1)[0]} (HTTP 404).",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            self.http.refused(response, transient_statuses=(408, 409, 425))
        return self.http.json_of(
            response, hint="check the Base URL (https://{subdomain}.zendesk.com)."
        )

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        if not self.email or not self.api_token:
            raise ProviderAuthError("Enter the agent email and API token.", transient=False)
        me = (self._get("/api/v2/users/me.json") or {}).get("user") or {}
        if me.get("id") is None:  # Zendesk answers anonymous callers with an empty user
            raise ProviderAuthError(
                "Zendesk did not recognise the agent email and API token (API key). Check both.",
                transient=False,
            )
        if me.get("role") not in AGENT_ROLES:
            raise ProviderAuthError(
                f"{self.email} is not an agent in Zendesk; use an admin's email and token.",
                code=ErrorCode.PROVIDER_PERMISSION_DENIED,
                transient=False,
            )
        start = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
        self._get(EXPORT_PATH, {"start_time": start, "per_page": 1})
        return (
            f"Connected to Zendesk as {me.get('name') or self.email} ({me.get('role')}): the "
            "API token works and tickets can be exported."
        )

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"start_time": int(last_seen.timestamp())}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        cursor = cursor or {}
        latest = int((datetime.now(UTC) - EXPORT_LAG).timestamp())
        if cursor.get("cursor"):
            params: dict[str, Any] = {"cursor": str(cursor["cursor"])}
        else:
            default = int((datetime.now(UTC) - INITIAL_LOOKBACK).timestamp())
            start = cursor.get("start_time")
            start = (
                int(start)
                if isinstance(start, int | float | str) and str(start).isdigit()
                else default
            )
            params = {"start_time": min(start, latest)}
        while True:
            body = self._get(EXPORT_PATH, {**params, "per_page": EXPORT_PAGE_SIZE}) or {}
            refs = [
                ref
                for ticket in body.get("tickets") or []
                if (ref := self._ticket_ref(ticket)) is not None
            ]
            after = body.get("after_cursor")
            yield CallPage(refs, cursor={"cursor": after} if after else None)
            if body.get("end_of_stream", True) or not after:
                return
            params = {"cursor": after}

    @staticmethod
    def _ticket_ref(ticket: dict[str, Any]) -> CallRef | None:
        if not isinstance(ticket, dict) or ticket.get("id") is None:
            return None
        if ticket.get("status") == "deleted":
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
            body = self._get(f"/api/v2/tickets/{ticket_id}.json", {"include": "users,groups"})
        except ProviderError as exc:
            if exc.code == ErrorCode.PROVIDER_NOT_FOUND:
                raise ProviderError(
                    f"Zendesk has no ticket {ticket_id} (deleted, or another account's).",
                    code=ErrorCode.PROVIDER_CALL_NOT_FOUND,
                    transient=False,
                ) from exc
            raise
        ticket = body.get("ticket") or {}
        users = {u.get("id"): u for u in body.get("users") or [] if isinstance(u, dict)}
        groups = {g.get("id"): g for g in body.get("groups") or [] if isinstance(g, dict)}
        comments = self._comments(ticket_id, users)
        requester_id = ticket.get("requester_id")
        messages = [self._message(c, users.get(c.get("author_id")), requester_id) for c in comments]
        requester = users.get(requester_id) or {}
        assignee = users.get(ticket.get("assignee_id"))
        group = groups.get(ticket.get("group_id")) or {}
        rating = ticket.get("satisfaction_rating") or {}
        score = rating.get("score") if isinstance(rating, dict) else None
        facts = {"csat": CSAT_SCORES[score]} if score in CSAT_SCORES else {}
        via = ticket.get("via") or {}
        return ticket_call(
            provider="Zendesk",
            ticket_id=ticket_id,
            messages=messages,
            created_at=parse_time(ticket.get("created_at")),
            requester=TicketPerson(
                external_id=str(requester_id),
                name=requester.get("name"),
                email=requester.get("email"),
                phone=requester.get("phone"),
            )
            if requester_id is not None
            else None,
            assignee=AgentInfo(external_id=str(assignee["id"]), name=assignee.get("name") or "")
            if assignee
            else None,
            queue=group.get("name"),
            attributes={
                "status": ticket.get("status"),
                "priority": ticket.get("priority"),
                "type": ticket.get("type"),
                "tags": ticket.get("tags"),
                "channel": via.get("channel") if isinstance(via, dict) else None,
                **({"csat": score} if score in CSAT_SCORES else {}),
            },
            facts=facts,
            meta={
                "subject": ticket.get("subject"),
                "provider": {
                    "ticket_id": ticket_id,
                    "updated_at": ticket.get("updated_at"),
                    **({"csat_comment": rating.get("comment")} if rating.get("comment") else {}),
                },
            },
        )

    def _comments(self, ticket_id: str, users: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = []
        path: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: dict[str, Any] | None = {"include": "users", "sort_order": "asc"}
        for _ in range(MAX_COMMENT_PAGES):
            if not path:
                break
            body = self._get(path, params) or {}
            for user in body.get("users") or []:
                if isinstance(user, dict):
                    users.setdefault(user.get("id"), user)
            comments.extend(c for c in body.get("comments") or [] if isinstance(c, dict))
            path, params = body.get("next_page"), None
        return comments

    @staticmethod
    def _message(
        comment: dict[str, Any], author: dict[str, Any] | None, requester_id: Any
    ) -> TicketMessage:
        author_id = comment.get("author_id")
        if author is not None:
            role = "agent" if author.get("role") in AGENT_ROLES else "customer"
        else:
            role = "customer" if author_id == requester_id else "agent"
        return TicketMessage(
            role=role,
            text=str(comment.get("plain_body") or comment.get("body") or ""),
            author=(author or {}).get("name"),
            sent_at=parse_time(comment.get("created_at")),
            internal=comment.get("public") is False,
        )

    # -- webhook -------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        """Zendesk's own signature with the webhook's signing secret (the connector's
        credential; `secret`, our generated one, is not Zendesk's to use)."""
        if not self.signing_secret:
            raise Unauthorized(
                "This connector has no Zendesk webhook signing secret yet: paste the "
                "webhook's signing secret into the connector."
            )
        signature = request.headers.get(SIGNATURE_HEADER, "").strip()
        stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
        if not signature or not stamp:
            raise Unauthorized(
                "The X-Zendesk-Webhook-Signature or its timestamp header is missing."
            )
        expected = base64.b64encode(
            hmac.new(
                self.signing_secret.encode(), stamp.encode() + request.body, hashlib.sha256
            ).digest()
        ).decode()
        if not constant_time_equals(signature, expected):
            raise Unauthorized(
                "The X-Zendesk-Webhook-Signature does not match: check the signing secret "
                "stored in the connector."
            )
        signed_at = _signature_time(stamp)
        now = datetime.now(UTC)
        if signed_at is None or abs(now - signed_at) > SIGNATURE_TOLERANCE:
            raise Unauthorized(
                "The delivery's signature timestamp is too far from now (over "
                f"{int(SIGNATURE_TOLERANCE.total_seconds() // 60)} minutes): refused as a replay."
            )
        payload = request.json()
        if not isinstance(payload, dict) or "ticket_id" not in payload:
            raise BadRequest(
                f"The body has no ticket_id. Use the JSON body {PAYLOAD_TEMPLATE}.",
                code="malformed_body",
            )
        ticket_id = str(payload["ticket_id"]).strip()
        if isinstance(payload["ticket_id"], bool) or not _TICKET_ID.match(ticket_id):
            raise BadRequest(
                f"ticket_id must be the ticket's number, got {ticket_id[:40]!r}: check that "
                "the body uses {{ticket.id}}.",
                code="malformed_body",
            )
        # the same body again (a retry) is a re-delivery; a new `updated_at` a change
        version = hashlib.sha256(request.body).hexdigest()[:32]
        return WebhookDelivery(
            refs=[
                CallRef(external_id=str(int(ticket_id)), data={"version": version}, updatable=True)
            ],
            delivery_id=request.headers.get(INVOCATION_HEADER) or None,
        )


def _signature_time(stamp: str) -> datetime | None:
    """Zendesk's timestamp is ISO 8601 ("2026-01-01T10:00:00Z"); epoch seconds taken too."""
    if stamp.isdigit():
        return datetime.fromtimestamp(int(stamp), UTC)
    return parse_time(stamp)
