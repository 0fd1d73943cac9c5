"""from_validation(): the one translation of a failed validation into our 422; and the
error codes, declared once in ErrorCode."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

import callscribe
from callscribe.errors import CallscribeError, ErrorCode, ValidationFailed, from_validation


class Inner(BaseModel):
    n: int


class Shape(BaseModel):
    name: str = Field(max_length=3)
    count: int
    inner: Inner | None = None

    @model_validator(mode="after")
    def not_bob(self) -> Shape:
        if self.name == "bob":
            raise ValueError("bob is taken")
        return self


def _error(data: dict) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate(data)
    return caught.value


def test_first_problem_by_default_with_its_location() -> None:
    failed = from_validation(_error({"name": "long", "count": "x"}))
    assert isinstance(failed, ValidationFailed)
    assert failed.status == 422 and failed.code == ErrorCode.VALIDATION_ERROR
    assert failed.message == "name: String should have at most 3 characters"
    assert failed.to_dict() == {
        "success": False,
        "error": {"code": "validation_error", "message": failed.message},
    }


def test_several_problems_nested_locations_and_a_prefix() -> None:
    exc = _error({"name": "long", "count": "x", "inner": {"n": "y"}})
    message = from_validation(exc, limit=3).message
    assert message.split("; ") == [
        "name: String should have at most 3 characters",
        "count: Input should be a valid integer, unable to parse string as an integer",
        "inner.n: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert from_validation(exc, prefix="Upload-Metadata").message.startswith(
        "Upload-Metadata name: "
    )


def test_a_whole_model_problem_has_no_location() -> None:
    assert from_validation(_error({"name": "bob", "count": 1})).message == (
        "Value error, bob is taken"
    )


def test_request_locations_the_user_did_not_write_are_dropped() -> None:
    class RequestLike:
        def errors(self) -> list[dict]:
            return [
                {"loc": ("query", "page"), "msg": "Input should be less than or equal to 9"},
                {"loc": ("body",), "msg": "Field required"},
            ]

    failed = from_validation(RequestLike(), limit=5, skip_loc=("body", "query"))
    assert failed.message == "page: Input should be less than or equal to 9; Field required"


def test_no_problems_listed_still_says_something() -> None:
    class Empty:
        def errors(self) -> list[dict]:
            return []

    assert from_validation(Empty()).message == "Invalid request."


def _declared_codes(tree: ast.AST) -> list[tuple[int, str]]:
    """String codes given to errors: `code="x"` arguments and `code = "x"` class fields."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code":
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found.append((node.value.lineno, node.value.value))
        elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.Tuple)):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for name, value in zip(names, values, strict=False):
                    if (
                        isinstance(name, ast.Name)
                        and name.id == "code"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        found.append((value.lineno, value.value))
    return found


def test_every_error_code_in_the_code_base_is_declared_in_error_code() -> None:
    """A client branches on `error.code`: each one is a member of ErrorCode, so the list
    of codes is in one place (and a typo is a test failure, not a new code)."""
    root = Path(callscribe.__file__).parent
    undeclared = []
    for path in sorted(root.rglob("*.py")):
        for line, code in _declared_codes(ast.parse(path.read_text(), str(path))):
            if code not in set(ErrorCode):
                undeclared.append(f"{path.relative_to(root)}:{line}: {code}")
    assert not undeclared, "codes missing from ErrorCode:\n" + "\n".join(undeclared)


def test_codes_render_as_their_plain_value() -> None:
    err = CallscribeError("x", code=ErrorCode.BUSY)
    assert err.to_dict()["error"]["code"] == "busy"
    assert type(err.to_dict()["error"]["code"]) is str
