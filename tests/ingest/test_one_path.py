"""One ingest path: every source resolves the customer the same way, add-calls links one
by name, PIDs dedupe (also under concurrency), and the v2 upload's blob survives a
failed commit."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer
from tests.httpservers import send_bytes, serve

WAV = AUDIO / "stereo_diarization.wav"
PHONES = ("+1 415 555 0134", "(415) 555-0134", "415.555.0134", "4155550134")
WHEN = "2026-11-20T14:03:00Z"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _engagement(call_id: str | uuid.UUID):  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        call = s.get(Engagement, uuid.UUID(str(call_id)))
        assert call is not None
        s.expunge(call)
        return call


def _customers(company: CompanyCtx) -> list:
    from sqlalchemy import select

    from callscribe.crm.models import Customer
    from callscribe.db import session_scope

    with session_scope() as s:
        return list(
            s.scalars(
                select(Customer)
                .where(Customer.company_id == company.id)
                .order_by(Customer.created_at)
            )
        )


def _agent(company: CompanyCtx) -> None:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        service.upsert_agent(s, company.id, name="Dana Rep", email="dana@example.com")


def _add_call(client: httpx.Client, company: CompanyCtx, **fields: str) -> httpx.Response:
    with WAV.open("rb") as fh:
        return client.post(
            "/api/add-calls",
            data=fields,
            files={"call": ("call.wav", fh, "audio/wav")},
            headers=company.headers,
        )


@pytest.fixture
def audio_host() -> Iterator[str]:
    body = WAV.read_bytes()
    with serve({"/call.wav": lambda h: send_bytes(h, body, "audio/wav")}) as url:
        yield url


def _v2(client: httpx.Client, company: CompanyCtx, **body: object) -> httpx.Response:
    r = client.post("/api/v1/recordings/signed-urls", json={}, headers=company.headers)
    assert r.status_code == 201, r.text
    urls = r.json()
    put = httpx.put(urls["uploadUrl"], content=WAV.read_bytes(), timeout=30)
    assert put.status_code == 200, put.text
    return client.post(
        "/api/v2/recordings",
        json={
            "downloadUrl": urls["downloadUrl"],
            "dateCreated": WHEN,
            "userEmail": "dana@example.com",
            **body,
        },
        headers=company.headers,
    )


def _tus(client: httpx.Client, company: CompanyCtx, **meta: str) -> str:
    data = WAV.read_bytes()
    tus = {"Tus-Resumable": "1.0.0"}
    metadata = ",".join(f"{k} {_b64(v)}" for k, v in {"filename": "t.wav", **meta}.items())
    r = client.post(
        "/api/uploads/",
        headers={
            **company.headers,
            **tus,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata,
        },
    )
    assert r.status_code == 201, r.text
    r = client.patch(
        r.headers["Location"],
        content=data,
        headers={
            **company.headers,
            **tus,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert r.status_code == 204, r.text
    return r.headers["Callscribe-Call-Id"]


def _ticket(client: httpx.Client, company: CompanyCtx, external_id: str, customer: dict) -> str:
    r = client.post(
        "/api/tickets",
        json={
            "channel": "chat",
            "external_id": external_id,
            "customer": customer,
            "messages": [
                {"role": "customer", "text": "My order never arrived."},
                {"role": "agent", "text": "I am sending a replacement today."},
            ],
        },
        headers=company.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["call_id"]


def _sheet(client: httpx.Client, company: CompanyCtx, rows: list[dict]) -> list[str]:
    """The rows through the sheets API, processed by the sheet task's own function."""
    from callscribe.ingest.tasks import run_sheet

    mapping = {
        "external_id": "ID",
        "text": "Transcript",
        "customer_name": "Customer",
        "customer_phone": "Phone",
        "customer_email": "Email",
    }
    r = client.post(
        "/api/sheets", json={"name": "one path", "mapping": mapping}, headers=company.headers
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.post(f"/api/sheets/{sid}/rows", json=rows, headers=company.headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/sheets/{sid}/finalize", headers=company.headers)
    assert r.status_code in (200, 202), r.text
    assert run_sheet(uuid.UUID(sid)) == "completed"
    from sqlalchemy import select

    from callscribe.db import session_scope
    from callscribe.ingest.models import SheetRow

    with session_scope() as s:
        done = s.scalars(
            select(SheetRow).where(SheetRow.job_id == uuid.UUID(sid)).order_by(SheetRow.row_no)
        )
        out = []
        for row in done:
            assert row.status == "done", row.error
            out.append(str(row.engagement_id))
        return out


def test_add_calls_with_customer_name_links_a_customer(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN no customers WHEN add-calls is sent with only a customer_name THEN the call
    belongs to a new customer of that name, and the next call of that name to the same
    one."""
    with api_server.client() as client:
        first = _add_call(client, company, customer_name="Crystal Minh")
        assert first.status_code == 201, first.text
        second = _add_call(client, company, customer_name="crystal minh")
        assert second.status_code == 201, second.text
    (customer,) = _customers(company)
    assert customer.name == "Crystal Minh"
    assert _engagement(first.json()["call_id"]).customer_id == customer.id
    assert _engagement(second.json()["call_id"]).customer_id == customer.id


def test_every_source_finds_the_same_customer_by_phone(
    api_server: LiveServer, company: CompanyCtx, audio_host: str
) -> None:
    """GIVEN a call from add-calls that created the customer for +1 415 555 0134
    WHEN the same number (written four ways) comes by the audio URL API, the signed-URL
    v2 upload, tus, a ticket, a sheet row and a connector import
    THEN every one of those engagements belongs to that one customer."""
    from tests.connectors.conftest import add_connector, calls_of
    from tests.connectors.fakes import DialerRecording, FakeCallCenter, minutes_ago

    _agent(company)
    with api_server.client() as client:
        r = _add_call(client, company, customer_name="Crystal Minh", customer_phone=PHONES[0])
        assert r.status_code == 201, r.text
        (customer,) = _customers(company)
        assert customer.phones == ["+14155550134"]
        ids = {"add-calls": r.json()["call_id"]}
        r = client.post(
            "/api/calls/from-url",
            json={"audio_url": f"{audio_host}/call.wav", "customer_phone": PHONES[1]},
            headers=company.headers,
        )
        assert r.status_code == 201, r.text
        ids["from-url"] = r.json()["call_id"]
        r = _v2(client, company, customerPhone=PHONES[2])
        assert r.status_code == 201, r.text
        ids["v2"] = r.json()["callId"]
        ids["tus"] = _tus(client, company, customer_phone=PHONES[3])
        ids["ticket"] = _ticket(client, company, "t-1", {"phone": PHONES[1]})
        (ids["sheet"],) = _sheet(
            client,
            company,
            [{"ID": "s-1", "Transcript": "Customer: hello\nAgent: hi", "Phone": PHONES[2]}],
        )
    dialer = FakeCallCenter().start()
    try:
        dialer.add(
            DialerRecording(
                "9401",
                "6666",
                minutes_ago(20),
                (AUDIO / "jfk.flac").read_bytes(),
                phone="4155550134",
            )
        )
        from callscribe.connectors import sync

        cid = add_connector(company, "cloudvoice_call_center", dialer)
        assert sync.sync_connector(cid).imported == 1
    finally:
        dialer.stop()
    (imported,) = calls_of(company, "cloudvoice_call_center")
    ids["connector"] = str(imported.id)

    assert [c.id for c in _customers(company)] == [customer.id]  # no second customer
    linked = {source: _engagement(call_id).customer_id for source, call_id in ids.items()}
    assert linked == {source: customer.id for source in ids}


def test_ticket_and_sheet_find_the_same_customer_by_email(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a ticket whose customer is known only by email WHEN a sheet row carries the
    same address in another case THEN both belong to one customer."""
    with api_server.client() as client:
        first = _ticket(client, company, "t-1", {"name": "Jo Park", "email": "Jo.Park@Example.com"})
        (second,) = _sheet(
            client,
            company,
            [
                {
                    "ID": "s-1",
                    "Transcript": "Customer: hello\nAgent: hi",
                    "Email": "jo.park@example.com",
                }
            ],
        )
    (customer,) = _customers(company)
    assert customer.emails == ["jo.park@example.com"]
    assert _engagement(first).customer_id == customer.id
    assert _engagement(second).customer_id == customer.id


def test_v2_upload_is_kept_when_the_commit_fails_and_a_retry_succeeds(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN an uploaded recording (steps 1 and 2)
    WHEN step 3 runs but its transaction fails to commit (a constraint violation)
    THEN the uploaded blob is still in the store and the upload unused, and the same
    step 3 sent again creates the call and only then deletes the upload's blob."""
    from sqlalchemy.exc import IntegrityError

    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope
    from callscribe.ingest import service
    from callscribe.ingest.models import RecordingUpload
    from callscribe.ingest.request import pid_for
    from callscribe.ingest.schemas import RecordingV2In
    from callscribe.storage import get_store

    _agent(company)
    with api_server.client() as client:
        r = client.post("/api/v1/recordings/signed-urls", json={}, headers=company.headers)
        urls = r.json()
        assert httpx.put(urls["uploadUrl"], content=WAV.read_bytes(), timeout=30).status_code == 200
        upload_id = uuid.UUID(urls["downloadUrl"].rsplit("/", 1)[-1])
        body = {
            "downloadUrl": urls["downloadUrl"],
            "dateCreated": WHEN,
            "userEmail": "dana@example.com",
            "externalId": "rec-77",
        }
        with pytest.raises(IntegrityError), session_scope() as s:
            result = service.create_recording(
                s,
                Principal(company_id=company.id, role=Role.ADMIN),
                RecordingV2In.model_validate(body),
            )
            assert not result.duplicate
            # the same item twice (its PID): the commit's flush fails
            s.add(
                Engagement(
                    company_id=company.id,
                    source="api-v2",
                    pid=pid_for(company.id, "api-v2", None, "rec-77"),
                    status="received",
                )
            )
        with session_scope() as s:
            upload = s.get(RecordingUpload, upload_id)
            assert upload is not None and upload.status == "uploaded"
            blob_key = upload.blob_key
            assert s.query(Engagement).filter_by(company_id=company.id).count() == 0
        assert get_store().exists(blob_key)

        r = client.post("/api/v2/recordings", json=body, headers=company.headers)
        assert r.status_code == 201, r.text
        assert _engagement(r.json()["callId"]).audio_size == WAV.stat().st_size
        assert not get_store().exists(blob_key)  # deleted once the call was committed
        again = client.post("/api/v2/recordings", json=body, headers=company.headers)
        assert again.status_code == 200 and again.json()["callId"] == r.json()["callId"]


def test_pid_is_uuid5_of_company_source_data_set_and_external_id(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """The PID of an engagement is its UUIDv5; a data set is part of it, so the same
    external id in another data set is another item."""
    from callscribe.db import session_scope
    from callscribe.ingest import service
    from callscribe.ingest.parsers import ParsedTurn
    from callscribe.ingest.request import IngestRequest, pid_for

    with api_server.client() as client:
        call_id = _ticket(client, company, "t-9", {"name": "Ann"})
    call = _engagement(call_id)
    assert call.pid == pid_for(company.id, "tickets", None, "t-9")
    assert call.pid.version == 5
    assert pid_for(company.id, "tickets", "batch-2", "t-9") != call.pid
    assert pid_for(uuid.uuid4(), "tickets", None, "t-9") != call.pid

    turns = [ParsedTurn(role="customer", text="hello")]
    with session_scope() as s:
        a = service.create_engagement(
            s,
            IngestRequest(
                company.id, "zip", channel="chat", data_set="a", external_id="x", turns=turns
            ),
        )
        b = service.create_engagement(
            s,
            IngestRequest(
                company.id, "zip", channel="chat", data_set="b", external_id="x", turns=turns
            ),
        )
        again = service.create_engagement(
            s,
            IngestRequest(
                company.id, "zip", channel="chat", data_set="a", external_id="x", turns=turns
            ),
        )
        assert not a.duplicate and not b.duplicate and again.duplicate
        assert again.engagement.id == a.engagement.id != b.engagement.id


@pytest.mark.parametrize("source", ["add-calls", "tickets"])
def test_concurrent_resends_make_one_engagement(
    api_server: LiveServer, company: CompanyCtx, source: str
) -> None:
    """GIVEN one item WHEN it is sent eight times at once with the same external id
    THEN there is one engagement (and one customer): one answer says created, the others
    duplicate with its id."""

    def send(_i: int) -> httpx.Response:
        with api_server.client() as client:
            if source == "add-calls":
                return _add_call(client, company, external_id="same-1", customer_phone=PHONES[0])
            return client.post(
                "/api/tickets",
                json={
                    "channel": "email",
                    "external_id": "same-1",
                    "customer": {"phone": PHONES[0]},
                    "messages": [{"role": "customer", "text": "Where is my refund?"}],
                },
                headers=company.headers,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201], [r.text for r in answers]
    assert len({r.json()["call_id"] for r in answers}) == 1
    assert all(r.json()["duplicate"] for r in answers if r.status_code == 200)
    from tests.connectors.conftest import calls_of

    assert len(calls_of(company)) == 1
    assert len(_customers(company)) == 1


def test_parsers_registry_reads_the_formats_we_accept() -> None:
    from callscribe.ingest.parsers import PARSERS, get_parser
    from callscribe.ingest.parsers.base import ParsedTurn

    assert set(PARSERS) == {"speaker_lines", "timestamped_lines", "json_messages"}
    assert get_parser("speaker_lines").parse("Agent: hi\nClient: my bill\nis wrong") == [
        # no times in the text: kept in order on a made-up clock, said so (issue 18)
        ParsedTurn("agent", "hi", 0, 0, timed=False),
        ParsedTurn("customer", "my bill is wrong", 1000, 1000, timed=False),
    ]
    timed = get_parser("timestamped_lines").parse(
        "[2026-03-01T10:00:00Z] assistant: Hello, how can I help?\n"
        "[2026-03-01T10:00:02.500Z] user: I need a ride\nto the airport"
    )
    assert timed == [
        ParsedTurn("bot", "Hello, how can I help?", 0, 2500),
        ParsedTurn("customer", "I need a ride to the airport", 2500, 2500 + 350 * 7),
    ]
    messages = get_parser("json_messages").parse(
        '{"messages": [{"role": "customer", "text": "hi", "sent_at": "2026-03-01T10:00:00Z"},'
        ' {"role": "agent", "text": "hello", "author": "Dana",'
        ' "sent_at": "2026-03-01T10:01:00Z"}]}'
    )
    assert messages == [
        ParsedTurn("customer", "hi", 0, 0),
        ParsedTurn("agent", "hello", 60_000, 60_000, speaker="Dana"),
    ]
