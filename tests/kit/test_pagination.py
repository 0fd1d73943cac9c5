"""paginate(): every row once, in order, with the total; a page number past any real
list is a 422 with a message, on both databases and over HTTP, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callscribe.accounts import service as accounts
from callscribe.calls.models import Engagement
from callscribe.errors import ValidationFailed
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import MAX_PAGE, MAX_PAGE_SIZE, Page
from tests.conftest import CompanyCtx, LiveServer


@pytest.fixture
def engagements(session):  # type: ignore[no-untyped-def]
    company = accounts.create_company(session, "Paging Co")
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        Engagement(company_id=company.id, customer_name=f"c{i:02d}", duration_s=float(i % 4))
        for i in range(23)
    ]
    for i, row in enumerate(rows):
        row.started_at = base + timedelta(minutes=i)
    session.add_all(rows)
    session.flush()
    return company, rows


def test_pages_cover_every_row_once_in_order(session, engagements) -> None:  # type: ignore[no-untyped-def]
    company, rows = engagements
    stmt = select(Engagement).where(Engagement.company_id == company.id)
    # duration repeats (0..3): the id as last key keeps pages from overlapping
    order = (Engagement.duration_s, Engagement.id)
    pages = [paginate(session, stmt, n, 5, order_by=order) for n in range(1, 7)]
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3, 0]
    assert {p.total for p in pages} == {23} and {p.pages for p in pages} == {5}
    seen = [e.id for p in pages for e in p.items]
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {r.id for r in rows}
    durations = [e.duration_s for p in pages for e in p.items]
    assert durations == sorted(durations)
    assert pages[1].page == 2 and pages[1].page_size == 5


def test_count_ignores_the_statements_own_order(session, engagements) -> None:  # type: ignore[no-untyped-def]
    company, _rows = engagements
    stmt = (
        select(Engagement)
        .where(Engagement.company_id == company.id, Engagement.duration_s == 1.0)
        .order_by(Engagement.started_at.desc())
    )
    page = paginate(session, stmt, 1, 200)
    assert page.total == 6 == len(page.items)
    starts = [e.started_at for e in page.items]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("page", "page_size", "field"),
    [
        (0, 10, "page"),
        (-1, 10, "page"),
        (MAX_PAGE + 1, 10, "page"),
        (10**20, 10, "page"),  # an OverflowError in the driver before
        (1, 0, "page_size"),
        (1, MAX_PAGE_SIZE + 1, "page_size"),
    ],
)
def test_out_of_range_page_is_a_validation_error(
    session, engagements, page, page_size, field
) -> None:  # type: ignore[no-untyped-def]
    company, _rows = engagements
    stmt = select(Engagement).where(Engagement.company_id == company.id)
    with pytest.raises(ValidationFailed) as caught:
        paginate(session, stmt, page, page_size)
    assert caught.value.status == 422 and caught.value.code == "validation_error"
    assert caught.value.message.startswith(f"{field}: ")


def test_last_allowed_page_is_empty_not_an_error(session, engagements) -> None:  # type: ignore[no-untyped-def]
    company, _rows = engagements
    stmt = select(Engagement).where(Engagement.company_id == company.id)
    page = paginate(session, stmt, MAX_PAGE, MAX_PAGE_SIZE)
    assert page.items == [] and page.total == 23


def test_page_maps_rows_to_response_models() -> None:
    page = Page[int](items=[1, 2, 3], total=13, page=2, page_size=3)
    mapped = page.map(str)
    assert mapped.model_dump() == {"items": ["1", "2", "3"], "total": 13, "page": 2, "page_size": 3}
    assert mapped.pages == 5
    with pytest.raises(ValueError, match="page_size"):
        Page[int](items=[], total=0, page=1, page_size=MAX_PAGE_SIZE + 1)


@pytest.mark.parametrize(
    "path",
    [
        "/api/calls",
        "/api/action-items",
        "/api/customers",
        "/api/automations/{automation}/deliveries",
    ],
)
def test_huge_page_numbers_are_a_422_over_http(
    api_server: LiveServer, company: CompanyCtx, path: str
) -> None:
    with api_server.client(headers=company.headers) as client:
        if "{automation}" in path:
            created = client.post(
                "/api/automations",
                json={"kind": "webhook", "name": "W", "url": "http://127.0.0.1:9/hook"},
            )
            assert created.status_code == 201, created.text
            path = path.format(automation=created.json()["id"])
        for page in ("100000000000000000000", "1e20", str(MAX_PAGE + 1), "0"):
            response = client.get(path, params={"page": page})
            assert response.status_code == 422, (path, page, response.text)
            body = response.json()
            assert body["success"] is False
            assert body["error"]["code"] == "validation_error"
            assert "page" in body["error"]["message"]
        assert client.get(path, params={"page": str(MAX_PAGE)}).status_code == 200
