"""PII detectors: typed spans (kind, start, end) over one turn's text.

Spoken digits ("four one one one …", "4111 one one one …", "double five") are read
as digits first: the text is rewritten into a *digitized* copy with a map back to the
original offsets, every digit detector runs on that copy, and each finding is mapped
back, so a span always covers the words the customer said.

What is flagged and why not the look-alikes:

- card: 13 to 19 digits in whole groups that pass the Luhn check (an order number of
  16 digits passes it one time in ten; "card" said just before also flags a run that
  fails it, a misheard card number being still one the customer said aloud);
- cvv: 3 or 4 digits next to "security code", "cvv", "the three digits on the back" …,
  in the turn or the turn before (the agent asks, the customer answers "737");
- expiry: a month and a year next to "expires", "expiry", "valid thru" … (a date alone
  is not an expiry);
- ssn: 3-2-4 digits with separators, or 9 digits with "social security"/"ssn" near;
- phone: `phonenumbers` (region US) on the digitized text, not after "order", "ticket",
  "invoice" … (their numbers look like phone numbers), never inside a card number;
- email: written, and spoken ("jane dot doe at gmail dot com");
- iban: country code, check digits, BBAN; the mod-97 checksum must hold;
- name, phone, email of the customer's own record (`KnownIdentity`).

Times ("3:30 pm"), amounts ("$1,250.00") and dates have too few digits, a colon or a
currency sign; ticket ids carry letters; none of them reaches a detector's digit count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import phonenumbers


class PiiKind(StrEnum):
    CARD = "card"
    CVV = "cvv"
    EXPIRY = "expiry"
    SSN = "ssn"
    PHONE = "phone"
    EMAIL = "email"
    IBAN = "iban"
    NAME = "name"


# what write-time redaction silences in the audio (PCI: the card data)
CARD_DATA_KINDS = frozenset({PiiKind.CARD, PiiKind.CVV, PiiKind.EXPIRY})


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: PiiKind

    def as_json(self) -> list[object]:
        return [self.kind.value, self.start, self.end]

    @classmethod
    def from_json(cls, value: Sequence[object]) -> Span:
        kind, start, end = value
        return cls(int(start), int(end), PiiKind(str(kind)))  # type: ignore[call-overload]


@dataclass(frozen=True)
class KnownIdentity:
    """The customer's own record, filled by the caller from the CRM (privacy knows no
    domain): their name and every phone and email they are known by."""

    name: str | None = None
    phones: tuple[str, ...] = field(default_factory=tuple)
    emails: tuple[str, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------- digitizing

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_ZERO_LIKE = {"oh", "o"}  # digits only between other digits ("oh, I see" is no zero)
_REPEAT = {"double": 2, "triple": 3}
_WORD = re.compile(r"[A-Za-z]+|\d+")
# between two spoken digits: spaces, commas, dashes, "and" hesitations are dropped
_JOINER = re.compile(r"[\s,.\-]*")


@dataclass
class Digitized:
    text: str
    starts: list[int]  # for each char of `text`: where it starts in the original
    ends: list[int]  # … and ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def digitize(text: str) -> Digitized:
    """`text` with spoken digits as digits and the gaps between spoken digits closed up
    ("four one one one" -> "4111"); every other character is kept where it was."""
    tokens = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    # which tokens are digits (and what they say)
    said: list[str | None] = []
    for _, _, word in tokens:
        lower = word.lower()
        if word.isdigit():
            said.append(word)
        elif lower in _DIGIT_WORDS and lower not in _ZERO_LIKE:
            said.append(_DIGIT_WORDS[lower])
        else:
            said.append(None)
    for i, (_, _, word) in enumerate(tokens):
        lower = word.lower()
        if lower in _ZERO_LIKE:
            before = i > 0 and said[i - 1] is not None
            after = i + 1 < len(tokens) and (
                said[i + 1] is not None or tokens[i + 1][2].lower() in _ZERO_LIKE
            )
            if before or after:
                said[i] = "0"
        elif lower in _REPEAT and i + 1 < len(tokens):
            nxt = tokens[i + 1][2].lower()
            if nxt in _DIGIT_WORDS:
                said[i] = ""  # "double five": the next word says the digit
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    prev_spoken = False  # the last token kept was a spoken digit (or "double")
    repeat, pending_start = 1, 0
    for i, (start, end, word) in enumerate(tokens):
        value = said[i]
        spoken = value is not None and not word.isdigit()
        gap = text[pos:start]
        # close the gap between two digit tokens when at least one was spoken
        if (
            value is not None
            and i > 0
            and said[i - 1] is not None
            and (spoken or prev_spoken)
            and _JOINER.fullmatch(gap)
        ):
            gap = ""
        for offset, ch in enumerate(gap):
            out.append(ch)
            starts.append(pos + offset)
            ends.append(pos + offset + 1)
        if value is None:
            for offset, ch in enumerate(word):
                out.append(ch)
                starts.append(start + offset)
                ends.append(start + offset + 1)
            repeat = 1
        elif word.lower() in _REPEAT and value == "":
            # the repeat word's own characters go with the digit that follows
            repeat = _REPEAT[word.lower()]
            pending_start = start
            pos = end
            prev_spoken = True
            continue
        elif spoken:
            first = start if repeat == 1 else pending_start
            for _ in range(repeat):
                out.append(value)
                starts.append(first)
                ends.append(end)
            repeat = 1
        else:
            for offset, ch in enumerate(word):
                out.append(ch)
                starts.append(start + offset)
                ends.append(start + offset + 1)
            repeat = 1
        prev_spoken = spoken
        pos = end
    for offset, ch in enumerate(text[pos:]):
        out.append(ch)
        starts.append(pos + offset)
        ends.append(pos + offset + 1)
    return Digitized("".join(out), starts, ends)


# ----------------------------------------------------------------------- the checks


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    length = _IBAN_LENGTHS.get(iban[:2])
    if length is not None and len(iban) != length:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "SE": 24,
}  # fmt: skip

# a run of digit groups: "4111 1111-1111 1111", "4111111111111111"
_DIGIT_RUN = re.compile(r"(?<![\w$€£.,])\d+(?:(?: ?- ?| {1,2}|, ?)\d+)*(?![\w%])")
_GROUP = re.compile(r"\d+")
_CARD_CONTEXT = re.compile(r"\b(?:card|visa|mastercard|amex|american express|discover)\b", re.I)
_NOT_PHONE_CONTEXT = re.compile(
    r"\b(?:order|ticket|invoice|reference|ref|confirmation|tracking|case|account|"
    r"policy|member|serial|model|part|booking|claim|transaction|item|sku|po)\b"
    r"(?:\s+(?:number|no|id|code))?\s*[#:.]?\s*(?:is|was|will be)?\s*$",
    re.I,
)
# the turn before asked for an id, not for a phone ("the order ID and email" -> "7916676427")
_ASKS_FOR_ID = re.compile(
    r"\b(?:order|ticket|invoice|reference|confirmation|tracking|case|account|policy|"
    r"member|booking|claim|transaction) ?(?:number|no|id|#)",
    re.I,
)
_ASKS_FOR_PHONE = re.compile(r"\b(?:phone|cell|mobile|call you|reach you|callback)\b", re.I)
_CVV_CONTEXT = re.compile(
    r"security code|\bcvv2?\b|\bcvc2?\b|\bcsc\b|card verification|verification (?:code|number)|"
    r"(?:three|four|3|4)[- ]digits? (?:code )?(?:on|at) the (?:back|front)|digits on the back|"
    r"code on the back|back of (?:the|your) card",
    re.I,
)
_EXPIRY_CONTEXT = re.compile(
    r"expir\w*|\bexp\b\.?|valid (?:thru|through|until)|good (?:thru|through)|"
    r"\bexp(?:iry)? date\b",
    re.I,
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_EXPIRY = re.compile(
    r"(?<![\d/])(?:(?:0?[1-9]|1[0-2]) ?(?:/|-|\.| slash | of | ) ?(?:20)?\d{2}"
    r"|(?:0[1-9]|1[0-2])(?:20)?\d{2}"
    rf"|(?:{_MONTHS})\.?,? (?:of )?(?:20\d{{2}}|'\d{{2}}|\d{{2}}))(?![\d/])",
    re.I,
)
_SSN_SEPARATED = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_PLAIN = re.compile(r"(?<![\d-])\d{9}(?![\d-])")
_SSN_CONTEXT = re.compile(r"social security|\bssn\b|\bsocial\b|\bSS number", re.I)
_SHORT_NUMBER = re.compile(r"(?<![\d$.,:/-])\d{3,4}(?![\d:/%]|\.\d|,\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SPOKEN_EMAIL = re.compile(
    r"\b[a-z0-9]+(?: (?:dot|underscore|dash|hyphen) [a-z0-9]+)*"
    r" at [a-z0-9]+(?: dot [a-z0-9]+)* dot (?:com|net|org|edu|gov|io|co|us|uk|de|ca|me|info)\b",
    re.I,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _near(
    pattern: re.Pattern[str], text: str, start: int, end: int, before: int, after: int
) -> bool:
    return bool(pattern.search(text[max(0, start - before) : end + after]))


# ----------------------------------------------------------------------- detecting


# card lengths, most likely first: a run with more digits after the card ("… 1111 078")
# may pass Luhn at 19 digits by chance, 16 is what nearly every card has
_CARD_LENGTHS = {16: 0, 15: 1, 19: 2, 14: 3, 13: 4, 17: 5, 18: 6}


def _cards(d: str, strict: bool) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(d):
        groups = [
            (m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run.group())
        ]
        i = 0
        while i < len(groups):
            best: tuple[int, int] | None = None
            best_j, rank, loose, loose_j = i, 99, None, i
            digits = ""
            for j in range(i, len(groups)):
                digits += d[groups[j][0] : groups[j][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13:
                    loose, loose_j = (groups[i][0], groups[j][1]), j
                    if luhn_ok(digits) and _CARD_LENGTHS[len(digits)] < rank:
                        best, best_j, rank = (
                            (groups[i][0], groups[j][1]),
                            j,
                            _CARD_LENGTHS[len(digits)],
                        )
            if best is None:
                # a card said as one long run with more after it ("… 1111 twelve 25")
                g0, g1 = groups[i]
                if g1 - g0 > 19:
                    for length in sorted(_CARD_LENGTHS, key=_CARD_LENGTHS.__getitem__):
                        if luhn_ok(d[g0 : g0 + length]):
                            best, best_j = (g0, g0 + length), i
                            break
            if (
                best is None
                and loose is not None
                and (strict or _near(_CARD_CONTEXT, d, groups[i][0], groups[i][0], 60, 0))
            ):
                best, best_j = loose, loose_j
            if best is not None:
                found.append(best)
                i = best_j + 1
            else:
                i += 1
    return found


def _overlaps(start: int, end: int, taken: Iterable[tuple[int, int]]) -> bool:
    return any(start < b and a < end for a, b in taken)


def _detect_digitized(d: str, previous: str, strict: bool) -> list[tuple[int, int, PiiKind]]:
    found: list[tuple[int, int, PiiKind]] = []
    cards = _cards(d, strict)
    found += [(a, b, PiiKind.CARD) for a, b in cards]
    taken = list(cards)

    for m in _SSN_SEPARATED.finditer(d):
        if _overlaps(m.start(), m.end(), taken) or not _ssn_valid(m[1], m[3], m[4]):
            continue
        found.append((m.start(), m.end(), PiiKind.SSN))
        taken.append((m.start(), m.end()))
    for m in _SSN_PLAIN.finditer(d):
        s = m.group()
        if _overlaps(m.start(), m.end(), taken) or not _ssn_valid(s[:3], s[3:5], s[5:]):
            continue
        if _near(_SSN_CONTEXT, d, m.start(), m.end(), 60, 20) or _SSN_CONTEXT.search(previous):
            found.append((m.start(), m.end(), PiiKind.SSN))
            taken.append((m.start(), m.end()))

    id_asked = bool(_ASKS_FOR_ID.search(previous[-120:])) and not _ASKS_FOR_PHONE.search(
        previous[-120:]
    )
    if sum(ch.isdigit() for ch in d) >= 7:
        for match in phonenumbers.PhoneNumberMatcher(
            d, "US", leniency=phonenumbers.Leniency.POSSIBLE
        ):
            start, end = match.start, match.end
            if _overlaps(start, end, taken):
                continue
            if (start > 0 and d[start - 1].isalnum()) or (end < len(d) and d[end].isalnum()):
                continue  # inside a serial or tracking id ("1Z7414266364")
            if _NOT_PHONE_CONTEXT.search(d[max(0, start - 40) : start]):
                continue
            if id_asked and not _ASKS_FOR_PHONE.search(d[max(0, start - 40) : start]):
                continue
            raw = match.raw_string
            if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", raw.strip()):
                continue  # a date
            if sum(ch.isdigit() for ch in raw) < 10 and not raw.lstrip().startswith("+"):
                continue  # a local number without area code is too like a count or a code
            found.append((start, end, PiiKind.PHONE))
            taken.append((start, end))

    expiry_context_before = bool(_EXPIRY_CONTEXT.search(previous[-120:]))
    for m in _EXPIRY.finditer(d):
        if _overlaps(m.start(), m.end(), taken):
            continue
        if _near(_EXPIRY_CONTEXT, d, m.start(), m.end(), 50, 25) or (
            expiry_context_before and len(d) < 80
        ):
            found.append((m.start(), m.end(), PiiKind.EXPIRY))
            taken.append((m.start(), m.end()))

    cvv_context_before = bool(_CVV_CONTEXT.search(previous[-160:]))
    for m in _SHORT_NUMBER.finditer(d):
        if _overlaps(m.start(), m.end(), taken):
            continue
        if _near(_CVV_CONTEXT, d, m.start(), m.end(), 60, 40) or (
            cvv_context_before and len(d) < 80
        ):
            found.append((m.start(), m.end(), PiiKind.CVV))
            taken.append((m.start(), m.end()))

    return found


def detect(
    text: str, known: KnownIdentity | None = None, *, previous: str = "", strict: bool = False
) -> list[Span]:
    """Every PII span in `text`, sorted, without overlaps. `previous` is the turn before
    (its words give context: the agent asked for the security code). `strict` (write-time
    redaction, PCI): any 13 to 19 digit run is a card, Luhn or not, since a misheard or
    mistyped card number is still one the customer said aloud."""
    if not text:
        return []
    spans: list[Span] = []
    has_digits = any(ch.isdigit() for ch in text)
    lowered = text.lower()
    if has_digits or any(w in lowered for w in _DIGIT_WORDS if len(w) > 2):
        d = digitize(text)
        prev = digitize(previous).text if previous else ""
        for start, end, kind in _detect_digitized(d.text, prev, strict):
            a, b = d.span(start, end)
            spans.append(Span(a, b, kind))
    for m in _IBAN.finditer(text):
        # the trailing group may be a word that follows the IBAN: try shorter first
        candidate = m.group()
        while candidate and not iban_ok(candidate):
            cut = candidate.rfind(" ")
            if cut < 15:
                candidate = ""
                break
            candidate = candidate[:cut]
        if candidate:
            spans.append(Span(m.start(), m.start() + len(candidate), PiiKind.IBAN))
    if "@" in text:
        spans += [Span(m.start(), m.end(), PiiKind.EMAIL) for m in _EMAIL.finditer(text)]
    if " at " in lowered and " dot " in lowered:
        spans += [Span(m.start(), m.end(), PiiKind.EMAIL) for m in _SPOKEN_EMAIL.finditer(text)]
    if known is not None:
        spans += _known(text, known)
    return _settle(spans)


def _known(text: str, known: KnownIdentity) -> list[Span]:
    spans: list[Span] = []
    if known.name:
        parts = [p for p in re.split(r"[\s,]+", known.name.strip()) if len(p) >= 2]
        names = [known.name.strip()] + parts
        for name in sorted(set(names), key=len, reverse=True):
            # one word is matched as written (capitalised): "Bill" is a name, "bill" a bill;
            # the whole name of several words is one in any case ("patricia brown", as
            # speech-to-text writes it), with any run of spaces between its words
            whole = " " in name
            pattern = r"\s+".join(re.escape(w) for w in name.split()) if whole else re.escape(name)
            flags = re.IGNORECASE if whole else 0
            for m in re.finditer(rf"(?<!\w){pattern}(?!\w)", text, flags):
                spans.append(Span(m.start(), m.end(), PiiKind.NAME))
    lowered = text.lower()
    for email in known.emails:
        e = email.strip().lower()
        if not e:
            continue
        start = lowered.find(e)
        while start >= 0:
            spans.append(Span(start, start + len(e), PiiKind.EMAIL))
            start = lowered.find(e, start + 1)
    wanted = {re.sub(r"\D", "", p)[-10:] for p in known.phones}
    wanted = {w for w in wanted if len(w) >= 7}
    if wanted:
        d = digitize(text)
        for run in re.finditer(r"\+?\d[\d ().-]{5,}\d", d.text):
            digits = re.sub(r"\D", "", run.group())
            if any(digits.endswith(w) or w.endswith(digits) and len(digits) >= 7 for w in wanted):
                a, b = d.span(run.start(), run.end())
                spans.append(Span(a, b, PiiKind.PHONE))
    return spans


# when two findings overlap, the first kind here wins
_PRECEDENCE = {
    PiiKind.IBAN: 0,  # an IBAN's digits may pass Luhn: the IBAN checksum is stronger
    PiiKind.CARD: 1,
    PiiKind.SSN: 2,
    PiiKind.EMAIL: 3,
    PiiKind.PHONE: 4,
    PiiKind.EXPIRY: 5,
    PiiKind.CVV: 6,
    PiiKind.NAME: 7,
}


def _settle(spans: list[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (_PRECEDENCE[s.kind], s.start, -s.end)):
        if not any(span.start < k.end and k.start < span.end for k in kept):
            kept.append(span)
    return sorted(kept)


def detect_turns(
    texts: Sequence[str], known: KnownIdentity | None = None, *, strict: bool = False
) -> list[list[Span]]:
    """The spans of each turn of one engagement, in order: each turn is read with the two
    before it as context (the agent asks for the order id, then says "please", then the
    customer answers)."""
    result: list[list[Span]] = []
    for i, text in enumerate(texts):
        previous = " ".join(texts[max(0, i - CONTEXT_TURNS) : i])[-240:]
        result.append(detect(text, known, previous=previous, strict=strict))
    return result


CONTEXT_TURNS = 2
