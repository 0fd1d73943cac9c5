"""Read-time masking: labels in place of values, pieces for the page, and reveal."""

from __future__ import annotations

from callscribe.privacy.detectors import PiiKind, Span, detect
from callscribe.privacy.masking import (
    mask_text,
    mask_texts,
    pieces,
    reveal,
    spans_for,
    spans_from_json,
    spans_to_json,
)

TEXT = "Card 4111 1111 1111 1111, phone 415-555-0198, mail pat@example.com."


def test_mask_text_puts_each_kinds_label_in_place_of_the_value() -> None:
    assert mask_text(TEXT) == "Card [card], phone [phone], mail [email]."


def test_masking_masked_text_changes_nothing() -> None:
    once = mask_text(TEXT)
    assert mask_text(once) == once


def test_stored_spans_round_trip_and_are_used_instead_of_detecting() -> None:
    spans = detect(TEXT)
    stored = spans_to_json(spans)
    assert spans_from_json(stored, TEXT) == spans
    # a span stored by hand is what masks, not a new detection
    assert (
        mask_text("call Bob now", spans_for("call Bob now", [["name", 5, 8]])) == "call [name] now"
    )


def test_stored_spans_that_do_not_fit_the_text_are_ignored_and_detected_again() -> None:
    assert spans_from_json([["card", 0, 999]], "short") is None
    assert spans_from_json([["nonsense", 0, 1]], "short") is None
    assert spans_from_json("garbage", "short") is None
    assert spans_for("4111 1111 1111 1111", [["card", 0, 999]]) == [Span(0, 19, PiiKind.CARD)]


def test_pieces_and_reveal_agree_on_the_index_of_each_value() -> None:
    spans = detect(TEXT)
    parts = pieces(TEXT, spans)
    masked = [p for p in parts if p.kind]
    assert [(p.text, p.index) for p in masked] == [("[card]", 0), ("[phone]", 1), ("[email]", 2)]
    assert "".join(p.text for p in parts) == mask_text(TEXT)
    assert reveal(TEXT, spans, 1) == (PiiKind.PHONE, "415-555-0198")
    assert reveal(TEXT, spans, 3) is None and reveal(TEXT, spans, -1) is None


def test_mask_texts_masks_a_cvv_given_after_the_question() -> None:
    assert mask_texts(["What is the security code?", "It's 737."]) == [
        "What is the security code?",
        "It's [cvv].",
    ]
