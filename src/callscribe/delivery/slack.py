"""Slack sender: an Incoming Webhook message in Block Kit.

Slack refuses a whole message when one block breaks a limit, so every text is fitted to
Slack's documented limits before sending (header 150, section text 3000, section fields
10 of 2000 each, button text 75, URLs 3000, 50 blocks, message text 40,000), cut at a
word and marked with an ellipsis."""

from __future__ import annotations

import json
from typing import Any

from callscribe.delivery.models import AutomationKind
from callscribe.delivery.senders import AttemptResult, Message, Target, http_attempt

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
BLOCKS_MAX = 50
MESSAGE_TEXT_MAX = 40_000
ACTION_ITEM_SECTIONS_MAX = 5  # action items beyond these point to callscribe
TIMEOUT_S = 10.0
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int, *, mrkdwn: bool = True) -> str:
    """`text` escaped (for mrkdwn) and at most `limit` characters, cut at a word."""
    render = escape if mrkdwn else (lambda s: s)
    out = render(text)
    if len(out) <= limit:
        return out
    raw = text[: limit - 1]
    while len(render(raw)) > limit - 1:
        raw = raw[: len(raw) - (len(render(raw)) - (limit - 1))]
    cut = raw.rstrip()
    space = cut.rfind(" ", int(len(cut) * 0.8))  # a word boundary, if one is near the end
    if space > 0:
        cut = cut[:space].rstrip()
    return render(cut) + ELLIPSIS


def duration_text(seconds: Any) -> str:
    if seconds is None:
        return "—"
    total = int(round(float(seconds)))
    return f"{total // 60}:{total % 60:02d}"


def _field(label: str, value: Any) -> dict[str, str]:
    """A mrkdwn field from RAW text: fit() escapes it, exactly once (issue 17 #19)."""
    return {"type": "mrkdwn", "text": fit(f"*{label}*\n{value or '—'}", FIELD_MAX)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def action_item_sections(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Bullet lines packed into at most ACTION_ITEM_SECTIONS_MAX sections; returns the
    blocks and how many items did not fit."""
    blocks: list[dict[str, Any]] = []
    lines: list[str] = []
    size = 0
    shown = 0
    for item in items:
        mark = "☑" if item.get("status") == "done" else "•"
        line = fit(f"{mark} [{item.get('priority') or 'medium'}] {item.get('title') or ''}", 500)
        if size + len(line) + 1 > SECTION_TEXT_MAX:
            if len(blocks) + 1 >= ACTION_ITEM_SECTIONS_MAX:
                break
            blocks.append(_section("\n".join(lines)))
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if lines:
        blocks.append(_section("\n".join(lines)))
    return blocks, len(items) - shown


def build_message(body: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    call = body.get("call") or {}
    minutes = body.get("minutes") or {}
    items = body.get("action_items") or []
    subject = minutes.get("subject") or "Call completed"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": fit(subject, HEADER_MAX, mrkdwn=False)},
        }
    ]
    fields = [
        _field("Agent", call.get("agent_name")),
        _field("Direction", call.get("direction")),
        _field("Duration", duration_text(call.get("duration_sec"))),
        _field("Sentiment", minutes.get("sentiment")),
        _field("Outcome", minutes.get("outcome")),
    ]
    if context.get("customer_name"):
        fields.append(_field("Customer", str(context["customer_name"])))
    blocks.append({"type": "section", "fields": fields[:FIELDS_MAX]})
    if minutes.get("summary"):
        label = "*Summary*\n"
        blocks.append(_section(label + fit(minutes["summary"], SECTION_TEXT_MAX - len(label))))
    if items:
        blocks.append({"type": "divider"})
        blocks.append(_section(f"*Action items ({len(items)})*"))
        item_blocks, left_out = action_item_sections(items)
        blocks.extend(item_blocks)
        if left_out:
            more = f"…and {left_out} more action items in callscribe."
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    url = context.get("call_url")
    if url and len(url) <= URL_MAX:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in callscribe"},
                        "url": url,
                        "action_id": "open_call",
                    }
                ],
            }
        )
    text = fit(f"{subject} ({minutes.get('outcome') or call.get('status') or ''})", 3000)
    return {"text": text[:MESSAGE_TEXT_MAX], "blocks": blocks[:BLOCKS_MAX]}


class SlackSender:
    kind: str = AutomationKind.SLACK

    def send(self, target: Target, message: Message) -> AttemptResult:
        assert target.url
        payload = build_message(message.body, message.context)
        raw = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return http_attempt("POST", target.url, raw, headers, TIMEOUT_S, target.private_allow)
