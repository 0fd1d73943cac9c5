"""db.after_commit: callbacks run after a commit, never after a rollback."""

from __future__ import annotations

import pytest

from callscribe.accounts.models import Company
from callscribe.db import after_commit, session_scope


def test_callbacks_run_after_the_commit_in_order(db_url: str) -> None:
    seen: list[str] = []
    with session_scope(db_url) as session:
        session.add(Company(name="Acme"))
        after_commit(session, lambda: seen.append("first"))
        after_commit(session, lambda: seen.append("second"))
        session.flush()
        assert seen == []  # not before the commit
    assert seen == ["first", "second"]


def test_callbacks_are_dropped_when_the_transaction_rolls_back(db_url: str) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.add(Company(name="Acme"))
        after_commit(session, lambda: seen.append("ran"))
        raise RuntimeError("boom")
    assert seen == []
    with session_scope(db_url) as session:  # a later transaction on a new session is clean
        session.add(Company(name="Other"))
    assert seen == []


def test_a_failing_callback_does_not_stop_the_others(db_url: str) -> None:
    seen: list[str] = []

    def boom() -> None:
        raise ValueError("receiver gone")

    with session_scope(db_url) as session:
        session.add(Company(name="Acme"))
        after_commit(session, boom)
        after_commit(session, lambda: seen.append("ran"))
    assert seen == ["ran"]
