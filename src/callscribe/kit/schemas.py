"""Response shapes shared by every domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 200  # DESIGN: list endpoints answer at most 200 items a page
MAX_PAGE = 100_000  # past this a page number is a mistake (or a probe), not a request


class OutModel(BaseModel):
    """A response model read straight from an ORM row (`OutModel.model_validate(row)`):
    fields named like the row's attributes need no hand-written copy."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list: `{"items", "total", "page", "page_size"}`. paginate() returns
    a page of ORM rows; `map()` turns it into a page of response models."""

    # rows of any class: a page of ORM rows is checked with isinstance only
    model_config = ConfigDict(arbitrary_types_allowed=True)

    items: list[T]
    total: int = Field(ge=0)
    page: int = Field(ge=1, le=MAX_PAGE)
    page_size: int = Field(ge=1, le=MAX_PAGE_SIZE)

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, so "page 1 of 1" when empty)."""
        return max(1, -(-self.total // self.page_size))

    def map(self, fn: Callable[[T], U]) -> Page[U]:
        return Page[U](
            items=[fn(item) for item in self.items],
            total=self.total,
            page=self.page,
            page_size=self.page_size,
        )
