"""kit.timefmt: the one clock format of pages, the calls list, the overview and exports."""

from __future__ import annotations

import math

import pytest

from callscribe.kit.timefmt import format_clock, format_duration, format_offset_ms


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "00:00"),
        (4.6, "00:04"),  # cut, not rounded: a player at 4.6 s shows 0:04
        (182.6, "03:02"),
        (3599.99, "59:59"),
        (3600, "1:00:00"),
        (3849.2, "1:04:09"),
        (-3, "00:00"),
        (math.nan, "00:00"),
        (math.inf, "00:00"),
    ],
)
def test_lengths_are_minutes_and_seconds_cut_to_the_second(seconds: float, shown: str) -> None:
    assert format_clock(seconds) == shown


def test_an_unknown_duration_is_a_dash_and_offsets_are_in_milliseconds() -> None:
    assert format_duration(None) == "—"
    assert format_duration(182.6) == "03:02"
    assert format_offset_ms(4600) == "00:04"
    assert format_offset_ms(None) == "00:00"
