"""The typed tree of a metric expression. Every node keeps `pos`: the 1-based column of
its first character, so a message can point at it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExpressionError(Exception):
    """An expression that does not parse or does not check: `position` is the 1-based
    column the message is about."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at column {position})")
        self.message = f"{message} (at column {position})"
        self.position = position


class Kind(StrEnum):
    """What a field holds: a number (facts, durations), text (attributes, channel...),
    or an entity id (engagement, customer, agent, conversation: countable only)."""

    NUMBER = "number"
    TEXT = "text"
    ENTITY = "entity"


class Agg(StrEnum):
    COUNT = "COUNT"
    SUM = "SUM"
    AVG = "AVG"
    MIN = "MIN"
    MAX = "MAX"
    COUNT_DISTINCT = "COUNT_DISTINCT"
    MEDIAN = "MEDIAN"


# -- values (what a metric computes) ---------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float
    pos: int


@dataclass(frozen=True)
class MetricRef:
    name: str
    pos: int


@dataclass(frozen=True)
class Field:
    """A name inside an aggregate or a condition: `channel`, `facts.score`,
    `attributes.region`, `engagement`."""

    name: str
    pos: int


@dataclass(frozen=True)
class Aggregate:
    func: Agg
    target: Field
    where: Condition | None
    pos: int


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: Value
    right: Value
    pos: int


@dataclass(frozen=True)
class Neg:
    operand: Value
    pos: int


Value = Number | MetricRef | Aggregate | BinOp | Neg


# -- conditions (WHERE) ------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    value: str
    pos: int


@dataclass(frozen=True)
class Compare:
    op: str  # = != < <= > >=
    left: Field
    right: Field | Text | Number
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    left: Condition
    right: Condition
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Condition
    pos: int


Condition = Compare | BoolOp | Not
