"""Pages of reviews: the Reviews page (queue of engagements to review, coverage per agent,
dispute inbox), the tags page with each tag's auto review (status, CV precision/recall
per version, turns flagged), and the forms editor (admins and managers)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.responses import Response

from callscribe.accounts import service as accounts
from callscribe.auth.deps import DbSession, ManagerUser, PageUser
from callscribe.auth.permissions import Permission
from callscribe.errors import CallscribeError, from_validation
from callscribe.reviews import service
from callscribe.reviews.models import Level, Polarity, QuestionKind, SectionKind
from callscribe.reviews.schemas import CalibrationIn, FormIn, QuestionIn, TagIn
from callscribe.reviews.scoring import NA
from callscribe.web.flash import flash
from callscribe.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAX_SECTIONS = 50  # FormIn's limit
SECTION_SLOTS = 3  # empty sections offered by the editor (an edited form: at least its own)


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/reviews")
def reviews_page(request: Request, user: PageUser, session: DbSession, page: int = 1) -> Response:
    params = request.query_params
    form = {
        k: params.get(k, "").strip()
        for k in ("state", "tag_id", "agent_id", "date_from", "date_to")
        if params.get(k, "").strip()
    }
    flt = service.QueueFilter(
        state=form.get("state") if form.get("state") in service.QUEUE_STATES else None,
        tag_id=_uuid(form.get("tag_id")),
        agent_id=_uuid(form.get("agent_id")),
        since=_day(form.get("date_from", "")),
        until=_day(form.get("date_to", ""), end=True),
    )
    queue = service.review_queue(session, user.principal, flt, max(1, min(page, 10_000)), PAGE_SIZE)
    principal = user.principal
    return render(
        request,
        "reviews/reviews.html",
        queue=queue,
        form=form,
        states=service.QUEUE_STATES,
        tags=service.list_tags(session, user.company_id),
        agents=[]
        if principal.sees_only_own_calls
        else accounts.list_agents(session, user.company_id),
        coverage=[]
        if principal.sees_only_own_calls
        else service.coverage_per_agent(session, user.company_id),
        disputes=service.dispute_inbox(session, principal),
        qs=lambda **over: urlencode({**form, **over}),
    )


@router.get("/reviews/tags")
def tags_page(request: Request, user: PageUser, session: DbSession) -> Response:
    tags = service.list_tags(session, user.company_id)
    states = {t.id: service.auto_review_state(session, t) for t in tags}
    return render(
        request,
        "reviews/tags.html",
        tags=tags,
        states=states,
        levels=list(Level),
        polarities=list(Polarity),
    )


@router.post("/reviews/tags")
async def create_tag_page(request: Request, user: ManagerUser, session: DbSession) -> Response:
    data = await request.form()
    try:
        body = TagIn(
            name=str(data.get("name", "")),
            polarity=str(data.get("polarity", "neutral")),  # type: ignore[arg-type]
            levels=[str(v) for v in data.getlist("levels")],  # type: ignore[misc]
            description=str(data.get("description", "")),
        )
        service.create_tag(
            session,
            user.company_id,
            name=body.name,
            polarity=body.polarity.value,
            levels=list(body.levels),
            description=body.description,
        )
        flash(request, f"Tag {body.name!r} added.")
    except ValidationError as exc:
        flash(request, from_validation(exc, skip_loc=("body",)).message, "error")
    except CallscribeError as exc:
        flash(request, exc.message, "error")
    session.commit()
    return redirect(request, "/reviews/tags")


@router.get("/reviews/tags/{tag_id}")
def tag_page(tag_id: uuid.UUID, request: Request, user: PageUser, session: DbSession) -> Response:
    try:
        tag = service.get_tag(session, user.company_id, tag_id)
    except CallscribeError:
        raise HTTPException(status_code=404, detail="Tag not found.") from None
    return render(
        request,
        "reviews/tag.html",
        tag=tag,
        state=service.auto_review_state(session, tag),
        versions=service.model_versions(session, tag),
        min_examples=service.MIN_EXAMPLES,
    )


@router.post("/reviews/tags/{tag_id}/auto-review")
async def toggle_auto_review(
    tag_id: uuid.UUID, request: Request, user: ManagerUser, session: DbSession
) -> Response:
    data = await request.form()
    try:
        tag = service.get_tag(session, user.company_id, tag_id)
        judge = data.get("llm_judge")
        enabled = data.get("enabled") == "true" if "enabled" in data else tag.auto_enabled
        state = service.set_auto_review(
            session, tag, enabled, llm_judge=None if judge is None else judge == "true"
        )
        flash(
            request,
            f"Auto review is {state.status.replace('_', ' ')}"
            + ("; the LLM judge confirms its flags." if tag.llm_judge else "."),
        )
    except CallscribeError as exc:
        flash(request, exc.message, "error")
    session.commit()
    return redirect(request, f"/reviews/tags/{tag_id}")


@router.get("/reviews/forms")
def forms_page(request: Request, user: ManagerUser, session: DbSession, edit: str = "") -> Response:
    editing = None
    edit_id = _uuid(edit)
    if edit_id is not None:
        try:
            editing = service.get_form(session, user.company_id, edit_id)
        except CallscribeError:
            editing = None
    return render(
        request,
        "reviews/forms.html",
        editing=editing,
        forms=service.list_forms(session, user.company_id),
        questions=service.list_questions(session, user.company_id),
        kinds=list(QuestionKind),
        section_kinds=list(SectionKind),
        levels=list(Level),
        slots=range(SECTION_SLOTS),
    )


def _choices(text: str) -> list[dict[str, Any]]:
    """One choice a line, `label = score` (score 0..1, default 1)."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        label, _, score = line.partition("=")
        out.append({"label": label.strip(), "score": float(score) if score.strip() else 1.0})
    return out


@router.post("/reviews/forms/questions")
async def create_question_page(request: Request, user: ManagerUser, session: DbSession) -> Response:
    data = await request.form()
    try:
        body = QuestionIn(
            text=str(data.get("text", "")),
            kind=str(data.get("kind", "")),  # type: ignore[arg-type]
            choices=_choices(str(data.get("choices", ""))),  # type: ignore[arg-type]
            weight=float(str(data.get("weight") or 1)),
            allow_na=data.get("allow_na") == "on",
            critical=data.get("critical") == "on",
            root_causes=[
                c.strip() for c in str(data.get("root_causes", "")).split(",") if c.strip()
            ],
        )
        fields = body.model_dump()
        fields["kind"] = body.kind.value
        service.create_question(session, user.company_id, **fields)
        flash(request, "Question added.")
    except ValidationError as exc:
        flash(request, from_validation(exc).message, "error")
    except (CallscribeError, ValueError) as exc:
        flash(request, getattr(exc, "message", str(exc)), "error")
    session.commit()
    return redirect(request, "/reviews/forms")


@router.post("/reviews/forms")
async def create_form_page(request: Request, user: ManagerUser, session: DbSession) -> Response:
    return await _save_form(request, user.company_id, session, None)


@router.post("/reviews/forms/{form_id}")
async def update_form_page(
    form_id: uuid.UUID, request: Request, user: ManagerUser, session: DbSession
) -> Response:
    """Saves a new version: reviews scored by the earlier one keep their scores."""
    return await _save_form(request, user.company_id, session, form_id)


async def _save_form(
    request: Request, company_id: uuid.UUID, session: Any, form_id: uuid.UUID | None
) -> Response:
    data = await request.form()
    try:
        sections = []
        for i in range(max(SECTION_SLOTS, MAX_SECTIONS)):
            ids = [str(v) for v in data.getlist(f"s{i}_questions")]
            if not ids:
                continue
            sections.append(
                {
                    "title": str(data.get(f"s{i}_title") or f"Section {i + 1}"),
                    "kind": str(data.get(f"s{i}_kind") or "standard"),
                    "weight": float(str(data.get(f"s{i}_weight") or 1)),
                    "question_ids": ids,
                }
            )
        body = FormIn.model_validate(
            {
                "name": str(data.get("name", "")),
                "levels": [str(v) for v in data.getlist("levels")],
                "sections": sections,
            }
        )
        fields: dict[str, Any] = {
            "name": body.name,
            "levels": list(body.levels),
            "sections": [section.model_dump(mode="json") for section in body.sections],
        }
        if form_id is None:
            service.create_form(session, company_id, **fields)
            flash(request, f"Form {body.name!r} saved.")
        else:
            form = service.update_form(session, company_id, form_id, **fields)
            flash(request, f"Form {body.name!r} saved as version {form.version}.")
    except ValidationError as exc:
        flash(request, from_validation(exc).message, "error")
    except (CallscribeError, ValueError) as exc:
        flash(request, getattr(exc, "message", str(exc)), "error")
    session.commit()
    return redirect(request, "/reviews/forms")


@router.get("/reviews/calibrations")
def calibrations_page(request: Request, user: PageUser, session: DbSession) -> Response:
    """Every session; managers also see each one's agreement and make new ones."""
    sessions = service.list_calibrations(session, user.company_id)
    manager = user.principal.can(Permission.FORMS_MANAGE)
    agreement = (
        {c.id: service.calibration_agreement(session, user.company_id, c.id) for c in sessions}
        if manager
        else {}
    )
    return render(
        request,
        "reviews/calibrations.html",
        sessions=sessions,
        agreement=agreement,
        manager=manager,
        forms=service.list_forms(session, user.company_id) if manager else [],
        users=accounts.list_users(session, user.company_id) if manager else [],
        candidates=service.calibration_candidates(session, user.company_id) if manager else [],
    )


@router.post("/reviews/calibrations")
async def create_calibration_page(
    request: Request, user: ManagerUser, session: DbSession
) -> Response:
    form = await request.form()
    try:
        body = CalibrationIn.model_validate(
            {
                "name": str(form.get("name") or "").strip(),
                "form_id": form.get("form_id") or None,
                "engagement_ids": form.getlist("engagement_ids"),
                "expert_user_id": form.get("expert_user_id") or None,
            }
        )
        calibration = service.create_calibration(
            session,
            user.company_id,
            name=body.name,
            form_id=body.form_id,
            engagement_ids=body.engagement_ids,
            expert_user_id=body.expert_user_id,
        )
    except ValidationError as exc:
        flash(request, from_validation(exc).message, "error")
        return redirect(request, "/reviews/calibrations")
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, "/reviews/calibrations")
    session.commit()
    flash(
        request,
        f"Calibration session {calibration.name!r} made: reviewers score its "
        f"{len(calibration.engagement_ids)} engagement(s) on its page.",
    )
    return redirect(request, f"/reviews/calibrations/{calibration.id}")


def _reviewer(user: Any) -> None:
    if not user.principal.can(Permission.REVIEWS_WRITE):
        raise HTTPException(status_code=403, detail="Only reviewers can score a calibration.")


@router.get("/reviews/calibrations/{calibration_id}")
def calibration_page(
    calibration_id: uuid.UUID, request: Request, user: PageUser, session: DbSession
) -> Response:
    """Blind scoring: the session's engagements, each with the frozen form; the reviewer
    sees only their own answers."""
    _reviewer(user)
    calibration = service.get_calibration(session, user.company_id, calibration_id)
    return render(
        request,
        "reviews/calibration.html",
        calibration=calibration,
        items=service.calibration_items(session, calibration, user.principal.user_id),
        form=service.calibration_form(session, calibration),
        is_expert=calibration.expert_user_id == user.principal.user_id,
        na=NA,
    )


@router.post("/reviews/calibrations/{calibration_id}/answers")
async def calibration_answers_page(
    calibration_id: uuid.UUID, request: Request, user: PageUser, session: DbSession
) -> Response:
    _reviewer(user)
    calibration = service.get_calibration(session, user.company_id, calibration_id)
    form = await request.form()
    back = f"/reviews/calibrations/{calibration.id}"
    engagement_id = _uuid(str(form.get("engagement_id") or ""))
    if engagement_id is None:
        flash(request, "Pick the engagement you scored.", "error")
        return redirect(request, back)
    answers = _answers_from_form(service.calibration_form(session, calibration), form)
    if not answers:
        flash(request, "Answer at least one question.", "error")
        return redirect(request, back)
    try:
        review = service.submit_calibration(
            session, user.principal, calibration.id, engagement_id=engagement_id, answers=answers
        )
    except CallscribeError as exc:
        flash(request, exc.message, "error")
        return redirect(request, back)
    session.commit()
    score = "no score (text answers only)" if review.score is None else f"{review.score:.0f}%"
    flash(request, f"Your answers are in: {score}.")
    return redirect(request, back)


def _answers_from_form(snapshot: dict[str, Any], form: Any) -> dict[str, Any]:
    """The page's fields (q-<question id>, several for a multiple choice) as the answers
    score_answers takes; a question left blank is not answered."""
    answers: dict[str, Any] = {}
    for section in snapshot.get("sections", []):
        for q in section["questions"]:
            name = f"q-{q['id']}"
            if q["kind"] == QuestionKind.MULTIPLE:
                picked = [str(v) for v in form.getlist(name) if str(v)]
                if picked:
                    answers[q["id"]] = NA if picked == [NA] else [v for v in picked if v != NA]
                continue
            value = str(form.get(name) or "").strip()
            if not value:
                continue
            if value != NA and q["kind"] in (
                QuestionKind.SCALE3,
                QuestionKind.SCALE4,
                QuestionKind.SCALE5,
            ):
                answers[q["id"]] = int(value) if value.isdigit() else value
            else:
                answers[q["id"]] = value
    return answers
