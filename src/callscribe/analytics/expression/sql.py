"""The few SQL pieces the two databases spell differently, as SQLAlchemy constructs
compiled per dialect: MEDIAN, a date bucket, seconds since the epoch. On SQLite the
median is an aggregate registered on the connection (`register_sqlite_functions`)."""

from __future__ import annotations

import statistics
from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class median(FunctionElement[float]):  # noqa: N801  (reads as the SQL it compiles to)
    type = Float()
    inherit_cache = True
    name = "median"


@compiles(median)
def _median_sqlite(element: median, compiler: Any, **kw: Any) -> str:
    return f"cs_median({compiler.process(element.clauses, **kw)})"


@compiles(median, "postgresql")
def _median_pg(element: median, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {arg})"


class date_bucket(FunctionElement[str]):  # noqa: N801
    """The day, week (starting Monday) or month of a timestamp, as 'YYYY-MM-DD' (UTC)."""

    type = String()
    inherit_cache = True
    name = "date_bucket"

    def __init__(self, unit: str, expr: Any):
        if unit not in ("day", "week", "month"):
            raise ValueError(unit)
        self.unit = unit
        super().__init__(expr)


@compiles(date_bucket)
def _bucket_sqlite(element: date_bucket, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    if element.unit == "day":
        return f"strftime('%Y-%m-%d', {arg})"
    if element.unit == "month":
        return f"strftime('%Y-%m-01', {arg})"
    # the Sunday on or after, minus six days: the Monday of its week
    return f"date({arg}, 'weekday 0', '-6 days')"


@compiles(date_bucket, "postgresql")
def _bucket_pg(element: date_bucket, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('{element.unit}', ({arg}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


class epoch_s(FunctionElement[float]):  # noqa: N801
    """Seconds since 1970 of a timestamp (for differences)."""

    type = Float()
    inherit_cache = True
    name = "epoch_s"


@compiles(epoch_s)
def _epoch_sqlite(element: epoch_s, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_s, "postgresql")
def _epoch_pg(element: epoch_s, compiler: Any, **kw: Any) -> str:
    return f"extract(epoch from {compiler.process(element.clauses, **kw)})"


# DuckDB (the analytical read model, naive UTC timestamps): analytics/readmodel.py
@compiles(median, "duckdb")
def _median_duckdb(element: median, compiler: Any, **kw: Any) -> str:
    return f"quantile_cont({compiler.process(element.clauses, **kw)}, 0.5)"


@compiles(date_bucket, "duckdb")
def _bucket_duckdb(element: date_bucket, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"strftime(date_trunc('{element.unit}', {arg}), '%Y-%m-%d')"


@compiles(epoch_s, "duckdb")
def _epoch_duckdb(element: epoch_s, compiler: Any, **kw: Any) -> str:
    return f"epoch({compiler.process(element.clauses, **kw)})"


class _Median:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """MEDIAN for SQLite: an aggregate over the group's values (interpolating between
    the two middle ones, as PostgreSQL's percentile_cont(0.5) does)."""
    dbapi_connection.create_aggregate("cs_median", 1, _Median)
