"""Response shapes shared by every domain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 200  # DESIGN: list endpoints answer at most 200 items a page
MAX_PAGE = 100_000  # past this a page number is a mistake (or a probe), not a request


def as_utc(value: datetime) -> datetime:
    """An input date-time as an aware UTC one: naive means UTC; one that leaves the
    representable range once converted (0001-01-01T00:00:00+14:00,
    9999-12-31T23:59:59-14:00) is a ValueError (a 422), not an OverflowError at flush.
    One rule for every input, so naive and aware times in one request compare."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is outside the supported range once converted to UTC"
        ) from None


def parse_instant(value: object) -> datetime:
    """ISO 8601 text (a trailing Z allowed) or a datetime, through as_utc; ValueError when
    it is neither."""
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{str(value)[:60]!r} is not an ISO 8601 date-time") from None
    return as_utc(parsed)


# a date-time in a request: normalised to aware UTC, out-of-range refused with a message
InstantIn = Annotated[datetime, AfterValidator(as_utc)]


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
