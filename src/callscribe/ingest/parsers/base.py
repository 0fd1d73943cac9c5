"""The transcript parser protocol: text from outside (a provider's transcript file, a
sheet cell, a JSON message list) into typed turns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ParsedTurn:
    role: str  # agent | customer | bot | unknown
    text: str
    start_ms: int = 0
    end_ms: int = 0
    speaker: str | None = None
    timed: bool = True  # start_ms/end_ms are real (False: a made-up clock keeping the order)


class TranscriptParser(Protocol):
    name: str  # the format's key in the registry

    def parse(self, text: str) -> list[ParsedTurn]:
        """The turns in `text`, in order; an empty list when there are none."""
        ...
