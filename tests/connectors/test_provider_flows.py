"""What every provider of tests/connectors/providers/ must do through our own database
and HTTP API (issue 19's "must hold"), against its local server: first sync and the
incremental sync from the cursor, the provider breaking mid-sync, and its webhook —
a valid delivery makes one engagement, an invalid one answers 401 and stores nothing,
ten parallel re-deliveries make one engagement."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.connectors.conftest import Tracks, add_connector, calls_of, connector_row
from tests.connectors.test_contract import provider_kits

KITS = provider_kits()
pytestmark = pytest.mark.skipif(not KITS, reason="no provider kits yet")


@pytest.fixture(params=sorted(KITS) or ["none"])
def kit(request: pytest.FixtureRequest, tracks: Tracks):  # type: ignore[no-untyped-def]
    kit = KITS[request.param](tracks)
    yield kit
    kit.server.stop()


def _connector(company: CompanyCtx, kit) -> uuid.UUID:  # type: ignore[no-untyped-def]
    return add_connector(company, kit.type, kit.server, credentials=kit.credentials())


def _events(cid: uuid.UUID) -> list:
    from sqlalchemy import select

    from callscribe.connectors.models import InboundEvent
    from callscribe.db import session_scope

    with session_scope() as s:
        return list(s.scalars(select(InboundEvent).where(InboundEvent.connector_id == cid)))


def test_first_sync_then_incremental_sync_from_the_cursor(company: CompanyCtx, kit) -> None:  # type: ignore[no-untyped-def]
    from callscribe.connectors import sync

    first = [kit.add_call(n, minutes_ago=m) for n, m in ((1, 300), (2, 200))]
    cid = _connector(company, kit)
    done = sync.sync_connector(cid)
    assert (done.status, done.imported, done.failed) == ("succeeded", 2, 0), done.error
    assert sorted(c.external_id for c in calls_of(company, kit.type)) == sorted(first)
    cursor = connector_row(cid).cursor
    assert cursor is not None

    later = kit.add_call(3, minutes_ago=100)
    again = sync.sync_connector(cid)
    assert (again.status, again.imported, again.failed) == ("succeeded", 1, 0), again.error
    assert again.seen <= 2  # from the cursor (inclusive): not the whole history again
    assert sorted(c.external_id for c in calls_of(company, kit.type)) == sorted([*first, later])
    channel = getattr(kit, "channel", "voice")
    assert {c.channel for c in calls_of(company, kit.type)} == {channel}
    assert all(c.customer_id is not None for c in calls_of(company, kit.type))
    assert all(c.agent_id is not None for c in calls_of(company, kit.type))


def test_provider_breaking_mid_sync_keeps_the_cursor_and_the_next_sync_completes(  # type: ignore[no-untyped-def]
    company: CompanyCtx, kit
) -> None:
    from callscribe.connectors import sync

    ids = [kit.add_call(n, minutes_ago=m) for n, m in ((1, 300), (2, 200), (3, 100))]
    cid = _connector(company, kit)
    kit.break_call(ids[1])
    broken = sync.sync_connector(cid)
    assert broken.status == "failed", broken
    assert "503" in (broken.error or "") or "server error" in (broken.error or "")
    assert connector_row(cid).cursor is None
    kit.mend()
    ok = sync.sync_connector(cid)
    assert ok.status == "succeeded", ok.error
    assert sorted(c.external_id for c in calls_of(company, kit.type)) == sorted(ids)
    assert connector_row(cid).cursor is not None


@pytest.fixture
def webhook_kit(kit):  # type: ignore[no-untyped-def]
    from callscribe.connectors.registry import get_connector_type

    if not get_connector_type(kit.type).supports_webhook:
        pytest.skip(f"{kit.type} has no real-time webhook")
    return kit


def _deliver(api_server: LiveServer, kit, cid: uuid.UUID, external_id: str, *, valid: bool = True):  # type: ignore[no-untyped-def]
    from callscribe.connectors import service

    connector = connector_row(cid)
    secret = service.webhook_secret(connector) if connector.webhook_secret_enc else ""
    url = service.webhook_url(connector)
    request = kit.delivery(external_id, url=url, secret=secret, valid=valid)
    path_and_query = request.url[len(api_server.url) :]
    with httpx.Client(base_url=api_server.url, timeout=60) as client:
        return client.post(
            path_and_query,
            content=request.body,
            headers={
                k: v for k, v in request.headers.items() if k not in ("host", "content-length")
            },
        )


def _import_new(answers: list[httpx.Response]) -> None:
    """The API only records deliveries (no worker here): run the import task each new
    event asked for, as the worker would."""
    from callscribe.connectors import webhooks

    for answer in answers:
        if answer.json()["status"] == "accepted":
            for event_id in answer.json()["event_ids"]:
                webhooks.import_event(event_id)


def test_a_valid_delivery_makes_one_engagement_and_an_invalid_one_nothing(  # type: ignore[no-untyped-def]
    api_server: LiveServer, company: CompanyCtx, webhook_kit
) -> None:
    kit = webhook_kit
    cid = _connector(company, kit)
    external_id = kit.add_call(1, minutes_ago=2)

    refused = _deliver(api_server, kit, cid, external_id, valid=False)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["message"]
    assert _events(cid) == [] and calls_of(company, kit.type) == []

    accepted = _deliver(api_server, kit, cid, external_id)
    assert accepted.status_code in (200, 202), accepted.text
    assert accepted.json()["status"] == "accepted"
    _import_new([accepted])
    (call,) = calls_of(company, kit.type)
    assert call.external_id == external_id
    again = _deliver(api_server, kit, cid, external_id)
    assert again.json()["status"] == "duplicate"
    assert len(calls_of(company, kit.type)) == 1


def test_ten_parallel_redeliveries_make_one_engagement(  # type: ignore[no-untyped-def]
    api_server: LiveServer, company: CompanyCtx, webhook_kit
) -> None:
    kit = webhook_kit
    cid = _connector(company, kit)
    external_id = kit.add_call(1, minutes_ago=2)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: _deliver(api_server, kit, cid, external_id), range(10)))
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    assert [a.json()["status"] for a in answers].count("accepted") == 1
    _import_new(answers)
    assert [c.external_id for c in calls_of(company, kit.type)] == [external_id]
