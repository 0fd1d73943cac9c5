"""The contract every destination kind implements (Slack, webhook, email), the registry
that maps a kind to its sender, and the one HTTP attempt Slack and webhooks share.

A sender makes exactly one attempt and reports what happened; retries, backoff, the log
and auto-disable belong to the service, so every kind behaves the same way."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import httpx

from callscribe.errors import CallscribeError, ErrorCode
from callscribe.security import http
from callscribe.security.outbound import PrivateAllowList

RESPONSE_LOG_CHARS = 1000  # what the delivery log keeps of a receiver's answer
RESPONSE_READ_BYTES = 16 * 1024  # never read more of an answer than this


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls_mode: str  # none | starttls | ssl
    username: str | None
    password: str | None
    from_address: str


@dataclass(frozen=True)
class Target:
    """An automation with its credentials decrypted, for the length of one attempt."""

    kind: str
    name: str
    url: str | None = None
    secret: str | None = None  # X-Callscribe-Signature key
    whsec: str | None = None  # Standard Webhooks key, "whsec_<base64>"
    options: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()  # email: resolved addresses
    smtp: SmtpConfig | None = None
    # private hosts/CIDRs the company's admin allowed for deliveries (webhook, Slack)
    private_allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Message:
    """What is delivered: the webhook body (frozen when the delivery was created) plus
    what the human-facing kinds need around it (a link, the customer's name)."""

    delivery_id: uuid.UUID
    event: str
    payload: str  # the webhook body as the exact JSON text that is sent and signed
    context: dict[str, Any] = field(default_factory=dict)
    is_test: bool = False

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.payload)


@dataclass
class AttemptResult:
    ok: bool
    retryable: bool = False
    http_status: int | None = None
    smtp_reply: str | None = None
    response: str | None = None
    error: str | None = None
    retry_after_s: float | None = None  # the receiver's Retry-After, when it sent one


class Sender(Protocol):
    kind: str

    def send(self, target: Target, message: Message) -> AttemptResult:
        """Make one attempt. Never raises for a receiver's failure: it is a result."""
        ...


@lru_cache
def registry() -> dict[str, Sender]:
    from callscribe.delivery.email import EmailSender
    from callscribe.delivery.slack import SlackSender
    from callscribe.delivery.webhook import WebhookSender

    senders: list[Sender] = [SlackSender(), WebhookSender(), EmailSender()]
    return {s.kind: s for s in senders}


def get_sender(kind: str) -> Sender:
    try:
        return registry()[kind]
    except KeyError:
        raise CallscribeError(
            f"Unknown automation kind {kind!r}.", code=ErrorCode.BAD_KIND
        ) from None


def truncate(text: str | None, limit: int = RESPONSE_LOG_CHARS) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_attempt(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    private_allow: tuple[str, ...] = (),
) -> AttemptResult:
    """One request through the guarded client. Network errors, timeouts, 408, 429 and 5xx
    are retryable (by the service: a sender makes one attempt); redirects are not
    followed (a moved endpoint is the admin's to fix); a refused address is final."""
    deadline = time.monotonic() + timeout_s
    try:
        with (
            http.OutboundClient(
                timeout=timeout_s, allow_list=PrivateAllowList.parse(list(private_allow))
            ) as client,
            client.stream(method, url, content=body, headers=headers) as response,
        ):
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= RESPONSE_READ_BYTES or time.monotonic() > deadline:
                    break
    except http.UnsafeURL as exc:
        return AttemptResult(ok=False, retryable=False, error=exc.message)
    except http.OutboundTimeout:
        return AttemptResult(ok=False, retryable=True, error=f"Timed out after {timeout_s:g} s.")
    except CallscribeError as exc:
        return AttemptResult(ok=False, retryable=True, error=f"Could not connect: {exc.message}")
    except httpx.TimeoutException:
        return AttemptResult(ok=False, retryable=True, error=f"Timed out after {timeout_s:g} s.")
    except httpx.HTTPError as exc:
        return AttemptResult(
            ok=False, retryable=True, error=f"Could not connect: {type(exc).__name__}: {exc}"
        )
    status = response.status_code
    text = truncate(raw[:RESPONSE_READ_BYTES].decode("utf-8", "replace"))
    result = AttemptResult(ok=200 <= status < 300, http_status=status, response=text)
    if result.ok:
        return result
    if 300 <= status < 400:
        result.error = f"HTTP {status}: redirects are not followed; use the final URL."
    elif status in (408, 429) or status >= 500:
        result.retryable = True
        result.retry_after_s = http.parse_retry_after(response.headers.get("retry-after"))
        result.error = f"HTTP {status}"
    else:
        result.error = f"HTTP {status}: the receiver refused the request."
    return result
