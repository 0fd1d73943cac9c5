"""Retention and deletion: the policy in the company settings, the daily task (blobs,
then rows; unprocessed calls held), deleting an engagement and erasing a customer with
everything of theirs (turns, Minutes, recordings, search entries)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import CompanyCtx, LiveServer, insert_text_engagement, make_company
from tests.web.conftest import create_user, csrf_from, sign_in

TURNS = [("agent", "Thanks for calling, how can I help?"), ("customer", "My card was declined.")]


@pytest.fixture
def client(app_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from callscribe.app import create_app

    with TestClient(create_app()) as c:
        yield c


def _with_audio(call_id: uuid.UUID, tmp_path: Path, **fields: object) -> str:
    """Give the engagement a stored recording (and any other fields); returns its key."""
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.storage import get_store, new_audio_key

    store = get_store()
    with session_scope() as s:
        call = s.get(Engagement, call_id)
        assert call is not None
        key = new_audio_key(call.company_id, call.id, "wav")
        fh, path = store.staging_file()
        with fh:
            fh.write(b"RIFF" + bytes(100))
        store.put_file(key, path)
        call.audio_key, call.audio_format = key, "wav"
        for name, value in fields.items():
            setattr(call, name, value)
    return key


def _count(model: type, **where: object) -> int:
    from callscribe.db import session_scope

    with session_scope() as s:
        q = select(func.count()).select_from(model)
        for name, value in where.items():
            q = q.where(getattr(model, name) == value)
        return int(s.scalar(q) or 0)


def _tech_log(company_id: uuid.UUID) -> list[str]:
    from callscribe.accounts.models import TechnicalLog
    from callscribe.db import session_scope

    with session_scope() as s:
        return [
            r.message
            for r in s.scalars(
                select(TechnicalLog).where(
                    TechnicalLog.company_id == company_id, TechnicalLog.source == "retention"
                )
            )
        ]


def test_policy_is_validated_and_warns_about_zero_days(
    client: TestClient, company: CompanyCtx
) -> None:
    h = company.headers
    assert client.get("/api/settings/retention", headers=h).json() == {
        "recordings_days": None,
        "transcripts_days": None,
        "create_summaries": True,
        "apply_to_internal": False,
        "warning": None,
    }
    for bad in ({"recordings_days": -1}, {"transcripts_days": 99999}, {"keep": 3}):
        r = client.put("/api/settings/retention", json=bad, headers=h)
        assert r.status_code == 422, r.text
    r = client.put("/api/settings/retention", json={"recordings_days": 0}, headers=h)
    assert r.status_code == 200
    assert r.json()["warning"] == (
        "With a storage duration of 0 days no summary can be created; set at least 7 days."
    )
    body = {"recordings_days": 30, "transcripts_days": 90, "apply_to_internal": True}
    r = client.put("/api/settings/retention", json=body, headers=h)
    assert r.json() == {**body, "create_summaries": True, "warning": None}
    assert client.get("/api/settings/retention", headers=h).json()["transcripts_days"] == 90
    assert any("recordings 30 days" in m for m in _tech_log(company.id))


def test_delete_call_removes_blob_turns_minutes_and_index_entries(
    client: TestClient, company: CompanyCtx, tmp_path: Path
) -> None:
    from callscribe.calls.models import Engagement, Minutes, Turn
    from callscribe.db import session_scope
    from callscribe.search import service as search
    from callscribe.search.models import SearchEntry
    from callscribe.storage import get_store

    gone = insert_text_engagement(company.id, TURNS)
    kept = insert_text_engagement(company.id, TURNS)
    key = _with_audio(gone, tmp_path)
    with session_scope() as s:
        s.add(
            Minutes(
                engagement_id=gone,
                company_id=company.id,
                subject="Card",
                summary="Declined.",
                sentiment="neutral",
                outcome="resolved",
                analyzer="tests",
            )
        )
        search.index_engagement(s, gone)
        search.index_engagement(s, kept)
    assert _count(SearchEntry, engagement_id=gone) == 2
    other = make_company("Other Co")
    assert client.delete(f"/api/calls/{gone}", headers=other.headers).status_code == 404
    r = client.delete(f"/api/calls/{gone}", headers=company.headers)
    assert r.status_code == 204, r.text
    assert not get_store().exists(key)
    assert _count(Engagement, id=gone) == 0
    assert _count(Turn, engagement_id=gone) == 0
    assert _count(Minutes, engagement_id=gone) == 0
    assert _count(SearchEntry, engagement_id=gone) == 0
    assert _count(SearchEntry, engagement_id=kept) == 2 and _count(Turn, engagement_id=kept) == 2
    assert client.get(f"/api/calls/{gone}", headers=company.headers).status_code == 404
    assert client.delete(f"/api/calls/{gone}", headers=company.headers).status_code == 404
    assert client.delete("/api/calls/not-a-uuid", headers=company.headers).status_code == 404
    assert any(str(gone) in m and "deleted" in m for m in _tech_log(company.id))


def _customer(company: CompanyCtx, name: str, phone: str) -> uuid.UUID:
    from callscribe.crm import service
    from callscribe.crm.schemas import CustomerIn
    from callscribe.db import session_scope

    with session_scope() as s:
        row = CustomerIn.model_validate({"name": name, "phone": phone}).model_dump()
        (result,) = service.add_customers(s, company.id, [(1, row)])
        return uuid.UUID(str(result.customer_id))


def test_customer_erasure_deletes_everything_of_theirs_only(
    client: TestClient, company: CompanyCtx, tmp_path: Path
) -> None:
    from callscribe.calls.models import Engagement, Turn
    from callscribe.crm.models import Customer
    from callscribe.storage import get_store

    erased = _customer(company, "Erin Erased", "+1 415 555 0101")
    stays = _customer(company, "Sam Stays", "+1 415 555 0199")
    assert stays != erased
    theirs = [insert_text_engagement(company.id, TURNS, customer_id=erased) for _ in range(2)]
    key = _with_audio(theirs[0], tmp_path)
    other = insert_text_engagement(company.id, TURNS, customer_id=stays)
    other_key = _with_audio(other, tmp_path)
    outsider = make_company("Other Co")
    r = client.post(f"/api/customers/{erased}/erase", headers=outsider.headers)
    assert r.status_code == 404
    r = client.post(f"/api/customers/{erased}/erase", headers=company.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "engagements": 2, "recordings": 1}
    assert _count(Customer, id=erased) == 0 and _count(Customer, id=stays) == 1
    assert all(_count(Engagement, id=c) == 0 for c in theirs)
    assert all(_count(Turn, engagement_id=c) == 0 for c in theirs)
    assert not get_store().exists(key) and get_store().exists(other_key)
    assert _count(Turn, engagement_id=other) == 2
    again = client.post(f"/api/customers/{erased}/erase", headers=company.headers)
    assert again.status_code == 404
    assert any("erased" in m and "2 engagement" in m for m in _tech_log(company.id))


def test_daily_task_deletes_past_their_time_and_holds_unprocessed_calls(
    company: CompanyCtx, tmp_path: Path
) -> None:
    """GIVEN recordings kept 7 days, transcripts 30, internal calls excluded
    THEN the sweep deletes the old processed call's recording (blob, then the key), the
    transcript of the one past 30 days, and holds a call not yet processed, a recent one
    and an internal one."""
    from callscribe import worker
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope, utcnow
    from callscribe.retention import service
    from callscribe.retention.tasks import sweep_retention
    from callscribe.storage import get_store

    assert any(s.name == "retention" for s in worker.SWEEPS)
    with session_scope() as s:
        service.set_policy(
            s,
            company.id,
            recordings_days=7,
            transcripts_days=30,
            create_summaries=True,
            apply_to_internal=False,
            changed_by="tests",
        )
    now = utcnow()
    calls = {}
    for name, age, status, direction in (
        ("old", 10, "completed", "inbound"),
        ("ancient", 40, "completed", "outbound"),
        ("unprocessed", 40, "received", "inbound"),
        ("recent", 2, "completed", "inbound"),
        ("internal", 40, "completed", "internal"),
    ):
        call_id = insert_text_engagement(company.id, TURNS)
        key = _with_audio(
            call_id,
            tmp_path,
            status=status,
            direction=direction,
            created_at=now - timedelta(days=age),
        )
        calls[name] = (call_id, key)
    assert sweep_retention() == 2 + 1  # two recordings, one transcript
    store = get_store()
    with session_scope() as s:
        state = {
            name: (
                s.get(Engagement, cid).audio_key is not None,  # type: ignore[union-attr]
                store.exists(key),
                s.scalar(select(func.count()).where(Turn.engagement_id == cid)),
            )
            for name, (cid, key) in calls.items()
        }
    assert state == {
        "old": (False, False, 2),
        "ancient": (False, False, 0),
        "unprocessed": (True, True, 2),
        "recent": (True, True, 2),
        "internal": (True, True, 2),
    }
    assert sweep_retention() == 0  # nothing left past its time
    assert any("2 recording(s)" in m for m in _tech_log(company.id))


def test_retention_page_saves_and_the_delete_buttons_ask_first(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "admin@example.com", "admin")
    web = sign_in(api_server.url, "admin@example.com")
    page = web.client.get("/settings/retention")
    assert page.status_code == 200 and "Create AI summaries of recorded calls" in page.text
    assert "Also apply to internal calls" in page.text
    web.csrf = csrf_from(page.text)
    bad = web.post_form("/settings/retention", {"recordings_days": "-3"})
    assert bad.status_code == 422 and "between 0 and 3650" in bad.text
    r = web.post_form("/settings/retention", {"recordings_days": "0", "create_summaries": "on"})
    assert r.status_code == 303
    shown = web.client.get("/settings/retention").text
    assert "no summary can be created; set at least 7 days" in shown
    assert 'data-testid="retention-warning"' in shown
    call_id = insert_text_engagement(company.id, TURNS)
    call_page = web.client.get(f"/calls/{call_id}").text
    assert 'action="/calls/' in call_page and "data-confirm=" in call_page
    web.csrf = csrf_from(call_page)
    r = web.post_form(f"/calls/{call_id}/delete")
    assert r.status_code == 303 and r.headers["location"] == "/calls"
    assert web.client.get(f"/calls/{call_id}").status_code == 404
    customer = _customer(company, "Erin Erased", "+1 415 555 0101")
    journey = web.client.get(f"/customers/{customer}/journey")
    assert journey.status_code == 200
    assert f'action="/customers/{customer}/erase"' in journey.text
    assert 'data-testid="erase-customer"' in journey.text
    web.csrf = csrf_from(journey.text)
    r = web.post_form(f"/customers/{customer}/erase")
    assert r.status_code == 303 and r.headers["location"] == "/customers"
    assert isinstance(web.client, httpx.Client)


@pytest.mark.parametrize("summaries", [True, False])
def test_the_summaries_toggle_decides_whether_a_recorded_call_gets_minutes(
    company: CompanyCtx, tmp_path: Path, summaries: bool
) -> None:
    from callscribe.calls.models import Engagement, Minutes
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call
    from callscribe.retention import service

    with session_scope() as s:
        service.set_policy(
            s,
            company.id,
            recordings_days=30,
            transcripts_days=None,
            create_summaries=summaries,
            apply_to_internal=False,
            changed_by="tests",
        )
    recorded = insert_text_engagement(company.id, TURNS, channel="voice")
    _with_audio(recorded, tmp_path)
    chat = insert_text_engagement(company.id, TURNS)
    assert process_call(recorded) == "completed"
    assert process_call(chat) == "completed"
    assert _count(Minutes, engagement_id=recorded) == (1 if summaries else 0)
    assert _count(Minutes, engagement_id=chat) == 1  # not a recorded call: always
    assert _count(Engagement, id=recorded, status="completed") == 1
