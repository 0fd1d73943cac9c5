"""Sync: import since the cursor, once per call, and fail without losing calls."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import CompanyCtx
from tests.connectors.conftest import Tracks, add_connector, calls_of, connector_row
from tests.connectors.fakes import DialerRecording, FakeCallCenter, FakeCloudVoice, Run, utc_ago


def _runs(cv: FakeCloudVoice, tracks: Tracks) -> None:
    cv.add_run(
        Run(
            id=11,
            created_at=utc_ago(300),
            tracks={"user": tracks.user, "bot": tracks.bot, "recording": tracks.mixed},
        )
    )
    cv.add_run(
        Run(
            id=12, created_at=utc_ago(200), tracks={"recording": tracks.mixed}, call_type="outbound"
        )
    )
    cv.add_run(
        Run(
            id=13,
            created_at=utc_ago(100),
            tracks={},
            transcript="[2026-03-01T10:00:01.000Z] assistant: Hello, this is Ava from "
            "Acme. How can I help?\n[2026-03-01T10:00:04.500Z] user: I want to cancel "
            "my order please.\n[2026-03-01T10:00:08.000Z] assistant: Sure, I will "
            "cancel it and email you today.\n",
        )
    )


def test_sync_imports_each_kind_of_cloudvoice_run(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    """GIVEN three finished runs: one with user/bot tracks, one with only the mixed
    recording, one with only a text transcript
    WHEN the connector syncs
    THEN three calls exist with source, external id, direction, agent (the bot),
    customer number and name, started time; tracks become one stereo file whose
    channels are bot and customer; the transcript becomes turns directly."""
    from sqlalchemy import select

    from callscribe.accounts.models import Agent
    from callscribe.calls.models import Turn
    from callscribe.connectors import sync
    from callscribe.db import session_scope

    _runs(cloudvoice, tracks)
    cid = add_connector(company, "cloudvoice", cloudvoice)
    outcome = sync.sync_connector(cid)
    assert (outcome.status, outcome.seen, outcome.imported, outcome.failed) == (
        "succeeded",
        3,
        3,
        0,
    )

    calls = {c.external_id: c for c in calls_of(company)}
    assert set(calls) == {"11", "12", "13"}
    tracked, mixed, text = calls["11"], calls["12"], calls["13"]
    assert tracked.source == "cloudvoice" and tracked.direction == "inbound"
    assert tracked.customer_phone == "+15550101" and tracked.customer_name == "Maria Lopez"
    assert mixed.direction == "outbound" and mixed.customer_phone == "+15550999"
    assert tracked.started_at is not None
    assert tracked.customer_id is not None and mixed.customer_id not in (None, tracked.customer_id)
    assert tracked.audio_channels == 2 and tracked.audio_format == "wav"
    assert tracked.meta["recording"] == "tracks"
    assert tracked.meta["channel_roles"] == {"0": "bot", "1": "customer"}
    assert mixed.meta["recording"] == "mixed" and mixed.audio_format == "flac"
    assert text.meta["recording"] == "transcript" and text.meta["transcript_complete"] is True
    assert text.audio_key is None and text.duration_s == 5
    with session_scope() as s:
        agent = s.get(Agent, tracked.agent_id)
        assert agent.name == "Sales assistant" and agent.is_bot and agent.source == "cloudvoice"
        assert {c.agent_id for c in calls.values()} == {agent.id}  # one agent, reused
        turns = list(
            s.scalars(select(Turn).where(Turn.engagement_id == text.id).order_by(Turn.seq))
        )
    assert [t.role for t in turns] == ["bot", "customer", "bot"]
    assert turns[1].text == "I want to cancel my order please." and turns[1].start_ms == 3500


def test_tracked_call_is_transcribed_with_bot_and_customer_turns(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    from sqlalchemy import select

    from callscribe.calls.models import Turn
    from callscribe.connectors import sync
    from callscribe.db import session_scope
    from callscribe.pipeline.runner import process_call

    cloudvoice.add_run(
        Run(id=21, created_at=utc_ago(10), tracks={"user": tracks.user, "bot": tracks.bot})
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    sync.sync_connector(cid)
    (call,) = calls_of(company)
    assert process_call(call.id) == "completed"
    with session_scope() as s:
        turns = list(s.scalars(select(Turn).where(Turn.engagement_id == call.id)))
    bot = " ".join(t.text for t in turns if t.role == "bot").lower()
    customer = " ".join(t.text for t in turns if t.role == "customer").lower()
    assert "wizard" in bot and "horizon" in customer


class FakeCloudVoiceAt:
    @staticmethod
    def ago(minutes: int):  # type: ignore[no-untyped-def]
        from tests.connectors.test_contract import CloudVoiceKit

        return CloudVoiceKit.utc_ago(minutes)  # type: ignore[arg-type]


def test_sync_twice_imports_nothing_twice_and_moves_the_cursor(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    from callscribe.connectors import sync

    cloudvoice.add_run(Run(id=31, created_at=utc_ago(60), tracks={"recording": tracks.mixed}))
    cid = add_connector(company, "cloudvoice", cloudvoice)
    first = sync.sync_connector(cid)
    cursor = connector_row(cid).cursor
    assert (
        first.imported == 1
        and cursor
        and cursor["since"].startswith(utc_ago(60).strftime("%Y-%m-%dT%H:%M"))
    )
    second = sync.sync_connector(cid)
    assert (second.imported, second.duplicates) == (0, 1)
    starts = [
        q["start_date"][0] for _m, p, q, _h in cloudvoice.requests if p.endswith("/usage/runs")
    ]
    assert starts[-1] == cursor["since"]  # the second sync asked from the cursor
    cloudvoice.add_run(Run(id=32, created_at=utc_ago(5), tracks={"recording": tracks.mixed}))
    third = sync.sync_connector(cid)
    assert (third.imported, third.duplicates) == (1, 1)
    first_call, second_call = calls_of(company)
    assert sorted(c.external_id for c in (first_call, second_call)) == ["31", "32"]
    assert first_call.customer_id and first_call.customer_id == second_call.customer_id
    assert connector_row(cid).cursor["since"] > cursor["since"]


def test_call_in_progress_is_picked_up_by_a_later_sync(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    from callscribe.connectors import sync

    cloudvoice.add_run(
        Run(id=41, created_at=utc_ago(20), tracks={"recording": tracks.mixed}, is_completed=False)
    )
    cloudvoice.add_run(Run(id=42, created_at=utc_ago(10), tracks={"recording": tracks.mixed}))
    cid = add_connector(company, "cloudvoice", cloudvoice)
    first = sync.sync_connector(cid)
    assert (first.imported, first.pending) == (1, 1)
    cloudvoice.runs[41].is_completed = True
    second = sync.sync_connector(cid)
    assert (second.imported, second.duplicates) == (1, 1)
    assert sorted(c.external_id for c in calls_of(company)) == ["41", "42"]


def test_provider_down_fails_the_sync_keeps_the_cursor_and_next_sync_catches_up(
    company: CompanyCtx, call_center: FakeCallCenter, tracks: Tracks
) -> None:
    """GIVEN a dialer with two recordings, whose recording server breaks (503) on the
    second download WHEN the connector syncs THEN the sync is logged failed with the
    reason and the cursor stays; once the dialer is back the next sync imports the rest
    without duplicating the first."""
    from sqlalchemy import select

    from callscribe.connectors import sync
    from callscribe.connectors.models import SyncRun
    from callscribe.db import session_scope
    from tests.connectors.fakes import minutes_ago

    call_center.add(DialerRecording("9001", "6666", minutes_ago(50), tracks.mixed))
    second = call_center.add(
        DialerRecording("9002", "6666", minutes_ago(40), tracks.mixed, lead_id="1002")
    )
    cid = add_connector(company, "cloudvoice_call_center", call_center)
    call_center.fail_paths["/RECORDINGS/MIX/9002"] = 503
    failed = sync.sync_connector(cid)
    assert failed.status == "failed" and "503" in (failed.error or "")
    row = connector_row(cid)
    assert row.cursor is None and row.last_sync_status == "failed"
    assert "503" in row.last_sync_error
    assert [c.external_id for c in calls_of(company)] == ["9001"]

    call_center.down = True
    down = sync.sync_connector(cid)
    assert down.status == "failed" and "HTTP 503" in (down.error or "")

    call_center.down = False
    call_center.fail_paths.clear()
    ok = sync.sync_connector(cid)
    assert (ok.status, ok.imported, ok.duplicates) == ("succeeded", 1, 1)
    assert sorted(c.external_id for c in calls_of(company)) == ["9001", "9002"]
    assert connector_row(cid).cursor == {"since": f"{second.start:%Y-%m-%d %H:%M:%S}"}
    with session_scope() as s:
        statuses = [r.status for r in s.scalars(select(SyncRun).order_by(SyncRun.started_at))]
    assert statuses == ["failed", "failed", "succeeded"]


def test_call_center_import_keeps_agent_direction_customer(
    company: CompanyCtx, call_center: FakeCallCenter, tracks: Tracks
) -> None:
    from callscribe.accounts.models import Agent
    from callscribe.connectors import sync
    from callscribe.db import session_scope
    from tests.connectors.fakes import minutes_ago

    call_center.add(
        DialerRecording(
            "9101",
            "7777",
            minutes_ago(30),
            tracks.mixed,
            direction="IN",
            phone="5559876543",
            first_name="Ana",
            last_name="Ruiz",
        )
    )
    cid = add_connector(company, "cloudvoice_call_center", call_center)
    assert sync.sync_connector(cid).imported == 1
    (call,) = calls_of(company)
    assert (call.source, call.external_id, call.direction) == (
        "cloudvoice_call_center",
        "9101",
        "inbound",
    )
    assert (call.customer_phone, call.customer_name) == ("5559876543", "Ana Ruiz")
    assert call.started_at is not None and round(call.duration_s) == 11
    with session_scope() as s:
        agent = s.get(Agent, call.agent_id)
        assert (agent.name, agent.extension_id, agent.external_id) == ("Lee Closer", "7777", "7777")


def test_bad_credentials_fail_the_sync_with_words_and_without_the_secret(
    company: CompanyCtx,
    call_center: FakeCallCenter,
    tracks: Tracks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.connectors import service, sync
    from callscribe.connectors.schemas import ConnectorUpdate
    from callscribe.db import session_scope
    from tests.connectors.fakes import minutes_ago

    caplog.set_level(logging.DEBUG)
    call_center.add(DialerRecording("9201", "6666", minutes_ago(30), tracks.mixed))
    cid = add_connector(company, "cloudvoice_call_center", call_center)
    assert sync.sync_connector(cid).imported == 1  # the password travels in the query
    with session_scope() as s:
        service.update_connector(
            s,
            Principal(company.id, role=Role.ADMIN),
            cid,
            ConnectorUpdate(credentials={"password": "Wr0ng-Secret-77"}),
        )
    outcome = sync.sync_connector(cid)
    assert outcome.status == "failed"
    assert "rejected the username or password" in outcome.error
    assert "Wr0ng-Secret-77" not in outcome.error  # the dialer echoed it back
    assert call_center.password not in caplog.text
    assert "Wr0ng-Secret-77" not in caplog.text
    assert connector_row(cid).last_sync_error == outcome.error


def test_disabled_connector_does_not_sync_and_is_not_polled(
    company: CompanyCtx, cloudvoice: FakeCloudVoice
) -> None:
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.connectors import service, sync
    from callscribe.db import session_scope
    from callscribe.errors import Conflict

    cid = add_connector(company, "cloudvoice", cloudvoice)
    with session_scope() as s:
        assert sync.due_connectors(s) == [cid]
        service.set_enabled(s, Principal(company.id, role=Role.ADMIN), cid, False)
    with pytest.raises(Conflict):
        sync.sync_connector(cid)
    with session_scope() as s:
        assert sync.due_connectors(s) == []
        service.set_enabled(s, Principal(company.id, role=Role.ADMIN), cid, True)
    assert sync.sync_connector(cid).status == "succeeded"
    with session_scope() as s:
        assert sync.due_connectors(s) == []  # just synced: not due for 15 minutes


def test_webhook_after_sync_creates_no_second_call(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    from callscribe.connectors import service, sync, webhooks
    from callscribe.db import session_scope

    cloudvoice.add_run(Run(id=51, created_at=utc_ago(30), tracks={"recording": tracks.mixed}))
    cid = add_connector(company, "cloudvoice", cloudvoice)
    assert sync.sync_connector(cid).imported == 1
    with session_scope() as s:
        secret = service.webhook_secret(connector_row(cid))
        event, new = webhooks.receive_webhook(
            s, "cloudvoice", str(cid), secret, "d-1", b'{"run_id": "51"}'
        )
        event_id = event.id
    assert new
    assert webhooks.import_event(event_id) == "duplicate"
    assert [c.external_id for c in calls_of(company)] == ["51"]


def test_a_running_sync_refuses_a_second_one(
    company: CompanyCtx, cloudvoice: FakeCloudVoice
) -> None:
    from sqlalchemy import update

    from callscribe.connectors import sync
    from callscribe.connectors.models import Connector
    from callscribe.db import session_scope, utcnow
    from callscribe.errors import Conflict

    cid = add_connector(company, "cloudvoice", cloudvoice)
    with session_scope() as s:
        s.execute(update(Connector).where(Connector.id == cid).values(sync_lease_at=utcnow()))
    with pytest.raises(Conflict) as err:
        sync.sync_connector(cid)
    assert err.value.code == "sync_running"


def test_webhook_import_while_provider_is_down_fails_and_a_redelivery_retries_it(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    from callscribe.connectors import service, webhooks
    from callscribe.db import session_scope

    cloudvoice.add_run(Run(id=55, created_at=utc_ago(3), tracks={"recording": tracks.mixed}))
    cid = add_connector(company, "cloudvoice", cloudvoice)
    secret = service.webhook_secret(connector_row(cid))
    with session_scope() as s:
        event, new = webhooks.receive_webhook(
            s, "cloudvoice", str(cid), secret, "d-9", b'{"run_id": 55}'
        )
        event_id = event.id
    cloudvoice.down = True
    assert webhooks.import_event(event_id) == "failed"
    assert calls_of(company) == []
    cloudvoice.down = False
    with session_scope() as s:
        again, new = webhooks.receive_webhook(
            s, "cloudvoice", str(cid), secret, "d-9", b'{"run_id": "55"}'
        )
    assert new and again.id == event_id  # re-armed, not a second event
    assert webhooks.import_event(event_id) == "imported"
    assert [c.external_id for c in calls_of(company)] == ["55"]


@pytest.mark.parametrize("status", [500, 404])
def test_unavailable_signed_url_fallback_does_not_fail_a_call_with_public_tracks(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks, status: int
) -> None:
    """Issue 17 "Also": both track links are public, the mixed recording has only a
    storage key, and the optional /s3/signed-url answers 500 or 404: the call imports
    from its tracks, and the fallback is not even asked for."""
    from callscribe.connectors import sync

    cloudvoice.signed_url_status = status
    cloudvoice.add_run(
        Run(
            id=61,
            created_at=utc_ago(10),
            tracks={"user": tracks.user, "bot": tracks.bot, "recording": tracks.mixed},
            unlinked=frozenset({"recording"}),
        )
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    sync.sync_connector(cid)
    (call,) = calls_of(company)
    assert call.status != "failed" and not call.error
    assert connector_row(cid).last_sync_error is None
    assert cloudvoice.signed_url_requests == 0


def test_failing_fallback_still_fails_an_import_that_has_nothing_else(
    company: CompanyCtx, cloudvoice: FakeCloudVoice, tracks: Tracks
) -> None:
    """Only storage keys and the signed-url endpoint down: nothing to import, so the
    sync says so instead of creating an empty call."""
    from callscribe.connectors import sync

    cloudvoice.signed_url_status = 500
    cloudvoice.add_run(
        Run(id=62, created_at=utc_ago(10), tracks={"recording": tracks.mixed}, public_links=False)
    )
    cid = add_connector(company, "cloudvoice", cloudvoice)
    sync.sync_connector(cid)
    assert calls_of(company) == []
    assert connector_row(cid).last_sync_error
