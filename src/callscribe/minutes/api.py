"""JSON API of Minutes: action items across calls, and Minutes downloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from callscribe.accounts.service import Principal
from callscribe.calls import service as calls
from callscribe.calls.schemas import ActionItemOut, ActionItemPage, ActionItemPatch
from callscribe.errors import NotFound
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.pagination import PageNumber, PageSize
from callscribe.minutes import service
from callscribe.minutes.models import ActionItemStatus, Priority
from callscribe.web.deps import get_session, require_principal

router = APIRouter(prefix="/api", tags=["minutes"])


@router.get("/action-items", response_model=ActionItemPage)
def list_action_items(
    status: str | None = Query(None, pattern=f"^({'|'.join(ActionItemStatus)})$"),
    priority: str | None = Query(None, pattern=f"^({'|'.join(Priority)})$"),
    agent_id: uuid.UUID | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> ActionItemPage:
    filters = calls.ActionItemFilters(
        status=status,
        priority=priority,
        date_from=date_from,
        date_to=date_to,
        calls=EngagementFilter(agent_id=agent_id),
    )
    found = calls.list_action_items(session, principal, filters, page, page_size)
    return ActionItemPage(
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        action_items=[ActionItemOut.model_validate(i) for i in found.items],
    )


@router.patch("/action-items/{item_id}", response_model=ActionItemOut)
def patch_action_item(
    item_id: uuid.UUID,
    patch: ActionItemPatch,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> ActionItemOut:
    item = calls.update_action_item(session, principal, item_id, **patch.model_dump())
    session.commit()
    return ActionItemOut.model_validate(item)


@router.get(
    "/calls/{call_id}/minutes.{fmt}",
    responses={
        200: {
            "content": {
                "text/markdown": {},
                "application/pdf": {},
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {},
            }
        }
    },
)
async def download_minutes(
    call_id: str,
    fmt: str,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> Response:
    """The Minutes and transcript as Markdown (`md`), Word (`docx`) or PDF (`pdf`)."""
    from callscribe.exports.service import EXPORT_FORMATS, export_filename

    if fmt not in EXPORT_FORMATS:
        raise NotFound("Formats: md, docx, pdf.")
    doc = await run_in_threadpool(service.export_doc, session, principal, call_id)
    media_type, render = EXPORT_FORMATS[fmt]
    body = await run_in_threadpool(render, doc)
    if isinstance(body, str):
        body = body.encode()
    filename = export_filename(doc, fmt)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
