from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportSection, ExportTurn

LONG_SUMMARY = (
    "Zoë Ångström called about a refund of €129.99 for order #4711 — she was “charged twice”. "
    "The agent confirmed the *duplicate* charge, opened ticket [REF-9] and promised a refund "
    "within 5 days. "
) * 12

UNICODE_LINES = [
    "Grüß Gott, hier ist José Müller — wie kann ich helfen?",
    "I was charged €129.99 twice, “again”! 😡",
    "Je comprends, ça arrive rarement. Δ = 2 × €129,99",
    "Спасибо, жду возврат.",
    "顧客は返金を希望しています",
    "*bold* _under_ `code` <script>alert(1)</script> [link](http://x) | pipe",
]
ROLES = ["agent", "customer", "bot", "unknown"]


def make_turns(count: int) -> list[ExportTurn]:
    turns = []
    for i in range(count):
        start = i * 3_600  # 2,000 turns * 3.6 s = 2 hours
        turns.append(
            ExportTurn(
                role=ROLES[i % 4] if i % 10 else ROLES[i % 2],
                speaker="Anna Müller" if i % 50 == 0 and i % 2 == 0 else None,
                start_ms=start,
                end_ms=start + 3_000,
                text=f"{UNICODE_LINES[i % len(UNICODE_LINES)]} (turn {i})",
            )
        )
    return turns


def make_big_doc() -> ExportDoc:
    """A two-hour call: Unicode everywhere, long summary, 60 action items, 2,000 turns."""
    return ExportDoc(
        call_id="ab12cd34-5678-4def-9012-3456789abcde",
        title="Refund request — “double charge” for Zoë",
        started_at=datetime(2026, 11, 21, 7, 55, tzinfo=UTC),
        duration_s=7_205.0,
        direction="inbound",
        agent_name="José Müller",
        customer_name="Zoë Ångström",
        status="completed",
        summary=LONG_SUMMARY,
        overview="Customer charged twice.\nRefund approved.\n\n# Not a heading\n- not a list",
        sentiment="negative → positive",
        outcome="Refund issued",
        sections=[
            ExportSection(
                heading="Key points", bullets=["Duplicate charge of €129.99", "ETA 5 days"]
            ),
            ExportSection(heading="Next steps", bullets=["Email confirmation to zoë@example.com"]),
        ],
        action_items=[
            ExportActionItem(
                title=f"Follow-up task {i}: refund €{i}.00 to Zoë",
                priority=["high", "medium", "low"][i % 3],
                status="done" if i % 4 == 0 else "open",
                owner="José Müller" if i % 2 else None,
                due=f"2026-12-{(i % 28) + 1:02d}" if i % 3 else None,
            )
            for i in range(60)
        ],
        notes=["Customer prefers email", "VIP since 2019 ✓"],
        tags=["billing", "refund", "vip"],
        turns=make_turns(2_000),
    )


def make_empty_doc() -> ExportDoc:
    """A call that has no minutes and no transcript yet."""
    return ExportDoc(
        call_id="ff00ee11",
        title="Call ff00ee11",
        started_at=None,
        duration_s=None,
        direction=None,
        agent_name=None,
        customer_name=None,
        status="transcribing",
        summary=None,
        overview=None,
        sentiment=None,
        outcome=None,
    )


@pytest.fixture(scope="session")
def big_doc() -> ExportDoc:
    return make_big_doc()


@pytest.fixture
def empty_doc() -> ExportDoc:
    return make_empty_doc()
