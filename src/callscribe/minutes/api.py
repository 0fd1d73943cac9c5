"""JSON API of Minutes: action items across calls, Minutes downloads, and the company's
AI and speech settings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from callscribe.accounts import service as accounts
from callscribe.auth.deps import CurrentPrincipal, DbSession, check
from callscribe.auth.permissions import Permission
from callscribe.calls import service as calls
from callscribe.calls.models import ActionItem, ActionItemStatus, Priority
from callscribe.calls.schemas import ActionItemOut, ActionItemPage, ActionItemPatch
from callscribe.errors import NotFound
from callscribe.kit.filters import EngagementFilter
from callscribe.kit.pagination import PageNumber, PageSize
from callscribe.kit.schemas import InstantIn
from callscribe.minutes import service
from callscribe.minutes import settings as ai_settings
from callscribe.minutes.schemas import AISettingsIn, AISettingsOut

router = APIRouter(prefix="/api", tags=["minutes"])
settings_router = APIRouter(prefix="/api", tags=["settings"])


def _item_out(item: ActionItem) -> ActionItemOut:
    """Titles come from the transcript: PII in them is masked like everywhere else."""
    return ActionItemOut.model_validate(item).model_copy(update={"title": calls.mask(item.title)})


@router.get("/action-items", response_model=ActionItemPage)
def list_action_items(
    principal: CurrentPrincipal,
    session: DbSession,
    status: str | None = Query(None, pattern=f"^({'|'.join(ActionItemStatus)})$"),
    priority: str | None = Query(None, pattern=f"^({'|'.join(Priority)})$"),
    agent_id: uuid.UUID | None = None,
    date_from: InstantIn | None = None,
    date_to: InstantIn | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
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
        action_items=[_item_out(i) for i in found.items],
    )


@router.patch("/action-items/{item_id}", response_model=ActionItemOut)
def patch_action_item(
    item_id: uuid.UUID,
    patch: ActionItemPatch,
    principal: CurrentPrincipal,
    session: DbSession,
) -> ActionItemOut:
    item = calls.update_action_item(session, principal, item_id, **patch.model_dump())
    session.commit()
    return _item_out(item)


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
    principal: CurrentPrincipal,
    session: DbSession,
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


@settings_router.get("/settings/ai", response_model=AISettingsOut)
def get_ai_settings(principal: CurrentPrincipal, session: DbSession) -> AISettingsOut:
    cs = accounts.get_company_settings(session, principal.company_id)
    return AISettingsOut(**ai_settings.ai_settings_view(cs))


@settings_router.put("/settings/ai", response_model=AISettingsOut)
def put_ai_settings(
    body: AISettingsIn, principal: CurrentPrincipal, session: DbSession
) -> AISettingsOut:
    """Change the AI engine, model, keys and labels. Keys are stored encrypted and never
    returned; setting one resumes calls that were waiting for it."""
    check(principal, Permission.SETTINGS_AI_WRITE)
    cs = accounts.get_company_settings(session, principal.company_id)
    changed = ai_settings.update_ai_settings(cs, body.model_dump(exclude_unset=True))
    resumed = calls.resume_waiting(session, principal.company_id) if changed else []
    calls.request_processing(session, resumed)  # enqueued once this commits
    session.commit()
    return AISettingsOut(**ai_settings.ai_settings_view(cs))
