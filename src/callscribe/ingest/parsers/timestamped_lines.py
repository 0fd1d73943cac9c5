"""`[2026-03-01T10:00:01.234Z] user: ...` lines (a voice-agent provider's transcript)."""

from __future__ import annotations

import re
from datetime import datetime

from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.kit.schemas import parse_instant

_LINE = re.compile(r"^\[(?P<ts>[^\]]+)\]\s*(?P<who>[A-Za-z_ -]+?)\s*:\s?(?P<text>.*)$")
ROLES = {
    "user": "customer",
    "customer": "customer",
    "assistant": "bot",
    "bot": "bot",
    "agent": "agent",
}
MS_PER_WORD = 350  # about 170 words a minute: the length of a last turn with no next one


def parse_time(value: str) -> datetime | None:
    try:
        return parse_instant(value)
    except ValueError:  # not a time (or out of range): the line has none
        return None


class TimestampedLinesParser:
    """user: the customer; assistant: the voice agent (role bot). A line without the
    prefix continues the turn before it. Times are offsets from the first line; a turn
    ends where the next one starts."""

    name = "timestamped_lines"

    def parse(self, text: str) -> list[ParsedTurn]:
        turns: list[dict[str, object]] = []
        first: datetime | None = None
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            match = _LINE.match(line)
            when = parse_time(match.group("ts")) if match else None
            if match is None or when is None:
                if turns:
                    turns[-1]["text"] = f"{turns[-1]['text']} {line}".strip()
                continue
            first = first or when
            turns.append(
                {
                    "role": ROLES.get(match.group("who").strip().lower(), "unknown"),
                    "text": match.group("text").strip(),
                    "start_ms": max(0, int((when - first).total_seconds() * 1000)),
                }
            )
        kept = [t for t in turns if t["text"]]
        out: list[ParsedTurn] = []
        for i, turn in enumerate(kept):
            start = int(turn["start_ms"])  # type: ignore[call-overload]
            body = str(turn["text"])
            nxt = int(kept[i + 1]["start_ms"]) if i + 1 < len(kept) else None  # type: ignore[call-overload]
            end = max(
                start, nxt if nxt is not None else start + MS_PER_WORD * max(1, len(body.split()))
            )
            out.append(ParsedTurn(role=str(turn["role"]), text=body, start_ms=start, end_ms=end))
        return out
