"""Transcript parsers: one per text format we accept, found by name (no registration by
import side effect: the list below is the registry)."""

from __future__ import annotations

from callscribe.errors import ValidationFailed
from callscribe.ingest.parsers.base import ParsedTurn, TranscriptParser
from callscribe.ingest.parsers.json_messages import JsonMessagesParser
from callscribe.ingest.parsers.speaker_lines import SpeakerLinesParser
from callscribe.ingest.parsers.timestamped_lines import TimestampedLinesParser

PARSERS: dict[str, TranscriptParser] = {
    p.name: p for p in (SpeakerLinesParser(), TimestampedLinesParser(), JsonMessagesParser())
}


def get_parser(name: str) -> TranscriptParser:
    try:
        return PARSERS[name]
    except KeyError as exc:
        known = ", ".join(sorted(PARSERS))
        raise ValidationFailed(f"Unknown transcript format {name!r}; known: {known}.") from exc


def parse_transcript(text: str, fmt: str) -> list[ParsedTurn]:
    return get_parser(fmt).parse(text)


__all__ = ["PARSERS", "ParsedTurn", "TranscriptParser", "get_parser", "parse_transcript"]
