"""What Slack checks of an Incoming Webhook message, from its documentation
(https://api.slack.com/reference/block-kit/blocks, .../composition-objects,
https://api.slack.com/reference/messaging/payload): the receiver answers like Slack,
`ok` or HTTP 400 `invalid_blocks` / `invalid_payload`, and lists what it found."""

from __future__ import annotations

import json
import re
from typing import Any

MESSAGE_TEXT_MAX = 40_000
BLOCKS_MAX = 50
BLOCK_ID_MAX = 255


# https://api.slack.com/reference/surfaces/formatting#escaping: in mrkdwn, &, < and > are
# control characters and must be sent as &amp; &lt; &gt;; nothing else is an entity.
# A raw "<" may only open Slack's own markup (<https://…|label>, <@U…>, <!here>).
_ENTITY = re.compile(r"&(amp|lt|gt);")
_MARKUP = re.compile(r"<(?:https?://|mailto:|@|#|!)[^<>]*>")


def render_mrkdwn(text: str) -> str:
    """What Slack shows for a mrkdwn text: its markup kept, the three entities decoded."""
    return _ENTITY.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def _escaping(text: str, where: str, errors: list[str]) -> None:
    bare = _MARKUP.sub("", text)
    if "<" in bare or ">" in bare:
        errors.append(f"{where}: unescaped < or > in mrkdwn")
    if "&" in _ENTITY.sub("", bare):
        errors.append(f"{where}: unescaped & in mrkdwn")


def _text(obj: Any, where: str, limit: int, kinds: tuple[str, ...], errors: list[str]) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        errors.append(f"{where}: text object of type {kinds}")
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"{where}: empty text")
    elif len(text) > limit:
        errors.append(f"{where}: {len(text)} chars > {limit}")
    elif obj.get("type") == "mrkdwn":
        _escaping(text, where, errors)


def _button(el: dict, where: str, errors: list[str]) -> None:
    _text(el.get("text"), f"{where}.text", 75, ("plain_text",), errors)
    if "url" in el and (not isinstance(el["url"], str) or len(el["url"]) > 3000):
        errors.append(f"{where}.url: > 3000 chars")
    if len(el.get("action_id", "")) > 255:
        errors.append(f"{where}.action_id: > 255 chars")


def validate(payload: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not text and not blocks:
        errors.append("no text and no blocks")
    if text is not None and (not isinstance(text, str) or len(text) > MESSAGE_TEXT_MAX):
        errors.append("text: not a string or > 40000 chars")
    if blocks is None:
        return errors
    if not isinstance(blocks, list) or len(blocks) > BLOCKS_MAX:
        return errors + [f"blocks: not a list or more than {BLOCKS_MAX}"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if len(block.get("block_id", "")) > BLOCK_ID_MAX:
            errors.append(f"{where}.block_id too long")
        if kind == "header":
            _text(block.get("text"), f"{where}.text", 150, ("plain_text",), errors)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"{where}: a section needs text or fields")
            if "text" in block:
                _text(block["text"], f"{where}.text", 3000, ("mrkdwn", "plain_text"), errors)
            if "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    errors.append(f"{where}.fields: 1-10 items")
                else:
                    for j, f in enumerate(fields):
                        _text(f, f"{where}.fields[{j}]", 2000, ("mrkdwn", "plain_text"), errors)
        elif kind == "divider":
            pass
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                errors.append(f"{where}.elements: 1-10 items")
            for j, el in enumerate(elements):
                _text(el, f"{where}.elements[{j}]", 3000, ("mrkdwn", "plain_text"), errors)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                errors.append(f"{where}.elements: 1-25 items")
            for j, el in enumerate(elements):
                if el.get("type") != "button":
                    errors.append(f"{where}.elements[{j}]: unexpected {el.get('type')}")
                else:
                    _button(el, f"{where}.elements[{j}]", errors)
        else:
            errors.append(f"{where}: unknown block type {kind!r}")
    return errors


def check_request(body: bytes) -> tuple[int, bytes, list[str]]:
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, b"invalid_payload", ["not JSON"]
    errors = validate(payload)
    return (400, b"invalid_blocks", errors) if errors else (200, b"ok", [])
