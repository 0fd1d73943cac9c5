"""db.after_commit: callbacks run after a commit, never after a rollback."""

from __future__ import annotations

from pathlib import Path

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


def test_database_queue_and_data_dir_are_private_to_the_owner(app_env: dict[str, str]) -> None:
    """issue 17 #17: the SQLite database (and its WAL), the queue file and the data dir
    were 0644/0755; they hold what the 0600 secret key protects."""
    import stat
    from pathlib import Path

    from sqlalchemy import text

    from callscribe import queue
    from callscribe.db import get_engine
    from callscribe.settings import get_settings

    settings = get_settings()
    with get_engine().begin() as conn:
        conn.execute(text("SELECT 1"))
    queue.configure_queue(settings)
    queue.huey.storage.enqueue(b"x", 0)  # Huey's sqlite3 creates its tables now
    files = [settings.DATA_DIR / "queue.db"]
    if settings.database_url.startswith("sqlite"):
        db_path = Path(settings.database_url.split("///", 1)[1])
        files += [db_path] + [p for p in db_path.parent.glob(db_path.name + "-*")]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(settings.DATA_DIR.stat().st_mode) == 0o700


def test_opening_another_engine_on_a_database_corrupts_no_other_process_write(
    tmp_path: Path,
) -> None:
    """GIVEN this process holds a connection to a SQLite database WHEN it makes another
    engine on the same file (db.make_engine -> private_file, as every `migrate()` in a
    lifespan does) and another process then writes THEN every write survives. Before,
    private_file opened and closed the file, which drops every POSIX lock this process
    held on it, SQLite's included: the other process's WAL writes were lost, or the file
    came out 'malformed'."""
    import sqlite3
    import subprocess
    import sys

    from sqlalchemy import text

    from callscribe.db import make_engine, private_file

    path = tmp_path / "shared.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (v TEXT)"))
    held = engine.connect()
    held.execute(text("SELECT count(*) FROM t")).scalar()
    held.commit()
    private_file(path)
    child = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "[c.execute(\"INSERT INTO t VALUES ('child')\") for _ in range(3)]; c.commit()"
    )
    subprocess.run([sys.executable, "-c", child, str(path)], check=True)
    with engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('parent')"))
    held.execute(text("SELECT count(*) FROM t")).scalar()
    held.close()
    engine.dispose()
    rows = sqlite3.connect(path).execute("SELECT v FROM t").fetchall()
    assert sorted(rows) == [("child",)] * 3 + [("parent",)]


def test_after_rollback_runs_on_a_rollback_only(db_url: str) -> None:
    """What a transaction did outside the database (a stored blob) is undone when it
    rolls back, and kept when it commits; a savepoint's rollback is not the end."""
    from callscribe.db import after_rollback

    seen: list[str] = []
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.add(Company(name="Acme"))
        after_rollback(session, lambda: seen.append("undone"))
        with session.begin_nested():
            session.add(Company(name="Nested"))
        nested = session.begin_nested()
        nested.rollback()
        assert seen == []
        raise RuntimeError("boom")
    assert seen == ["undone"]
    with session_scope(db_url) as session:
        session.add(Company(name="Kept"))
        after_rollback(session, lambda: seen.append("wrongly undone"))
    assert seen == ["undone"]


def test_releasing_a_savepoint_is_not_the_commit(db_url: str) -> None:
    """SQLAlchemy reports a released SAVEPOINT as a commit: callbacks wait for the real
    one (before: they ran at the savepoint, ahead of the commit and despite a rollback)."""
    seen: list[str] = []
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.add(Company(name="Acme"))
        after_commit(session, lambda: seen.append("enqueued"))
        with session.begin_nested():
            session.add(Company(name="Nested"))
        assert seen == []
        raise RuntimeError("rolled back after the savepoint")
    assert seen == []
    with session_scope(db_url) as session:
        after_commit(session, lambda: seen.append("enqueued"))
        with session.begin_nested():
            session.add(Company(name="Nested"))
        assert seen == []
    assert seen == ["enqueued"]
