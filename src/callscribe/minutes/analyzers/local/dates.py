# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""Due dates: relative and absolute date phrases resolved against the call date."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


MONTH_RE = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"


_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fourteen": 14,
    "twenty": 20,
    "thirty": 30,
    "a": 1,
    "an": 1,
    "twenty-four": 24,
    "forty-eight": 48,
    "seventy-two": 72,
}


NUM = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|twenty|thirty|twenty-four|forty-eight|seventy-two|a|an)"


DUE_RE = re.compile(
    r"\b(?:(?:by|on|before|until|no later than|for)\s+)?(?:"
    r"(?P<eod>(?:the\s+)?end of (?:the |to)?day|close of business|eod|cob)"
    r"|(?P<eow>(?:the\s+)?end of (?:the |this )?week)"
    r"|(?P<dat>the day after tomorrow)"
    r"|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<tomorrow>tomorrow(?: morning| afternoon| evening)?)"
    r"|(?P<nextweek>next week|early next week)"
    r"|(?P<nextmonth>next month)"
    r"|(?:(?P<wkmod>this|next|coming)\s+)?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?:within|in)\s+(?:the\s+next\s+)?"
    + NUM
    + r"\s+(?P<unit>business days?|working days?|days?|hours?|weeks?)"
    r"|" + NUM.replace("(", "(?P<num2>", 1) + r"\s+(?P<unit2>business days?|working days?)"
    r"|(?P<month>" + MONTH_RE[1:-1] + r")\.?\s+(?P<mday>\d{1,2})(?:st|nd|rd|th)?"
    r"|(?:the\s+)?(?P<mday2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month2>"
    + MONTH_RE[1:-1]
    + r")"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    r")\b",
    re.I,
)


def _month_index(name: str) -> int:
    name = name.lower()[:3]
    return [m[:3] for m in _MONTHS].index(name) + 1


def _add_business_days(start: date, n: int) -> date:
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def resolve_due(m: re.Match[str], base: date | None) -> str:
    phrase = m.group(0).strip()
    g = m.groupdict()
    if g["iso"]:
        return g["iso"]
    if base is None:
        return phrase
    if g["eod"] or g["today"]:
        return base.isoformat()
    if g["tomorrow"]:
        return (base + timedelta(days=1)).isoformat()
    if g["dat"]:
        return (base + timedelta(days=2)).isoformat()
    if g["eow"]:
        ahead = (4 - base.weekday()) % 7
        return (base + timedelta(days=ahead)).isoformat()
    if g["nextweek"]:
        return (base + timedelta(days=7 - base.weekday())).isoformat()  # Monday of next week
    if g["nextmonth"]:
        year, month = (base.year + 1, 1) if base.month == 12 else (base.year, base.month + 1)
        return date(year, month, 1).isoformat()
    if g["weekday"]:
        target = _WEEKDAYS.index(g["weekday"].lower())
        ahead = (target - base.weekday()) % 7 or 7
        if (g["wkmod"] or "").lower() == "next" and base.weekday() + ahead < 7:
            ahead += 7  # "next Friday" said on a Monday: the Friday of next week
        return (base + timedelta(days=ahead)).isoformat()
    num_raw = g.get("num2") or next(
        (x for x in m.groups() if x and x.lower() in _NUMBER_WORDS or (x and x.isdigit())), None
    )
    unit = (g["unit"] or g["unit2"] or "").lower()
    if unit and num_raw:
        n = int(num_raw) if num_raw.isdigit() else _NUMBER_WORDS[num_raw.lower()]
        if unit.startswith(("business", "working")):
            return _add_business_days(base, n).isoformat()
        if unit.startswith("hour"):
            return (base + timedelta(days=max(1, math.ceil(n / 24)))).isoformat()
        if unit.startswith("week"):
            return (base + timedelta(weeks=n)).isoformat()
        return (base + timedelta(days=n)).isoformat()
    month_name, mday = g["month"] or g["month2"], g["mday"] or g["mday2"]
    if month_name and mday:
        try:
            resolved = date(base.year, _month_index(month_name), int(mday))
        except ValueError:
            return phrase
        if resolved < base - timedelta(days=60):
            resolved = resolved.replace(year=base.year + 1)
        return resolved.isoformat()
    return phrase
