"""A JSON list of messages (`[{"role", "text", "sent_at"?, "author"?}]`, or an object
with a `messages` list): the tickets API's shape."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from callscribe.errors import ValidationFailed
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.kit.schemas import parse_instant

MAX_TURN_MS = 2**31 - 1  # turns.start_ms is a 32-bit integer: threads longer than ~24 days
# keep their order, later messages share the last representable offset
ROLES = ("agent", "customer", "bot")


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    try:  # naive and aware times mixed in one chat: all aware UTC, so they subtract
        return parse_instant(value)
    except ValueError as exc:
        raise ValidationFailed(f"sent_at {str(value)[:60]!r}: {exc}.") from exc


class JsonMessagesParser:
    """Messages in order; a message's offset is its time after the first timed one (one
    second after the one before when it has no time), never before the previous one."""

    name = "json_messages"

    def parse(self, text: str) -> list[ParsedTurn]:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationFailed(f"The messages are not JSON: {exc}.") from exc
        if isinstance(data, dict):
            data = data.get("messages")
        if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
            raise ValidationFailed("The messages must be a JSON list of objects.")
        return self.from_messages(data)

    def from_messages(self, messages: Sequence[Mapping[str, Any] | Any]) -> list[ParsedTurn]:
        rows = [m if isinstance(m, Mapping) else vars(m) for m in messages]
        times = [_when(m.get("sent_at")) for m in rows]
        known = [t for t in times if t is not None]
        started = min(known) if known else None
        last_ms = 0
        turns: list[ParsedTurn] = []
        for seq, (message, sent_at) in enumerate(zip(rows, times, strict=True)):
            role = str(message.get("role") or "")
            if role not in ROLES:
                raise ValidationFailed(f"Message {seq + 1}: role must be agent, customer or bot.")
            timed = started is not None and sent_at is not None
            if started is not None and sent_at is not None:
                start_ms = max(int((sent_at - started).total_seconds() * 1000), 0)
            else:
                start_ms = last_ms + (1000 if seq else 0)
            start_ms = min(max(start_ms, last_ms), MAX_TURN_MS)
            last_ms = start_ms
            author = message.get("author")
            turns.append(
                ParsedTurn(
                    role=role,
                    text=str(message.get("text") or ""),
                    start_ms=start_ms,
                    end_ms=start_ms,
                    speaker=(author or None) and str(author)[:200],
                    timed=timed,
                )
            )
        return turns


def message_span(messages: Sequence[Any]) -> tuple[datetime | None, float | None]:
    """When the first message was sent, and how long the thread lasted (seconds)."""
    times = [
        t
        for t in (
            _when(m.get("sent_at") if isinstance(m, Mapping) else m.sent_at) for m in messages
        )
        if t is not None
    ]
    if not times:
        return None, None
    return min(times), (max(times) - min(times)).total_seconds()
