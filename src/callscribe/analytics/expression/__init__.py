"""The metric expression language: `parser` (lark grammar -> typed tree, with the
position of every node), `validate` (names and types), `compile` (tree -> SQLAlchemy
Core over the analytics query's columns). Never eval, never SQL text."""

from callscribe.analytics.expression.nodes import ExpressionError
from callscribe.analytics.expression.parser import parse

__all__ = ["ExpressionError", "parse"]
