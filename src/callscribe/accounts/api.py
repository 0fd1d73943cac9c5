"""JSON API of accounts: company AI settings (web pages for users and keys come with the
web app)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from callscribe.accounts import service
from callscribe.accounts.schemas import AISettingsIn, AISettingsOut
from callscribe.accounts.service import Principal
from callscribe.calls import service as calls
from callscribe.calls.tasks import enqueue_calls
from callscribe.web.deps import get_session, require_principal, require_role

router = APIRouter(prefix="/api", tags=["settings"])


@router.get("/settings/ai", response_model=AISettingsOut)
def get_ai_settings(
    principal: Principal = Depends(require_principal), session: Session = Depends(get_session)
) -> AISettingsOut:
    cs = service.get_company_settings(session, principal.company_id)
    return AISettingsOut(**service.ai_settings_view(cs))


@router.put("/settings/ai", response_model=AISettingsOut)
def put_ai_settings(
    body: AISettingsIn,
    principal: Principal = Depends(require_principal),
    session: Session = Depends(get_session),
) -> AISettingsOut:
    """Change the AI engine, model, keys and labels. Keys are stored encrypted and never
    returned; setting one resumes calls that were waiting for it."""
    require_role(principal, "admin")
    cs = service.get_company_settings(session, principal.company_id)
    changed = service.update_ai_settings(cs, body.model_dump(exclude_unset=True))
    resumed = calls.resume_waiting(session, principal.company_id) if changed else []
    session.commit()
    enqueue_calls(resumed)
    return AISettingsOut(**service.ai_settings_view(cs))
