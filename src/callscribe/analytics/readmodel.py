"""The analytical read model: a DuckDB copy (DATA_DIR/analytics.duckdb) of the tables the
metrics read, refreshed incrementally, that run_query serves from when it is on
(CALLSCRIBE_ANALYTICS_READ_MODEL=duckdb), fresh and able to serve the statement.

- Same SQL: run_query's SQLAlchemy statement is compiled by `DuckDBDialect` (the
  PostgreSQL compiler, which DuckDB reads, under its own name so the few constructs the
  databases spell differently, expression/sql.py, get DuckDB's spelling). Role scoping and
  filters are in that statement, so both paths give the same rows.
- What it copies: engagements, turns, minutes, transactions, reviews, review tags and
  agents, every column but the long texts (turn text, summaries...). A statement naming
  another table or a column left out is not served here (`servable`): the primary runs it.
- Refresh (`refresh`, the worker's sweep every ANALYTICS_REFRESH_S): engagements whose
  updated_at is at or after the last watermark (minus OVERLAP_S, for transactions that
  committed late), with their turns and Minutes (the pipeline bumps updated_at when it
  writes them); the smaller tables (transactions, reviews, tags, agents) copied whole;
  deleted engagements found by a count check. Rows are copied in by this module (CSV
  through a temporary file), from SQLite or PostgreSQL alike: no DuckDB extension.
  One transaction per refresh: a query sees the model of one refresh, never half of one.
- Freshness: a query is served here only if the last refresh began at most
  ANALYTICS_MAX_LAG_S ago; the lag a dashboard shows is at most ANALYTICS_REFRESH_S plus
  one refresh's time. Otherwise it falls back to the primary database.
- One process owns the file (DuckDB's lock): `callscribe serve` with its embedded worker.
  Another process that cannot open it falls back to the primary (logged once).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, Table, func, select
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause

from callscribe.accounts.models import Agent
from callscribe.calls.models import Engagement, Minutes, Turn
from callscribe.crm.models import Transaction
from callscribe.reviews.models import Review, Tag
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

OVERLAP_S = 60  # re-read rows updated this long before the watermark (late commits)
BATCH = 50_000
NULL = "\\N"  # NULL in the CSV files (an empty field is an empty string)


class DuckDBDialect(PGDialect):
    """PostgreSQL's SQL compiler under the name `duckdb` (for @compiles), `$n` params:
    a parameter used twice keeps its number, so DuckDB sees a grouped expression
    (`attributes ->> $1`) in SELECT and GROUP BY as the same one."""

    name = "duckdb"
    supports_statement_cache = True

    def __init__(self, **kw: Any) -> None:
        super().__init__(paramstyle="numeric_dollar", **kw)


DIALECT = DuckDBDialect()

ENGAGEMENTS = cast(Table, Engagement.__table__)
TURNS = cast(Table, Turn.__table__)
MINUTES = cast(Table, Minutes.__table__)
# table -> columns left out (long texts nobody aggregates)
LEFT_OUT: dict[Table, set[str]] = {
    ENGAGEMENTS: {"error", "status_reason", "customer_name", "customer_phone"},
    TURNS: {"text", "pii_spans", "speaker"},
    MINUTES: {"summary", "overview", "sections", "notes", "subject"},
    cast(Table, Transaction.__table__): set(),
    cast(Table, Review.__table__): set(),
    cast(Table, Tag.__table__): {"description", "auto_error"},
    cast(Table, Agent.__table__): set(),
}
# copied whole at each refresh (small, or without a reliable change mark)
WHOLE = tuple(t for t in LEFT_OUT if t not in (ENGAGEMENTS, TURNS, MINUTES))


def _columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if c.name not in LEFT_OUT[table]]


def _duck_type(col: Column[Any]) -> str:
    kind = col.type
    if isinstance(kind, sqltypes.TypeDecorator):
        kind = kind.impl_instance
    for base, name in (
        (sqltypes.Uuid, "UUID"),
        (sqltypes.Boolean, "BOOLEAN"),
        (sqltypes.Integer, "BIGINT"),
        (sqltypes.Float, "DOUBLE"),
        (sqltypes.DateTime, "TIMESTAMP"),  # naive UTC
        (sqltypes.JSON, "JSON"),
    ):
        if isinstance(kind, base):
            return name
    return "VARCHAR"


def _ddl(table: Table) -> str:
    cols = ", ".join(f'"{c.name}" {_duck_type(c)}' for c in _columns(table))
    pk = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({cols}, PRIMARY KEY ({pk}))'


def _bind(dialect: Any, value: Any) -> Any:
    """A parameter of the copy's WHERE as the driver takes it (SQLite: ids as hex, times
    as naive UTC text; PostgreSQL: as they are)."""
    if dialect.name != "sqlite":
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return _cell(value)
    return value


def _cell(value: Any) -> Any:
    """A PostgreSQL value as DuckDB's CSV reader takes it."""
    if value is None:
        return NULL
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def plain_param(value: Any) -> Any:
    """A bind value as DuckDB compares it with the copied columns (naive UTC times)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        return str(value)  # a StrEnum as its plain string
    return value


@dataclass
class ReadModel:
    path: Path
    con: Any  # duckdb.DuckDBPyConnection
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: dict[str, int] = field(default_factory=lambda: {"duckdb": 0, "primary": 0})
    _local: threading.local = field(default_factory=threading.local)
    _cursors: threading.Lock = field(default_factory=threading.Lock)  # not during refreshes

    def cursor(self) -> Any:
        """This thread's own connection to the model (DuckDB's, one per thread)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            with self._cursors:
                cur = self._local.cur = self.con.cursor()
        return cur

    # -- state -----------------------------------------------------------------------
    def _meta(self, cur: Any, key: str) -> str | None:
        row = cur.execute("SELECT value FROM _meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def refreshed_at(self) -> datetime | None:
        value = self._meta(self.cursor(), "refreshed_at")
        return datetime.fromisoformat(value) if value else None

    def fresh(self, max_lag_s: float) -> bool:
        at = self.refreshed_at()
        return at is not None and (datetime.now(UTC) - at).total_seconds() <= max_lag_s

    # -- refresh ---------------------------------------------------------------------
    def refresh(self, session: Session) -> dict[str, int]:
        """Copy in what changed since the last refresh; returns rows copied per table."""
        with self.lock:
            with self._cursors:
                cur = self.con.cursor()
            try:
                return self._refresh(session, cur)
            finally:
                cur.close()

    def _refresh(self, session: Session, cur: Any) -> dict[str, int]:
        started = datetime.now(UTC)
        mark = self._meta(cur, "watermark")
        since = datetime.fromisoformat(mark) - timedelta(seconds=OVERLAP_S) if mark else None
        copied: dict[str, int] = {}
        eng = ENGAGEMENTS
        cur.execute("BEGIN TRANSACTION")
        try:
            changed = select(eng.c.id)
            if since is not None:
                changed = changed.where(eng.c.updated_at >= since)
            new_mark = session.scalar(select(func.max(eng.c.updated_at)))
            changed_ids = None if since is None else list(session.scalars(changed))
            if changed_ids is None:  # first refresh: everything
                for table in (eng, TURNS, MINUTES):
                    copied[table.name] = self._copy(cur, session, table, None)
            elif changed_ids:
                self._stage_ids(cur, changed_ids)
                for table, key in (
                    (TURNS, "engagement_id"),
                    (MINUTES, "engagement_id"),
                ):
                    cur.execute(
                        f'DELETE FROM "{table.name}" WHERE "{key}" IN (SELECT id FROM _changed)'
                    )
                cur.execute('DELETE FROM "engagements" WHERE id IN (SELECT id FROM _changed)')
                copied["engagements"] = self._copy(cur, session, eng, changed)
                for table in (TURNS, MINUTES):
                    ids = changed.scalar_subquery()
                    copied[table.name] = self._copy(
                        cur,
                        session,
                        table,
                        select(table).where(table.c.engagement_id.in_(ids)),
                    )
            self._drop_deleted(cur, session)
            for table in WHOLE:
                cur.execute(f'DELETE FROM "{table.name}"')
                copied[table.name] = self._copy(cur, session, table, None)
            self._set(cur, "refreshed_at", started.isoformat())
            if new_mark is not None:
                if new_mark.tzinfo is None:
                    new_mark = new_mark.replace(tzinfo=UTC)
                self._set(cur, "watermark", new_mark.isoformat())
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return copied

    def _set(self, cur: Any, key: str, value: str) -> None:
        cur.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [key, value])

    def _stage_ids(self, cur: Any, ids: list[uuid.UUID]) -> None:
        cur.execute("CREATE OR REPLACE TEMP TABLE _changed (id UUID)")
        with _csv([[str(i)] for i in ids]) as path:
            cur.execute(f"INSERT INTO _changed SELECT * FROM read_csv('{path}', {_opts(['UUID'])})")

    def _drop_deleted(self, cur: Any, session: Session) -> None:
        """Engagements deleted in the primary (retention, erasure): when the counts
        differ, drop the copies whose id the primary no longer has, with their rows."""
        eng = ENGAGEMENTS
        theirs = session.scalar(select(func.count()).select_from(eng)) or 0
        ours = cur.execute("SELECT count(*) FROM engagements").fetchone()[0]
        if ours == theirs:
            return
        self._stage_ids(cur, list(session.scalars(select(eng.c.id))))
        gone = "SELECT id FROM engagements WHERE id NOT IN (SELECT id FROM _changed)"
        for name in ("turns", "minutes"):
            cur.execute(f"DELETE FROM {name} WHERE engagement_id IN ({gone})")
        cur.execute(f"DELETE FROM engagements WHERE id IN ({gone})")

    def _copy(self, cur: Any, session: Session, table: Table, stmt: Any) -> int:
        """INSERT OR REPLACE the statement's rows of the table: read through the driver
        (no ORM, no type processing: SQLite's text is what DuckDB's CSV reader parses;
        PostgreSQL's values are made plain by `_cell`), in CSV batches."""
        cols = _columns(table)
        if stmt is None:
            stmt = select(table)
        stmt = stmt.with_only_columns(*(table.c[c.name] for c in cols))
        bind = session.connection()
        compiled = stmt.compile(dialect=bind.dialect)
        params = compiled.construct_params()
        raw: Any = bind.connection.driver_connection
        dbapi_cur = raw.cursor()
        if compiled.positiontup is not None:
            values: Any = [_bind(bind.dialect, params[k]) for k in compiled.positiontup]
        else:
            values = {k: _bind(bind.dialect, v) for k, v in params.items()}
        dbapi_cur.execute(str(compiled), values)
        plain = bind.dialect.name == "sqlite"
        names = ", ".join(f'"{c.name}"' for c in cols)
        opts = _opts([_duck_type(c) for c in cols])
        n = 0
        try:
            while part := dbapi_cur.fetchmany(BATCH):
                n += len(part)
                if plain:
                    rows: Any = ([NULL if v is None else v for v in row] for row in part)
                else:
                    rows = ([_cell(v) for v in row] for row in part)
                with _csv(rows) as path:
                    cur.execute(
                        f'INSERT OR REPLACE INTO "{table.name}" ({names}) '
                        f"SELECT * FROM read_csv('{path}', {opts})"
                    )
        finally:
            dbapi_cur.close()
        return n

    # -- queries ---------------------------------------------------------------------
    def execute(self, stmt: Any) -> list[tuple[Any, ...]]:
        compiled = stmt.compile(dialect=DIALECT)
        params = compiled.construct_params()
        values = [plain_param(params[k]) for k in compiled.positiontup]
        rows = self.cursor().execute(str(compiled), values).fetchall()
        return [tuple(r) for r in rows]


def _opts(types: list[str]) -> str:
    cols = ", ".join(f"'c{i}': '{t}'" for i, t in enumerate(types))
    return (
        f"columns = {{{cols}}}, header = false, nullstr = '{NULL}', allow_quoted_nulls = false, "
        "quote = '\"', escape = '\"', delim = ','"
    )


class _csv:  # noqa: N801  (a context manager read as a noun)
    def __init__(self, rows: Iterable[list[Any]]):
        self.rows = rows

    def __enter__(self) -> str:
        fd, self.path = tempfile.mkstemp(suffix=".csv", prefix="cs-readmodel-")
        with os.fdopen(fd, "w", newline="") as f:
            csv.writer(f).writerows(self.rows)
        return self.path

    def __exit__(self, *exc: object) -> None:
        os.unlink(self.path)


def servable(stmt: Any) -> bool:
    """Only copied tables and copied columns: otherwise the primary runs it."""
    for el in visitors.iterate(stmt):
        if isinstance(el, Table):
            if el not in LEFT_OUT:
                return False
        elif isinstance(el, ColumnClause):
            table = getattr(el, "table", None)
            table = getattr(table, "element", table)  # an alias of a table
            if isinstance(table, Table) and (table not in LEFT_OUT or el.name in LEFT_OUT[table]):
                return False
    return True


# -- the process's model -----------------------------------------------------------------

_models: dict[Path, ReadModel] = {}
_unavailable: set[Path] = set()
_guard = threading.Lock()


def model_path() -> Path:
    return get_settings().DATA_DIR / "analytics.duckdb"


def current() -> ReadModel | None:
    """This process's read model when configured (opened, with its tables, on first
    use), else None; None too when another process holds the file (logged once)."""
    kind = get_settings().ANALYTICS_READ_MODEL.strip().lower()
    if kind != "duckdb":
        return None
    path = model_path().resolve()
    with _guard:
        if path in _models:
            return _models[path]
        if path in _unavailable:
            return None
        import duckdb

        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            _unavailable.add(path)
            log.warning("analytics read model %s unavailable (%s): primary database", path, exc)
            return None
        con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for table in LEFT_OUT:
            con.execute(_ddl(table))
        _models[path] = ReadModel(path, con)
        return _models[path]


def close_all() -> None:
    with _guard:
        for m in _models.values():
            m.con.close()
        _models.clear()
        _unavailable.clear()


def refresh_due() -> int:
    """The worker's sweep: refresh when ANALYTICS_REFRESH_S have passed since the last
    refresh began (no-op when the read model is off). Returns the rows copied."""
    model = current()
    if model is None:
        return 0
    at = model.refreshed_at()
    every = get_settings().ANALYTICS_REFRESH_S
    if at is not None and (datetime.now(UTC) - at).total_seconds() < every:
        return 0
    return sum(refresh_now().values())


def refresh_now() -> dict[str, int]:
    """Refresh this process's read model now (no-op when off)."""
    from callscribe.db import session_scope

    model = current()
    if model is None:
        return {}
    t = time.perf_counter()
    with session_scope() as session:
        copied = model.refresh(session)
    log.info(
        "analytics read model refreshed in %.0f ms: %s", (time.perf_counter() - t) * 1000, copied
    )
    return copied
