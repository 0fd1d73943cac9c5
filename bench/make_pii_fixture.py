"""Write tests/data/pii/turns.jsonl: synthetic call and chat turns with labelled PII and
as many look-alikes that are not PII (order numbers, times, amounts, dates, ticket ids).

Every value is invented (random card numbers that pass Luhn, IBANs with a valid checksum,
phone numbers in real area codes, SSNs outside the never-issued ranges). Deterministic:
`python bench/make_pii_fixture.py` writes the same file each time.

Each line: {"id", "prev" (the turn before, context), "text", "pii": [{"kind", "value"}]}.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii" / "turns.jsonl"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
rng = random.Random(11)


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError


def card() -> str:
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "discover"])
    if kind == "visa":
        return luhn_complete("4", 16)
    if kind == "mc":
        return luhn_complete(str(rng.randint(51, 55)), 16)
    if kind == "mc2":
        return luhn_complete(str(rng.randint(2221, 2720)), 16)
    if kind == "amex":
        return luhn_complete(rng.choice(["34", "37"]), 15)
    return luhn_complete("6011", 16)


def not_luhn(length: int) -> str:
    while True:
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 and digits[0] != "0":
            return digits


def groups(digits: str) -> list[str]:
    if len(digits) == 15:
        return [digits[:4], digits[4:10], digits[10:]]
    return [digits[i : i + 4] for i in range(0, len(digits), 4)]


def spoken(digits: str) -> str:
    return " ".join(WORDS[int(c)] if c != "0" or rng.random() < 0.6 else "oh" for c in digits)


def card_form(digits: str) -> str:
    form = rng.choice(["spaces", "dashes", "plain", "spoken", "spoken_groups", "mixed"])
    g = groups(digits)
    if form == "spaces":
        return " ".join(g)
    if form == "dashes":
        return "-".join(g)
    if form == "plain":
        return digits
    if form == "spoken":
        return spoken(digits)
    if form == "spoken_groups":
        return ", ".join(spoken(x) for x in g)
    return " ".join(x if i % 2 == 0 else spoken(x) for i, x in enumerate(g))


def phone() -> tuple[str, str]:
    area = rng.choice(["415", "212", "646", "312", "617", "206", "303", "512", "404", "718"])
    exch = str(rng.randint(201, 989))
    line = f"{rng.randint(0, 9999):04d}"
    form = rng.choice(["dash", "paren", "dots", "plain", "spoken", "plus1", "intl"])
    if form == "intl":
        return rng.choice(
            [
                ("+44 20 7946 0" + f"{rng.randint(100, 999)}", "uk"),
                ("+49 30 901820" + f"{rng.randint(10, 99)}", "de"),
                ("+33 1 42 68 53 " + f"{rng.randint(10, 99)}", "fr"),
            ]
        )[0], "intl"
    return {
        "dash": f"{area}-{exch}-{line}",
        "paren": f"({area}) {exch}-{line}",
        "dots": f"{area}.{exch}.{line}",
        "plain": f"{area}{exch}{line}",
        "spoken": f"{spoken(area)}, {spoken(exch)}, {spoken(line)}",
        "plus1": f"+1 {area} {exch} {line}",
    }[form], form


FIRST = ["jane", "mark", "priya", "tom", "lucia", "ahmed", "chen", "olga", "sam", "nina"]
LAST = ["doe", "smith", "patel", "nguyen", "garcia", "kowalski", "okafor", "berg", "lee"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.org", "acme-mail.net", "proton.me"]


def email() -> tuple[str, bool]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    domain = rng.choice(DOMAINS)
    local = rng.choice(
        [f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}", f"{first[0]}{last}"]
    )
    if rng.random() < 0.3 and domain.count(".") == 1 and "-" not in domain and "." in local:
        a, b = local.split(".")
        name, tld = domain.split(".")
        return f"{a} dot {b} at {name} dot {tld}", True
    return f"{local}@{domain}", False


def ssn() -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def iban() -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24)])
    if country == "GB":
        bban = "NWBK" + "".join(rng.choice("0123456789") for _ in range(length - 8))
    elif country == "NL":
        bban = "ABNA" + "".join(rng.choice("0123456789") for _ in range(length - 8))
    else:
        bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(ch, 36)) for ch in moved)) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def expiry() -> str:
    month, year = rng.randint(1, 12), rng.randint(25, 31)
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    return rng.choice(
        [
            f"{month:02d}/{year}",
            f"{month}/{year}",
            f"{month:02d}/20{year}",
            f"{months[month - 1]} 20{year}",
            f"{spoken(f'{month:02d}')} {spoken(str(year))}",
            f"{month:02d}-{year}",
        ]
    )


def cvv(amex: bool = False) -> str:
    digits = f"{rng.randint(0, 9999):04d}" if amex else f"{rng.randint(0, 999):03d}"
    return spoken(digits) if rng.random() < 0.4 else digits


rows: list[dict[str, object]] = []


def add(text: str, pii: list[tuple[str, str]], prev: str = "") -> None:
    for _, value in pii:
        assert value in text, (value, text)
    rows.append(
        {
            "id": f"t{len(rows) + 1:03d}",
            "prev": prev,
            "text": text,
            "pii": [{"kind": k, "value": v} for k, v in pii],
        }
    )


CARD_LEADS = [
    "Sure, the card number is {}.",
    "It's {} on the Visa.",
    "okay my card is {}",
    "Yeah I'll pay with {} if that works.",
    "Card: {}",
    "{} that's the long number on the front",
    "the number on my Mastercard is {} um",
    "Let me read it. {}.",
]
for _ in range(48):
    value = card_form(card())
    lead = rng.choice(CARD_LEADS)
    add(lead.format(value), [("card", value)], prev="Could I have the card you'd like to use?")

# card, expiry and cvv in one breath
for _ in range(14):
    c, e, v = card_form(card()), expiry(), cvv()
    add(
        f"card number {c}, it expires {e} and the security code is {v}",
        [("card", c), ("expiry", e), ("cvv", v)],
    )

CVV_ASKS = [
    "And the three digits on the back of the card?",
    "What's the security code?",
    "Can you read me the CVV please?",
    "Last thing, the card verification code on the back.",
]
for _ in range(26):
    v = cvv()
    add(
        rng.choice([f"{v}", f"It's {v}.", f"uh {v}", f"the code is {v}"]),
        [("cvv", v)],
        prev=rng.choice(CVV_ASKS),
    )
for _ in range(8):
    v = cvv()
    add(rng.choice([f"The CVV is {v}.", f"security code {v}", f"cvv: {v}"]), [("cvv", v)])

EXP_ASKS = ["And the expiration date?", "When does the card expire?", "Expiry date please."]
for _ in range(16):
    e = expiry()
    add(
        rng.choice([f"{e}", f"It's {e}.", f"expires {e}"]),
        [("expiry", e)],
        prev=rng.choice(EXP_ASKS),
    )

for _ in range(26):
    s = ssn()
    form = rng.choice(["dash", "dash", "space", "spoken", "plain"])
    value = {
        "dash": s,
        "space": s.replace("-", " "),
        "spoken": spoken(s.replace("-", "")),
        "plain": s.replace("-", ""),
    }[form]
    add(
        rng.choice(
            [
                f"My social security number is {value}.",
                f"SSN {value}",
                f"Sure, it's {value}, the social.",
                f"the last employer had my social as {value}",
            ]
        )
        if form in ("spoken", "plain")
        else rng.choice(
            [f"My social security number is {value}.", f"SSN {value}", f"It's {value}."]
        ),
        [("ssn", value)],
    )

for _ in range(40):
    p, _form = phone()
    add(
        rng.choice(
            [
                f"You can reach me at {p}.",
                f"my cell is {p}",
                f"Call me back on {p} after five.",
                f"The number on file should be {p}, can you check?",
                f"Text {p} please.",
            ]
        ),
        [("phone", p)],
    )

for _ in range(40):
    e, _spoken = email()
    add(
        rng.choice(
            [
                f"My email is {e}.",
                f"send it to {e} please",
                f"It's {e}, all lowercase.",
                f"I emailed you from {e} yesterday",
            ]
        ),
        [("email", e)],
    )

for _ in range(14):
    i = iban()
    add(rng.choice([f"My IBAN is {i}.", f"Please refund to {i}", f"IBAN: {i}"]), [("iban", i)])

# mixed: phone and email in one chat message
for _ in range(10):
    p, _ = phone()
    e, _ = email()
    add(f"Contact: {p} / {e}", [("phone", p), ("email", e)])

# --------------------------------------------------------------------- look-alikes
LOOK = [
    lambda: f"Your order number is {not_luhn(10)} and it ships tomorrow.",
    lambda: f"order #{rng.randint(1000000, 99999999)} was delivered",
    lambda: f"Order number {not_luhn(16)} shows as pending.",
    lambda: f"The tracking number is 1Z{rng.randint(10**9, 10**10)}",
    lambda: (
        f"I'll call you back at {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])} pm."
    ),
    lambda: f"We're open {rng.randint(7, 9)}:00 am to {rng.randint(5, 9)}:30 pm.",
    lambda: (
        f"The total comes to ${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}."
    ),
    lambda: (
        f"You were charged ${rng.randint(10, 999)}.{rng.randint(10, 99)} on the {rng.randint(1, 28)}th."
    ),
    lambda: f"That's {rng.randint(2, 40)} dollars and {rng.randint(1, 99)} cents.",
    lambda: f"The refund of €{rng.randint(100, 9999)},{rng.randint(10, 99)} is on its way.",
    lambda: f"It was on {rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2019, 2025)}.",
    lambda: f"Your appointment is March {rng.randint(1, 28)}, {rng.randint(2024, 2026)}.",
    lambda: f"Ticket TKT-{rng.randint(10000, 99999)} is escalated.",
    lambda: f"I opened case CS-{rng.randint(100000, 999999)} last week.",
    lambda: f"reference number {not_luhn(12)}",
    lambda: f"The invoice {rng.randint(10**8, 10**9)} is overdue.",
    lambda: f"It's about {rng.randint(3, 20)} kilometres from {rng.randint(100, 999)} Main Street.",
    lambda: f"Model number XR-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}",
    lambda: f"The promo code is SAVE{rng.randint(10, 50)} for {rng.randint(10, 30)} percent off.",
    lambda: "I have been a customer for three years and two months.",
    lambda: f"We have {rng.randint(100, 999)} units in stock and {rng.randint(10, 99)} on order.",
    lambda: f"Account balance is {rng.randint(1000, 9999)}.{rng.randint(10, 99)} as of today.",
    lambda: f"one two three, can you hear me? it's {rng.randint(2, 11)} o'clock here",
    lambda: (
        f"The confirmation number is {rng.choice('ABCDEFGH')}{rng.randint(10000, 99999)}{rng.choice('XYZ')}"
    ),
    lambda: (
        f"Flight {rng.choice(['UA', 'LH', 'BA'])}{rng.randint(100, 9999)} leaves at {rng.randint(10, 23)}:{rng.randint(10, 59)}."
    ),
    lambda: f"Version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)} fixed it.",
    lambda: f"Please allow {rng.randint(3, 10)} to {rng.randint(11, 15)} business days.",
    lambda: f"The serial is SN{not_luhn(11)}.",
    lambda: f"Room {rng.randint(100, 999)}, floor {rng.randint(1, 30)}.",
    lambda: (
        f"Between {rng.randint(1, 5)} and {rng.randint(6, 9)} pm on the {rng.randint(1, 28)}th works."
    ),
]
for i in range(150):
    add(LOOK[i % len(LOOK)](), [])

OUT.parent.mkdir(parents=True, exist_ok=True)
with OUT.open("w") as f:
    for row in rows:
        f.write(json.dumps(row) + "\n")
print(f"{len(rows)} turns -> {OUT}")
