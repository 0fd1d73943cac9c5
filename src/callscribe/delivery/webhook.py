"""Webhook sender: the call's JSON body, POST or PUT, signed two ways.

`X-Callscribe-Signature` is the hex HMAC-SHA256 of the raw body with the automation's
signing secret (when it has one). The Standard Webhooks headers (`webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64>`) are always sent so receivers can
reject replays; `webhook-id` is the delivery's id, the same on every retry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from callscribe.delivery.models import AutomationKind
from callscribe.delivery.senders import AttemptResult, Message, Target, http_attempt

METHODS = ("POST", "PUT")
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1.0, 10.0
WHSEC_PREFIX = "whsec_"


def encode_body(body: dict[str, Any]) -> str:
    """The JSON text that is stored, sent (UTF-8) and signed: compact, keys as built."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def callscribe_signature(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def whsec_from_secret(secret: str) -> str:
    """The Standard Webhooks form of a signing secret: its bytes, base64, prefixed."""
    return WHSEC_PREFIX + base64.b64encode(secret.encode()).decode()


def new_whsec() -> str:
    """A random Standard Webhooks key, for webhooks without a signing secret."""
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def whsec_key(whsec: str) -> bytes:
    raw = whsec[len(WHSEC_PREFIX) :] if whsec.startswith(WHSEC_PREFIX) else whsec
    return base64.b64decode(raw + "==")


def message_id(message: Message) -> str:
    return f"msg_{message.delivery_id.hex}"


def standard_signature(whsec: str, msg_id: str, timestamp: int, raw: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + raw
    digest = hmac.new(whsec_key(whsec), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    target: Target, message: Message, raw: bytes, now: float | None = None
) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    msg_id = message_id(message)
    headers = {
        "Content-Type": "application/json",
        "X-Callscribe-Event": message.event,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    if message.is_test:
        headers["X-Callscribe-Test"] = "true"
    if target.whsec:
        headers["webhook-signature"] = standard_signature(target.whsec, msg_id, timestamp, raw)
    if target.secret:
        headers["X-Callscribe-Signature"] = callscribe_signature(target.secret, raw)
    return headers


class WebhookSender:
    kind: str = AutomationKind.WEBHOOK

    def send(self, target: Target, message: Message) -> AttemptResult:
        assert target.url
        raw = message.payload.encode()
        method = str(target.options.get("method") or "POST").upper()
        timeout = float(target.options.get("timeout_s") or MAX_TIMEOUT_S)
        timeout = min(max(timeout, MIN_TIMEOUT_S), MAX_TIMEOUT_S)
        return http_attempt(
            method,
            target.url,
            raw,
            signed_headers(target, message, raw),
            timeout,
            target.private_allow,
        )
