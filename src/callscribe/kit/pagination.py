"""One way to cut a query into pages: count, then slice, with the page bounded so a
huge page number is a 422 with a message, never an integer overflow in the driver."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from callscribe.errors import ErrorCode, ValidationFailed
from callscribe.kit.schemas import MAX_PAGE, MAX_PAGE_SIZE, Page

T = TypeVar("T")

# Query parameters for list endpoints; the default page size is the endpoint's:
#   page: PageNumber = 1, page_size: PageSize = 25
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]


def check_page(page: int, page_size: int) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise ValidationFailed(
            f"page: must be between 1 and {MAX_PAGE}.", code=ErrorCode.VALIDATION_ERROR
        )
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"page_size: must be between 1 and {MAX_PAGE_SIZE}.",
            code=ErrorCode.VALIDATION_ERROR,
        )


def paginate(
    session: Session,
    stmt: Select[T],
    page: int,
    page_size: int,
    *,
    order_by: tuple[Any, ...] = (),
) -> Page[T]:
    """Rows of `stmt` on `page` (1-based) and how many there are in all. `order_by`
    applies to the slice only (counting needs no order); give a unique last key so
    pages neither repeat nor skip rows."""
    check_page(page, page_size)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ordered = stmt.order_by(*order_by) if order_by else stmt
    rows = session.scalars(ordered.offset((page - 1) * page_size).limit(page_size))
    return Page[T](items=list(rows), total=total or 0, page=page, page_size=page_size)
