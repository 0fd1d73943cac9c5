"""JSON API of reviews: tags (and their auto review), questions, forms, reviews with
approve / dispute / resolve / feedback, calibration sessions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from callscribe.auth.deps import CurrentPrincipal, DbSession, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.kit.pagination import PageNumber, PageSize
from callscribe.kit.schemas import Page
from callscribe.reviews import service
from callscribe.reviews.models import FormVersion, Review, ReviewerKind, ReviewStatus, Tag, Verdict
from callscribe.reviews.schemas import (
    AgreementOut,
    AutoReviewIn,
    AutoReviewOut,
    CalibrationAnswersIn,
    CalibrationIn,
    CalibrationOut,
    DisputeIn,
    FeedbackIn,
    FormIn,
    FormOut,
    HistoryOut,
    ModelVersionOut,
    QuestionIn,
    QuestionOut,
    ResolveIn,
    ReviewIn,
    ReviewOut,
    TagIn,
    TagOut,
    TagRef,
)

T = TypeVar("T")
router = APIRouter(prefix="/api", tags=["reviews"])
Writer = Annotated[Principal, Depends(require(Permission.REVIEWS_WRITE))]
Manager = Annotated[Principal, Depends(require(Permission.FORMS_MANAGE))]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid credentials"},
    403: {"description": "Your role does not allow this"},
    404: {"description": "Not found (or another company's)"},
    409: {"description": "Not in a state that allows this"},
    422: {"description": "Invalid values"},
}


def reviews_out(session: Session, reviews: list[Review]) -> list[ReviewOut]:
    history = service.history_of(session, [r.id for r in reviews])
    tag_ids = {r.tag_id for r in reviews if r.tag_id is not None}
    tags = {t.id: t for t in (session.get(Tag, i) for i in tag_ids) if t is not None}
    version_ids = {r.form_version_id for r in reviews if r.form_version_id is not None}
    versions = {
        v.id: v.version for v in (session.get(FormVersion, i) for i in version_ids) if v is not None
    }
    out = []
    for r in reviews:
        if r.reviewer_kind == ReviewerKind.AI:
            reviewer: dict[str, Any] = {"kind": "ai"}
        else:
            reviewer = {"kind": "human", "user_id": r.reviewer_user_id, "name": r.reviewer_name}
        tag = tags.get(r.tag_id) if r.tag_id is not None else None
        out.append(
            ReviewOut(
                id=r.id,
                engagement_id=r.engagement_id,
                turn_id=r.turn_id,
                tag_id=r.tag_id,
                tag=TagRef.model_validate(tag) if tag is not None else None,
                form_id=r.form_id,
                form_version=versions.get(r.form_version_id) if r.form_version_id else None,
                answers=r.answers or {},
                score=r.score,
                auto_failed=r.auto_failed,
                comment=r.comment or "",
                reviewer=reviewer,
                confidence=r.confidence,
                judge=r.judge,
                status=r.status,
                verdict=r.verdict,
                frozen=r.frozen,
                proposed_answers=r.proposed_answers,
                history=[HistoryOut.model_validate(e) for e in history.get(r.id, [])],
                created_at=r.created_at,
            )
        )
    return out


def review_out(session: Session, review: Review) -> ReviewOut:
    return reviews_out(session, [review])[0]


def committed(session: Session, answer: T) -> T:
    """`answer`, once the write is committed: the next request (on another connection)
    sees it, and the jobs asked for after commit (a retraining) are enqueued."""
    session.commit()
    return answer


def auto_out(state: service.AutoReviewState) -> AutoReviewOut:
    return AutoReviewOut.model_validate(state, from_attributes=True)


# -- tags ----------------------------------------------------------------------------------


@router.post("/tags", status_code=201, response_model=TagOut, responses=ERRORS, summary="Add a tag")
def create_tag(body: TagIn, principal: Manager, session: DbSession) -> TagOut:
    tag = service.create_tag(
        session,
        principal.company_id,
        name=body.name,
        polarity=body.polarity.value,
        levels=list(body.levels),
        description=body.description,
    )
    return committed(session, TagOut.model_validate(tag))


@router.get("/tags", response_model=list[TagOut], responses=ERRORS, summary="The company's tags")
def list_tags(principal: CurrentPrincipal, session: DbSession) -> list[TagOut]:
    tags = [TagOut.model_validate(t) for t in service.list_tags(session, principal.company_id)]
    return committed(session, tags)  # the built-ins, created on first use


@router.get(
    "/tags/{tag_id}/auto-review",
    response_model=AutoReviewOut,
    responses=ERRORS,
    summary="The tag's auto review: status, examples, CV precision/recall, turns flagged",
)
def get_auto_review(
    tag_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> AutoReviewOut:
    tag = service.get_tag(session, principal.company_id, tag_id)
    return auto_out(service.auto_review_state(session, tag))


@router.put(
    "/tags/{tag_id}/auto-review",
    response_model=AutoReviewOut,
    responses=ERRORS,
    summary="Switch the tag's auto review on or off (training needs 5 examples)",
)
def put_auto_review(
    tag_id: uuid.UUID, body: AutoReviewIn, principal: Manager, session: DbSession
) -> AutoReviewOut:
    tag = service.get_tag(session, principal.company_id, tag_id)
    state = service.set_auto_review(session, tag, body.enabled, llm_judge=body.llm_judge)
    return committed(session, auto_out(state))


@router.get(
    "/tags/{tag_id}/auto-review/versions",
    response_model=list[ModelVersionOut],
    responses=ERRORS,
    summary="Every training of the tag's classifier, oldest first",
)
def auto_review_versions(
    tag_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[ModelVersionOut]:
    tag = service.get_tag(session, principal.company_id, tag_id)
    return [ModelVersionOut.model_validate(m) for m in service.model_versions(session, tag)]


# -- questions and forms -------------------------------------------------------------------


def _question_fields(body: QuestionIn) -> dict[str, Any]:
    fields = body.model_dump()
    fields["kind"] = body.kind.value
    return fields


@router.post("/questions", status_code=201, response_model=QuestionOut, responses=ERRORS)
def create_question(body: QuestionIn, principal: Manager, session: DbSession) -> QuestionOut:
    question = service.create_question(session, principal.company_id, **_question_fields(body))
    return committed(session, QuestionOut.model_validate(question))


@router.get("/questions", response_model=list[QuestionOut], responses=ERRORS)
def list_questions(principal: CurrentPrincipal, session: DbSession) -> list[QuestionOut]:
    return [
        QuestionOut.model_validate(q) for q in service.list_questions(session, principal.company_id)
    ]


@router.put("/questions/{question_id}", response_model=QuestionOut, responses=ERRORS)
def update_question(
    question_id: uuid.UUID, body: QuestionIn, principal: Manager, session: DbSession
) -> QuestionOut:
    question = service.update_question(
        session, principal.company_id, question_id, **_question_fields(body)
    )
    return committed(session, QuestionOut.model_validate(question))


def _sections(body: FormIn) -> list[dict[str, Any]]:
    return [s.model_dump(mode="json") for s in body.sections]


@router.post("/forms", status_code=201, response_model=FormOut, responses=ERRORS)
def create_form(body: FormIn, principal: Manager, session: DbSession) -> FormOut:
    form = service.create_form(
        session,
        principal.company_id,
        name=body.name,
        levels=list(body.levels),
        sections=_sections(body),
    )
    return committed(session, FormOut.model_validate(form))


@router.get("/forms", response_model=list[FormOut], responses=ERRORS)
def list_forms(principal: CurrentPrincipal, session: DbSession) -> list[FormOut]:
    return [FormOut.model_validate(f) for f in service.list_forms(session, principal.company_id)]


@router.get("/forms/{form_id}", response_model=FormOut, responses=ERRORS)
def get_form(form_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> FormOut:
    return FormOut.model_validate(service.get_form(session, principal.company_id, form_id))


@router.get(
    "/forms/{form_id}/current",
    responses=ERRORS,
    summary="The form's current version, questions included",
)
def get_form_snapshot(
    form_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    form = service.get_form(session, principal.company_id, form_id)
    version = service.current_version(session, form)
    return {"id": str(form.id), "version": version.version, **version.snapshot}


@router.put(
    "/forms/{form_id}", response_model=FormOut, responses=ERRORS, summary="Save a new version"
)
def update_form(
    form_id: uuid.UUID, body: FormIn, principal: Manager, session: DbSession
) -> FormOut:
    form = service.update_form(
        session,
        principal.company_id,
        form_id,
        name=body.name,
        levels=list(body.levels),
        sections=_sections(body),
    )
    return committed(session, FormOut.model_validate(form))


# -- reviews -------------------------------------------------------------------------------


@router.post(
    "/reviews",
    status_code=201,
    response_model=ReviewOut,
    responses=ERRORS,
    summary="Tag or answer a form on an engagement or one of its turns",
)
def create_review(body: ReviewIn, principal: Writer, session: DbSession) -> ReviewOut:
    review = service.create_review(
        session,
        principal,
        engagement_id=body.engagement_id,
        turn_id=body.turn_id,
        tag_id=body.tag_id,
        form_id=body.form_id,
        answers=body.answers,
        comment=body.comment,
    )
    return committed(session, review_out(session, review))


@router.get("/reviews", response_model=Page[ReviewOut], responses=ERRORS)
def list_reviews(
    principal: CurrentPrincipal,
    session: DbSession,
    engagement_id: uuid.UUID | None = None,
    tag_id: uuid.UUID | None = None,
    reviewer: Literal["human", "ai"] | None = Query(None),
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[ReviewOut]:
    found = service.list_reviews(
        session,
        principal,
        engagement_id=engagement_id,
        tag_id=tag_id,
        reviewer=ReviewerKind(reviewer) if reviewer else None,
        page=page,
        page_size=page_size,
    )
    return Page[ReviewOut](
        items=reviews_out(session, found.items),
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.get("/reviews/{review_id}", response_model=ReviewOut, responses=ERRORS)
def get_review(review_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> ReviewOut:
    return review_out(session, service.get_review(session, principal, review_id))


@router.post(
    "/reviews/{review_id}/feedback",
    response_model=ReviewOut,
    responses=ERRORS,
    summary="correct / incorrect / unclear on an AI review",
)
def feedback(
    review_id: uuid.UUID, body: FeedbackIn, principal: Writer, session: DbSession
) -> ReviewOut:
    review = service.give_feedback(session, principal, review_id, Verdict(body.verdict))
    return committed(session, review_out(session, review))


@router.post("/reviews/{review_id}/approve", response_model=ReviewOut, responses=ERRORS)
def approve(review_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> ReviewOut:
    return committed(
        session, review_out(session, service.approve_review(session, principal, review_id))
    )


@router.post("/reviews/{review_id}/dispute", response_model=ReviewOut, responses=ERRORS)
def dispute(
    review_id: uuid.UUID, body: DisputeIn, principal: CurrentPrincipal, session: DbSession
) -> ReviewOut:
    review = service.dispute_review(
        session, principal, review_id, comment=body.comment, answers=body.answers
    )
    return committed(session, review_out(session, review))


@router.post("/reviews/{review_id}/resolve", response_model=ReviewOut, responses=ERRORS)
def resolve(
    review_id: uuid.UUID, body: ResolveIn, principal: CurrentPrincipal, session: DbSession
) -> ReviewOut:
    review = service.resolve_dispute(
        session,
        principal,
        review_id,
        outcome=ReviewStatus(body.outcome),
        comment=body.comment,
        answers=body.answers,
    )
    return committed(session, review_out(session, review))


# -- calibration ---------------------------------------------------------------------------


@router.post("/calibrations", status_code=201, response_model=CalibrationOut, responses=ERRORS)
def create_calibration(
    body: CalibrationIn, principal: Manager, session: DbSession
) -> CalibrationOut:
    calibration = service.create_calibration(
        session,
        principal.company_id,
        name=body.name,
        form_id=body.form_id,
        engagement_ids=body.engagement_ids,
        expert_user_id=body.expert_user_id,
    )
    return committed(session, CalibrationOut.model_validate(calibration))


@router.post(
    "/calibrations/{calibration_id}/answers",
    status_code=201,
    responses=ERRORS,
    summary="A reviewer's blind answers for one engagement of the session",
)
def submit_calibration(
    calibration_id: uuid.UUID, body: CalibrationAnswersIn, principal: Writer, session: DbSession
) -> dict[str, Any]:
    review = service.submit_calibration(
        session, principal, calibration_id, engagement_id=body.engagement_id, answers=body.answers
    )
    return committed(session, {"id": str(review.id), "score": review.score})


@router.get(
    "/calibrations/{calibration_id}/agreement",
    response_model=list[AgreementOut],
    responses=ERRORS,
    summary="Per question: percent agreement and Gwet's AC1 with the expert",
)
def calibration_agreement(
    calibration_id: uuid.UUID, principal: Manager, session: DbSession
) -> list[AgreementOut]:
    rows = service.calibration_agreement(session, principal.company_id, calibration_id)
    return [AgreementOut.model_validate(r) for r in rows]
