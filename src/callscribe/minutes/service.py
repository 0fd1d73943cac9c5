"""Minutes and action items of an engagement: choose the analyzer from the company's AI
settings, run it over the turns, and replace what an earlier run produced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callscribe.accounts import service as accounts
from callscribe.accounts.models import Agent, Company, CompanySettings
from callscribe.ai.llm import ChatClient
from callscribe.calls import service as calls_service
from callscribe.calls.models import ActionItem, Minutes
from callscribe.minutes.analyzers import (
    PRESETS,
    Analyzer,
    AnalyzerConfig,
    AnalyzerKeyMissing,
    AnalyzerUnreachable,
    get_analyzer,
)
from callscribe.minutes.analyzers.base import DEFAULT_MODELS
from callscribe.minutes.schemas import AnalysisContext, MinutesDraft, TurnIn
from callscribe.minutes.settings import ai_fallback_local, ai_key
from callscribe.security.outbound import redact_url
from callscribe.settings import get_settings

if TYPE_CHECKING:
    from callscribe.calls.models import Engagement, Turn


def analyzer_config_for(cs: CompanySettings) -> AnalyzerConfig:
    settings = get_settings()
    return AnalyzerConfig(
        engine=cs.ai_engine or "local",
        base_url=cs.ai_base_url,
        model=cs.ai_model,
        api_key=ai_key(cs),
        timeout_s=settings.AI_TIMEOUT_S,
        max_retries=settings.AI_MAX_RETRIES,
    )


def chat_client_for(cs: CompanySettings) -> ChatClient | None:
    """A chat client for the company's AI endpoint (its base URL or preset, model and
    key), or None while the company uses the local engine or has set no key. For the
    other domains that ask the LLM something (journey prompting)."""
    config = analyzer_config_for(cs)
    if config.engine == "local" or not (config.api_key or "").strip():
        return None
    base = config.base_url or "openai"
    base_url = PRESETS.get(base.lower(), base).rstrip("/")
    return ChatClient(
        base_url=base_url,
        api_key=config.api_key or "",
        model=config.model or DEFAULT_MODELS.get(base_url, "gpt-4o-mini"),
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
    )


def analyzer_for(cs: CompanySettings) -> Analyzer:
    """Raises AnalyzerKeyMissing (code ai_key_missing) when an LLM engine has no key."""
    return get_analyzer(analyzer_config_for(cs))


def find_analyzer(cs: CompanySettings) -> Analyzer | None:
    """The company's analyzer, or None while the LLM engine it names has no key (the
    pipeline then waits for the key instead of failing)."""
    try:
        return analyzer_for(cs)
    except AnalyzerKeyMissing:
        return None


def analysis_context(
    call: Engagement, cs: CompanySettings, agent_name: str | None
) -> AnalysisContext:
    context = AnalysisContext(
        channel=call.channel,
        agent_name=agent_name,
        customer_name=call.customer_name,
        started_at=call.started_at or call.created_at,
        duration_s=call.duration_s,
        times_real=calls_service.times_are_real(call),
    )
    if cs.outcome_labels:
        context.outcome_labels = list(cs.outcome_labels)
    return context


def context_for(session: Session, call: Engagement, cs: CompanySettings) -> AnalysisContext:
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    return analysis_context(call, cs, agent.name if agent else None)


def turn_inputs(rows: Iterable[Turn]) -> list[TurnIn]:
    """What an analyzer reads: the masked text (the Minutes made from it hold no PII,
    and the prompt sent to an external model carries none)."""
    from callscribe.calls import service as calls

    return [
        TurnIn.model_validate(
            {
                "role": t.role,
                "text": calls.masked_turn_text(t),
                "start_ms": t.start_ms,
                "end_ms": t.end_ms,
                "speaker": t.speaker,
            }
        )
        for t in rows
    ]


def turns_for_analysis(session: Session, call: Engagement) -> list[TurnIn]:
    from callscribe.calls.models import Turn

    return turn_inputs(
        session.scalars(
            select(Turn).where(Turn.engagement_id == call.id).order_by(Turn.start_ms, Turn.seq)
        )
    )


def analyze_engagement(session: Session, call: Engagement, analyzer: Analyzer) -> Minutes:
    cs = accounts.get_company_settings(session, call.company_id)
    draft = analyzer.analyze(turns_for_analysis(session, call), context_for(session, call, cs))
    return store_minutes(session, call, draft, analyzer.name)


def analyze_turns(
    session: Session,
    call: Engagement,
    analyzer: Analyzer,
    turns: Iterable[Turn],
    context: AnalysisContext,
) -> Minutes:
    """`analyze_engagement` for a caller that holds the turns and the context already
    (the pipeline reads them once per run)."""
    draft = analyzer.analyze(turn_inputs(turns), context)
    return store_minutes(session, call, draft, analyzer.name)


AI_SETTINGS_PATH = "/settings/ai"


def fall_back_to_local(
    session: Session,
    call: Engagement,
    cs: CompanySettings,
    turns: Iterable[Turn],
    context: AnalysisContext,
    failure: AnalyzerUnreachable,
) -> Minutes:
    """The AI endpoint could not be reached (issue 18). With the company's fallback on:
    Minutes from the built-in analyzer, with a note saying so at the top of the notes and
    in the call's metadata. Off: the call fails with an error that names the AI settings
    page where the endpoint or the fallback is set."""
    endpoint = redact_url(cs.ai_base_url) if cs.ai_base_url else "The AI endpoint"
    if not ai_fallback_local(cs):
        raise AnalyzerUnreachable(
            f"{failure.message}. Check the endpoint, or turn on the fallback to the built-in "
            f"analyzer, in AI settings: {get_settings().public_url}{AI_SETTINGS_PATH}"
        ) from failure
    from callscribe.minutes.analyzers.local import LocalAnalyzer

    minutes = analyze_turns(session, call, LocalAnalyzer(), turns, context)
    note = f"Minutes by the built-in analyzer: {endpoint} was unreachable"
    minutes.notes = [note, *(minutes.notes or [])]
    call.meta = {
        **(call.meta or {}),
        "analysis_fallback": {
            "analyzer": minutes.analyzer,
            "note": note,
            "reason": failure.message,
        },
    }
    session.flush()
    return minutes


def store_minutes(
    session: Session, call: Engagement, draft: MinutesDraft, analyzer_name: str
) -> Minutes:
    """Replace the engagement's minutes and action items (idempotent re-analysis)."""
    session.execute(delete(ActionItem).where(ActionItem.engagement_id == call.id))
    session.execute(delete(Minutes).where(Minutes.engagement_id == call.id))
    session.flush()
    minutes = Minutes(
        engagement_id=call.id,
        company_id=call.company_id,
        subject=draft.subject[:300],
        summary=draft.summary,
        overview=draft.overview,
        sentiment=draft.sentiment,
        outcome=accounts.trim_attribute(session, call.company_id, "outcome", draft.outcome)
        or "unresolved",
        sections=[s.model_dump() for s in draft.sections],
        notes=list(draft.notes),
        tags=[
            t
            for t in (
                accounts.trim_attribute(session, call.company_id, "tag", tag) for tag in draft.tags
            )
            if t
        ],
        analyzer=analyzer_name,
    )
    session.add(minutes)
    for seq, item in enumerate(draft.action_items):
        session.add(
            ActionItem(
                company_id=call.company_id,
                engagement_id=call.id,
                seq=seq,
                title=item.title[:300],
                priority=item.priority,
                status=item.status,
                owner=item.owner,
                due=item.due,
            )
        )
    session.flush()
    return minutes


def export_doc(session: Session, principal, call_id: str):  # type: ignore[no-untyped-def]
    """The call's Minutes and transcript as an ExportDoc for the renderers."""
    from callscribe.calls import service as calls
    from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportSection, ExportTurn

    call = calls.get_call(session, principal, call_id)
    minutes = session.get(Minutes, call.id)
    agent = session.get(Agent, call.agent_id) if call.agent_id else None
    # an export leaves the app: PII is masked in it as on every surface
    known = calls.known_identity(call)
    masked = calls.masked_minutes(minutes, known) if minutes else {}
    company = session.get(Company, call.company_id)
    return ExportDoc(
        call_id=str(call.id),
        company_name=company.name if company else None,
        title=masked["subject"] if minutes else f"Call {str(call.id)[:8]}",
        started_at=call.started_at or call.created_at,
        duration_s=call.duration_s,
        direction=call.direction,
        agent_name=agent.name if agent else None,
        customer_name=call.customer_name,
        status=call.status,
        summary=masked["summary"] if minutes else None,
        overview=masked["overview"] if minutes else None,
        sentiment=minutes.sentiment if minutes else None,
        outcome=minutes.outcome if minutes else None,
        sections=[ExportSection(**s) for s in (masked["sections"] if minutes else [])],
        action_items=[
            ExportActionItem(
                title=calls.mask(i.title, known),
                priority=i.priority,
                status=i.status,
                owner=i.owner,
                due=i.due,
            )
            for i in calls.list_call_action_items(session, call.id)
        ],
        notes=list(masked["notes"]) if minutes else [],
        tags=list(minutes.tags) if minutes else [],
        turns=[
            ExportTurn(
                role=t.role,
                speaker=t.speaker,
                start_ms=t.start_ms,
                end_ms=t.end_ms,
                text=calls.masked_turn_text(t, known),
            )
            for t in calls.list_turns(session, call.id)
        ],
    )
