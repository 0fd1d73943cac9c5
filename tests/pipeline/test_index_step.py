"""The Index step: every turn of every voice call, chat, email and ticket goes into the
search index after Analyze; a re-run replaces the entries; a failure to index does not
fail the call (it is marked and the sweep indexes it again); one real recording end to
end through a consumer."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer, insert_text_engagement, wait_for_status
from tests.search.corpus_surface import REFUND, abcd_turns, processed


def _entries(call_id: uuid.UUID) -> list[int]:
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.search.models import SearchEntry

    with session_scope() as s:
        return sorted(
            s.scalars(select(SearchEntry.turn_id).where(SearchEntry.engagement_id == call_id))
        )


def _turns(call_id: uuid.UUID) -> list[int]:
    from tests.search.corpus_surface import turn_ids

    return sorted(turn_ids(call_id))


def _meta(call_id: uuid.UUID) -> dict:  # type: ignore[type-arg]
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        return dict(call.meta or {})


def _hits(company: CompanyCtx, q: str) -> set[uuid.UUID]:
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.db import session_scope
    from callscribe.search import hits
    from callscribe.search.service import SearchMode, TurnFilter

    principal = Principal(company_id=company.id, role=Role.ADMIN)
    with session_scope() as s:
        page = hits.search(
            s, principal, q, mode=SearchMode.KEYWORD, filters=TurnFilter(), limit=50, offset=0
        )
        return {h.engagement.id for h in page.hits}


def test_index_runs_after_analyze_and_before_auto_review_and_complete() -> None:
    from callscribe.pipeline.steps import STEPS

    names = [step.name for step in STEPS]
    assert names.index("redact") < names.index("analyze") < names.index("index")
    assert names.index("index") == names.index("auto_review") - 1
    # Trackers between them: a tracker.matched delivery carries the Minutes
    assert names.index("auto_review") == names.index("trackers") - 1
    assert names.index("trackers") == names.index("complete") - 1


@pytest.mark.parametrize("channel", ["chat", "email", "ticket", "voice"])
def test_every_turn_of_every_channel_is_indexed(company: CompanyCtx, channel: str) -> None:
    call_id = processed(insert_text_engagement(company.id, abcd_turns(REFUND), channel=channel))
    count = len(abcd_turns(REFUND))
    assert _entries(call_id) == _turns(call_id) and len(_entries(call_id)) == count
    assert _meta(call_id)["search"] == {"indexed": True, "turns": count}
    assert call_id in _hits(company, "refund")


def test_running_the_pipeline_again_replaces_the_entries(company: CompanyCtx) -> None:
    from callscribe.calls.models import Engagement
    from callscribe.calls.service import reset_for_processing
    from callscribe.db import session_scope

    call_id = processed(insert_text_engagement(company.id, abcd_turns(REFUND)))
    first = _entries(call_id)
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        reset_for_processing(call, keep_transcript=True)
    processed(call_id)
    assert _entries(call_id) == first == _turns(call_id)


def test_a_failed_index_completes_the_call_and_the_sweep_indexes_it(
    company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.errors import CallscribeError
    from callscribe.search import indexing, service
    from callscribe.search import tasks as search_tasks

    real = service.index_engagement

    def unreachable(*_a: object, **_k: object) -> int:
        raise CallscribeError("The embedding endpoint did not answer.")

    monkeypatch.setattr(service, "index_engagement", unreachable)
    call_id = processed(insert_text_engagement(company.id, abcd_turns(REFUND)))  # completed
    assert _entries(call_id) == []
    assert _meta(call_id)["search"] == {
        "indexed": False,
        "error": "The embedding endpoint did not answer.",
    }
    assert _meta(call_id)["transcript_complete"] is True  # the rest of meta is kept
    enqueued: list[str] = []
    monkeypatch.setattr(search_tasks, "index", lambda engagement_id: enqueued.append(engagement_id))
    assert search_tasks.sweep_unindexed() == 1 and enqueued == [str(call_id)]

    monkeypatch.setattr(service, "index_engagement", real)  # the endpoint is back
    assert indexing.reindex_marked(call_id) is True
    assert _entries(call_id) == _turns(call_id)
    assert _meta(call_id)["search"]["indexed"] is True
    assert search_tasks.sweep_unindexed() == 0
    assert call_id in _hits(company, "refund")


@pytest.mark.slow
def test_a_recording_is_searchable_once_processed(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a real recording uploaded WHEN the consumer has processed it THEN a word of
    its transcript finds its turn through the API, at the turn's time."""
    with live_server.client(headers=company.headers) as client:
        answer = client.post(
            "/api/add-calls",
            files={"call": ("sample.wav", (AUDIO / "sample.wav").read_bytes())},
        )
        assert answer.status_code == 201, answer.text
        call_id = answer.json()["call_id"]
        call = wait_for_status(client, call_id, timeout=240)
        assert call["status"] == "completed", call.get("error")
        turns = call["turns"]
        assert turns
        word = max(turns[0]["text"].split(), key=len).strip(".,?!")
        found = client.get("/api/search", params={"q": word, "mode": "keyword"}).json()["items"]
        assert any(i["engagement_id"] == call_id for i in found)
        hit = next(i for i in found if i["engagement_id"] == call_id)
        assert hit["start_ms"] in {t["start_ms"] for t in turns}


def test_deleting_an_engagement_takes_its_turns_out_of_search(company: CompanyCtx) -> None:
    """No page deletes engagements yet; whatever does (a delete, a company's removal)
    deletes the row, and the entries go with it (the database cascades)."""
    from sqlalchemy import delete

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    gone = processed(insert_text_engagement(company.id, abcd_turns(REFUND)))
    kept = processed(insert_text_engagement(company.id, abcd_turns(REFUND)))
    assert _hits(company, "refund") == {gone, kept}
    with session_scope() as s:
        s.execute(delete(Engagement).where(Engagement.id == gone))
    assert _entries(gone) == []
    assert _hits(company, "refund") == {kept}
