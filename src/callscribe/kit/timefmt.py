"""The one way a length of time is written, on pages, in the calls list, in the Minutes'
overview and in every export: `mm:ss` below an hour, `h:mm:ss` from an hour on, whole
seconds cut off (not rounded), as a player's clock shows them. A turn's timestamp is its
offset from the start of the call in the same form. static/js/call.js `ts()` mirrors
`format_offset_ms` for turns that arrive live."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from callscribe.errors import ValidationFailed

MISSING = "—"
DEFAULT_TIME_ZONE = "UTC"


def format_clock(seconds: float) -> str:
    """`03:02`, `1:04:09`; negative or not-a-number lengths are `00:00`."""
    total = int(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_duration(seconds: float | None) -> str:
    """A call's length; `—` when it is not known."""
    return MISSING if seconds is None else format_clock(seconds)


def format_offset_ms(ms: int | None) -> str:
    """Where a turn starts in the call."""
    return format_clock((ms or 0) / 1000)


# -- moments: pages show them in the reader's zone, named; the API stays UTC ISO-8601 --


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {DEFAULT_TIME_ZONE}


def check_time_zone(name: str | None) -> str | None:
    """An IANA zone name as zoneinfo knows it (`Europe/Berlin`), or None for "not set";
    anything else is refused with a 422."""
    name = (name or "").strip()
    if not name:
        return None
    if name not in time_zone_names():
        raise ValidationFailed(
            f"Unknown time zone {name[:64]!r}: use an IANA name such as Europe/Berlin, "
            "America/New_York or UTC."
        )
    return name


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def format_moment(
    value: datetime | None, zone: str | None = None, fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """`2026-12-01 14:06 CET`: the moment in `zone` (default UTC), with the zone named
    (its abbreviation, or the offset where the zone has none)."""
    if value is None:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(_zone(zone or DEFAULT_TIME_ZONE))
    return f"{local.strftime(fmt)} {local.tzname() or local.strftime('%z')}"
