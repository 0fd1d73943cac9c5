"""`Agent: ...` / `Customer: ...` / `Bot: ...` lines (a sheet's text cell)."""

from __future__ import annotations

from callscribe.ingest.parsers.base import ParsedTurn

ROLES = {
    "agent": "agent",
    "rep": "agent",
    "customer": "customer",
    "client": "customer",
    "user": "customer",
    "bot": "bot",
}
STEP_MS = 1000  # lines carry no times: one second apart keeps them in order


class SpeakerLinesParser:
    """One message per line, `Role: text`; lines without a known role prefix continue the
    previous message (or, first, are the customer's)."""

    name = "speaker_lines"

    def parse(self, text: str) -> list[ParsedTurn]:
        messages: list[tuple[str, str]] = []
        for line in text.replace("\r\n", "\n").split("\n"):
            line = line.strip()
            if not line:
                continue
            head, sep, rest = line.partition(":")
            role = ROLES.get(head.strip().lower()) if sep else None
            if role is not None:
                messages.append((role, rest.strip() or "(empty)"))
            elif messages:
                messages[-1] = (messages[-1][0], f"{messages[-1][1]} {line}")
            else:
                messages.append(("customer", line))
        return [
            ParsedTurn(role=role, text=body, start_ms=i * STEP_MS, end_ms=i * STEP_MS, timed=False)
            for i, (role, body) in enumerate(messages)
        ]
