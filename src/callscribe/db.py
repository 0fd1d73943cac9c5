"""Engine, sessions and migrations. The boundary (a request, a task, a CLI command) owns
the transaction: it opens `session_scope()`, services only flush()."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from callscribe.settings import get_settings

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def private_file(path: Path) -> None:
    """Create `path` readable by the owner only (0600), or tighten an existing one: the
    SQLite database and the queue hold the same secrets as the key file. SQLite gives
    its -wal and -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # never open (and close) a database file that exists: closing any descriptor of
        # it drops every POSIX lock this process holds on it, SQLite's included, and
        # another process then resets the WAL under this one's connections (writes lost)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if extra.exists():
            os.chmod(extra, 0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_file(Path(path))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **_pool_options()
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "before_cursor_execute", _strip_nul_parameters, retval=True)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url, pool_pre_ping=True, **_pool_options())
    event.listen(engine, "handle_error", _hide_server_detail)
    event.listen(engine, "before_cursor_execute", _strip_nul_parameters, retval=True)
    return engine


# NUL (U+0000) in text: PostgreSQL cannot store it in text or JSONB (a DataError, a 500 on
# every endpoint that stores text), and it means nothing in a transcript, a name or a
# label. Decision (issue 17 #11): removed from every value written, on both databases,
# so SQLite and PostgreSQL store the same text and no request fails for it.


def strip_nul(value: Any) -> Any:
    """`value` with NUL removed from every string in it (dicts and lists walked)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(strip_nul(v) for v in value)
    return value


def _json_without_nul(value: Any) -> str:
    return json.dumps(strip_nul(value))


def _strip_nul_parameters(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    return statement, strip_nul(parameters)


def _hide_server_detail(context: Any) -> None:
    """PostgreSQL's error text carries DETAIL (and CONTEXT) lines that quote row values,
    e.g. `Key (email)=(jane@example.org) already exists.`: PII in every logged traceback
    (issue 17 #20). Keep the first line, on the driver's error and on SQLAlchemy's; the
    detail stays readable in code as `exc.orig.diag.message_detail`."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is None or not error.args or not isinstance(error.args[0], str):
            continue
        text = error.args[0]
        cut = min(
            (i for i in (text.find("\nDETAIL:"), text.find("\nCONTEXT:")) if i >= 0), default=-1
        )
        if cut >= 0:
            error.args = (text[:cut] + "\n(server detail hidden: it may quote row values)",)


def _pool_options() -> dict[str, Any]:  # shared by both databases
    """One connection for every thread that can hold one (issue 17 #3: 5+10 connections
    for 40 web threads deadlocked), and a short wait for one: a request that gets none
    is answered 503 + Retry-After (app.py) instead of hanging 30 s."""
    settings = get_settings()
    return {
        "pool_size": settings.DB_POOL_SIZE,
        "max_overflow": 10,
        "pool_timeout": settings.DB_POOL_TIMEOUT_S,
        # SQL errors are logged without their parameters: they carry PII (issue 17 #20)
        "hide_parameters": True,
        "json_serializer": _json_without_nul,
    }


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()


_sessionmakers: dict[str, sessionmaker[Session]] = {}


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    engine = get_engine(url)
    key = str(engine.url)
    maker = _sessionmakers.get(key)
    if maker is None:
        maker = _sessionmakers[key] = sessionmaker(engine, expire_on_commit=False)
    return maker


AfterCommit = Callable[[], None]
_AFTER_COMMIT_KEY = "callscribe.after_commit"


def after_commit(session: Session, fn: AfterCommit) -> None:
    """Run `fn` once the session's current transaction has committed, never before and
    never after a rollback. Jobs are enqueued and blobs deleted this way, so a worker
    never sees a row that is not there yet and a failed commit loses no file.

    Callbacks run in the order they were added; one that raises is logged and does not
    stop the others (the data is committed either way; a sweep repairs lost jobs)."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(fn)


_AFTER_ROLLBACK_KEY = "callscribe.after_rollback"


def after_rollback(session: Session, fn: AfterCommit) -> None:
    """Run `fn` if the session's current transaction rolls back; dropped when it
    commits. Undoes what the transaction did outside the database: a blob stored for a
    row that is then not committed would belong to nothing. (A process killed before
    the commit runs nothing: this narrows the window, it does not close it.)"""
    session.info.setdefault(_AFTER_ROLLBACK_KEY, []).append(fn)


def _run_callbacks(callbacks: list[AfterCommit], when: str) -> None:
    for fn in callbacks:
        try:
            fn()
        except Exception:
            log.exception("%s callback %s failed", when, getattr(fn, "__name__", fn))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # SQLAlchemy sends after_commit when a SAVEPOINT is released too: that is not
        # the commit (ran here, a job was enqueued for rows not yet committed, and ran
        # even when the transaction then rolled back)
        return
    session.info.pop(_AFTER_ROLLBACK_KEY, None)
    _run_callbacks(session.info.pop(_AFTER_COMMIT_KEY, []), "after-commit")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_AFTER_COMMIT_KEY, None)
        _run_callbacks(session.info.pop(_AFTER_ROLLBACK_KEY, []), "after-rollback")


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    here = Path(__file__).parent
    cfg = Config()
    cfg.set_main_option("script_location", str(here / "migrations"))
    # configparser interpolates %; socket paths in URLs are percent-encoded
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


_migrated: set[str] = set()


def migrate(url: str | None = None) -> None:
    """Bring the database to the newest schema (idempotent; runs on every start)."""
    from alembic import command

    url = url or get_settings().database_url
    if url in _migrated:
        return
    command.upgrade(alembic_config(url), "head")
    _migrated.add(url)
