"""Minutes export speed for a two-hour call (2,000 turns, 60 action items).

    python bench/bench_exports.py [--repeat 3]

Prints seconds per render and output size for Markdown, DOCX and PDF.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportSection, ExportTurn  # noqa: E402
from callscribe.exports.service import EXPORT_FORMATS  # noqa: E402


def two_hour_doc() -> ExportDoc:
    lines = [
        "Thanks for calling, this is Zoë — how can I help you today?",
        "My card was charged twice for the same order, 49,90 € each time.",
        "I'm sorry about that; let me look at the transactions on your account.",
        "It's order 88231, placed on Friday from Montréal.",
    ]
    turns = [
        ExportTurn(
            role=("agent", "customer")[i % 2],
            start_ms=i * 3600,
            end_ms=i * 3600 + 3000,
            text=lines[i % 4] + f" ({i})",
        )
        for i in range(2000)
    ]
    return ExportDoc(
        call_id="ab12cd34-0000-0000-0000-000000000000",
        title="Double charge on order 88231",
        started_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC),
        duration_s=7200,
        direction="inbound",
        agent_name="Zoë Martin",
        customer_name="Łukasz Nowak",
        status="completed",
        summary="The customer was charged twice. " * 40,
        sentiment="mixed",
        outcome="resolved",
        sections=[
            ExportSection(heading=f"Part {i}", bullets=["A point made."] * 5) for i in range(6)
        ],
        action_items=[
            ExportActionItem(title=f"Refund step {i}", priority="high", status="open")
            for i in range(60)
        ],
        turns=turns,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    doc = two_hour_doc()
    for fmt, (_ctype, render) in EXPORT_FORMATS.items():
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            out = render(doc)
            best = min(best, time.perf_counter() - started)
            size = len(out.encode() if isinstance(out, str) else out)
        print(f"{fmt:5} {best:6.2f} s  {size / 1024:7.0f} KB   (2,000 turns, 60 action items)")


if __name__ == "__main__":
    main()
