"""Text -> typed tree, with lark (LALR: an explicit stack, no recursion while parsing).
Nesting is bounded before anything recursive sees the tree, so 10,000 parentheses are
a message at the column where it got too deep, not a RecursionError."""

from __future__ import annotations

from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from callscribe.analytics.expression import nodes as n

MAX_LENGTH = 2000  # characters; a metric is a line or two, not a program
MAX_DEPTH = 32  # nesting of parentheses, aggregates, operators

GRAMMAR = r"""
?start: sum

?sum: product
    | sum "+" product   -> add
    | sum "-" product   -> sub
?product: unary
    | product "*" unary -> mul
    | product "/" unary -> div
?unary: atom
    | "-" unary         -> neg
?atom: NUMBER           -> number
    | aggregate
    | NAME              -> ref
    | "(" sum ")"

aggregate: AGG "(" NAME [WHERE cond] ")"

?cond: conj
    | cond OR conj      -> or_
?conj: negation
    | conj AND negation -> and_
?negation: comparison
    | NOT negation      -> not_
    | "(" cond ")"
comparison: NAME COMP operand
?operand: NAME          -> field
    | STRING            -> text
    | NUMBER            -> number
    | "-" NUMBER        -> negative_number

AGG.3: /(COUNT_DISTINCT|COUNT|SUM|AVG|MIN|MAX|MEDIAN)(?=\s*\()/i
WHERE.2: /WHERE\b/i
AND.2: /AND\b/i
OR.2: /OR\b/i
NOT.2: /NOT\b/i
COMP: "!=" | "<=" | ">=" | "=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?/
STRING: /"[^"\\\n]{0,200}"/
NUMBER: /\d{1,15}(\.\d{1,15})?/

%import common.WS
%ignore WS
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)

_EXPECTED = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a "quoted" text',
    "AGG": "an aggregate (COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT, MEDIAN)",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMP": "a comparison (=, !=, <, <=, >, >=)",
    "WHERE": "WHERE",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
}


def _check_nesting(text: str) -> None:
    depth = 0
    in_string = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise n.ExpressionError(
                    f"The expression is nested too deeply (more than {MAX_DEPTH} levels)", i + 1
                )
        elif ch == ")":
            depth -= 1


def _too_deep(tree: Tree[Any], limit: int) -> int | None:
    """The column of the first node deeper than `limit`, found without recursion."""
    stack: list[tuple[Tree[Any], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return getattr(node.meta, "column", 1) or 1
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))
    return None


def _describe(expected: set[str]) -> str:
    names = sorted({_EXPECTED.get(e, e) for e in expected if not e.startswith("__")})
    return ", ".join(names[:6])


def parse(text: str) -> n.Value:
    """The typed tree of `text`, or an ExpressionError at the column that is wrong."""
    if not text or not text.strip():
        raise n.ExpressionError("The expression is empty", 1)
    _check_nesting(text)
    if len(text) > MAX_LENGTH:
        raise n.ExpressionError(
            f"The expression is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1
        )
    try:
        tree = _parser.parse(text)
    except UnexpectedCharacters as exc:
        raise n.ExpressionError(
            f"Unexpected character {text[exc.pos_in_stream or 0]!r}", exc.column
        ) from None
    except UnexpectedEOF as exc:
        raise n.ExpressionError(
            f"The expression ends too early; expected {_describe(set(exc.expected))}",
            len(text) + 1,
        ) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise n.ExpressionError(
                f"The expression ends too early; expected {_describe(exc.expected)}",
                len(text) + 1,
            ) from None
        raise n.ExpressionError(
            f"Unexpected {str(exc.token)!r}; expected {_describe(exc.expected)}", exc.column
        ) from None
    except UnexpectedInput as exc:  # any other lark refusal
        raise n.ExpressionError("The expression does not parse", exc.column) from None
    if not isinstance(tree, Tree):
        tree = Tree("wrap", [tree])
    column = _too_deep(tree, MAX_DEPTH * 2)
    if column is not None:
        raise n.ExpressionError(
            f"The expression is nested too deeply (more than {MAX_DEPTH} levels)", column
        )
    result = _ToNodes().transform(tree)
    if isinstance(result, Tree):  # the "wrap" of a bare token
        result = result.children[0]
    return result


def _col(tok: Token) -> int:
    return tok.column or 1


@v_args(meta=True)
class _ToNodes(Transformer[Token, Any]):
    def number(self, meta: Any, children: list[Token]) -> n.Number:
        return n.Number(float(children[0]), _col(children[0]))

    def negative_number(self, meta: Any, children: list[Token]) -> n.Number:
        return n.Number(-float(children[0]), meta.column)

    def ref(self, meta: Any, children: list[Token]) -> n.MetricRef:
        return n.MetricRef(str(children[0]), _col(children[0]))

    def field(self, meta: Any, children: list[Token]) -> n.Field:
        return n.Field(str(children[0]), _col(children[0]))

    def text(self, meta: Any, children: list[Token]) -> n.Text:
        return n.Text(str(children[0])[1:-1], _col(children[0]))

    def _bin(self, op: str, meta: Any, children: list[Any]) -> n.BinOp:
        return n.BinOp(op, children[0], children[1], meta.column)

    def add(self, meta: Any, children: list[Any]) -> n.BinOp:
        return self._bin("+", meta, children)

    def sub(self, meta: Any, children: list[Any]) -> n.BinOp:
        return self._bin("-", meta, children)

    def mul(self, meta: Any, children: list[Any]) -> n.BinOp:
        return self._bin("*", meta, children)

    def div(self, meta: Any, children: list[Any]) -> n.BinOp:
        return self._bin("/", meta, children)

    def neg(self, meta: Any, children: list[Any]) -> n.Neg:
        return n.Neg(children[0], meta.column)

    def aggregate(self, meta: Any, children: list[Any]) -> n.Aggregate:
        agg, target, _where, cond = children
        func = n.Agg(str(agg).upper())
        return n.Aggregate(func, n.Field(str(target), _col(target)), cond, _col(agg))

    def comparison(self, meta: Any, children: list[Any]) -> n.Compare:
        left, op, right = children
        return n.Compare(str(op), n.Field(str(left), _col(left)), right, _col(left))

    def or_(self, meta: Any, children: list[Any]) -> n.BoolOp:
        return n.BoolOp("OR", children[0], children[2], meta.column)

    def and_(self, meta: Any, children: list[Any]) -> n.BoolOp:
        return n.BoolOp("AND", children[0], children[2], meta.column)

    def not_(self, meta: Any, children: list[Any]) -> n.Not:
        return n.Not(children[1], meta.column)
