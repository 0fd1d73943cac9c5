"""Typed tree -> SQLAlchemy Core. Checks names and types on the way, so a tree that
compiles is one that runs: unknown names, a metric used as a filter, text summed or
compared with a number are ExpressionErrors at the node's column."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Float, case, cast, distinct, func, literal, not_, null
from sqlalchemy.sql.elements import ColumnElement

from callscribe.analytics.expression import nodes as n
from callscribe.analytics.expression.sql import median


class Scope(Protocol):
    """What names mean where the expression runs (analytics.metrics.Frame and the
    metric registry)."""

    def field(self, name: str) -> tuple[n.Kind, Any] | None: ...

    def is_metric(self, name: str) -> bool: ...

    def metric(self, name: str, pos: int) -> ColumnElement[Any]: ...


_NUMERIC_AGGS = {n.Agg.SUM, n.Agg.AVG, n.Agg.MIN, n.Agg.MAX, n.Agg.MEDIAN}
_ORDERING = {"<", "<=", ">", ">="}


def compile_value(node: n.Value, scope: Scope) -> ColumnElement[Any]:
    """The SQL of a metric: an aggregate expression over the engagements of a group."""
    if isinstance(node, n.Number):
        return literal(node.value, Float)
    if isinstance(node, n.MetricRef):
        if scope.is_metric(node.name):
            return scope.metric(node.name, node.pos)
        if scope.field(node.name) is not None:
            raise n.ExpressionError(
                f"'{node.name}' is a field, not a metric: aggregate it, e.g. "
                f"COUNT({node.name}) or AVG({node.name})",
                node.pos,
            )
        raise n.ExpressionError(f"Unknown metric '{node.name}'", node.pos)
    if isinstance(node, n.Neg):
        return -compile_value(node.operand, scope)
    if isinstance(node, n.BinOp):
        left = compile_value(node.left, scope)
        right = compile_value(node.right, scope)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        # SQLite divides integers as integers; a zero denominator is no value, not an error
        return cast(left, Float) / func.nullif(cast(right, Float), 0)
    return _aggregate(node, scope)


def _target(field: n.Field, scope: Scope) -> tuple[n.Kind, ColumnElement[Any]]:
    if scope.is_metric(field.name):
        raise n.ExpressionError(
            f"'{field.name}' is a metric: aggregate a field (or 'engagement') instead",
            field.pos,
        )
    found = scope.field(field.name)
    if found is None:
        raise n.ExpressionError(f"Unknown name '{field.name}'", field.pos)
    return found


def _aggregate(node: n.Aggregate, scope: Scope) -> ColumnElement[Any]:
    kind, column = _target(node.target, scope)
    if node.func in _NUMERIC_AGGS and kind is not n.Kind.NUMBER:
        raise n.ExpressionError(
            f"{node.func.value} needs a number; '{node.target.name}' is {kind.value}",
            node.target.pos,
        )
    value: ColumnElement[Any] = column
    if node.where is not None:
        value = case((compile_condition(node.where, scope), column), else_=null())
    if node.func is n.Agg.COUNT:
        return func.count(value)
    if node.func is n.Agg.COUNT_DISTINCT:
        return func.count(distinct(value))
    if node.func is n.Agg.MEDIAN:
        return median(value)
    return getattr(func, node.func.value.lower())(value)


def compile_condition(node: n.Condition, scope: Scope) -> ColumnElement[bool]:
    if isinstance(node, n.BoolOp):
        left = compile_condition(node.left, scope)
        right = compile_condition(node.right, scope)
        return (left & right) if node.op == "AND" else (left | right)
    if isinstance(node, n.Not):
        return not_(compile_condition(node.operand, scope))
    return _compare(node, scope)


def _operand_kind(node: n.Field | n.Text | n.Number, scope: Scope) -> tuple[n.Kind, Any]:
    if isinstance(node, n.Text):
        return n.Kind.TEXT, literal(node.value)
    if isinstance(node, n.Number):
        return n.Kind.NUMBER, literal(node.value, Float)
    if scope.is_metric(node.name):
        raise n.ExpressionError(
            f"Metrics cannot be filters: '{node.name}' is a metric (filter on fields)",
            node.pos,
        )
    found = scope.field(node.name)
    if found is None:
        raise n.ExpressionError(f"Unknown name '{node.name}'", node.pos)
    return found


def _compare(node: n.Compare, scope: Scope) -> ColumnElement[bool]:
    left_kind, left = _operand_kind(node.left, scope)
    right_kind, right = _operand_kind(node.right, scope)
    if left_kind is n.Kind.ENTITY:
        raise n.ExpressionError(f"'{node.left.name}' can be counted, not compared", node.left.pos)
    if left_kind is not right_kind:
        raise n.ExpressionError(
            f"Type error: '{node.left.name}' is {left_kind.value}, compared with "
            f"{right_kind.value}",
            node.right.pos,
        )
    if left_kind is n.Kind.TEXT and node.op in _ORDERING:
        raise n.ExpressionError(
            f"Type error: text compares with = or != only, not {node.op}", node.pos
        )
    op = node.op
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def metric_refs(node: n.Value) -> set[str]:
    """The metric names a tree refers to (for cycles and dependents)."""
    found: set[str] = set()
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, n.MetricRef):
            found.add(item.name)
        elif isinstance(item, n.BinOp):
            stack.extend((item.left, item.right))
        elif isinstance(item, n.Neg):
            stack.append(item.operand)
    return found
