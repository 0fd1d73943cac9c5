"""The one way a length of time is written, on pages, in the calls list, in the Minutes'
overview and in every export: `mm:ss` below an hour, `h:mm:ss` from an hour on, whole
seconds cut off (not rounded), as a player's clock shows them. A turn's timestamp is its
offset from the start of the call in the same form. static/js/call.js `ts()` mirrors
`format_offset_ms` for turns that arrive live."""

from __future__ import annotations

import math

MISSING = "—"


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
