"""The three-step recording upload with a real HTTP client: signed URL, PUT, v2 call."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import AUDIO, CompanyCtx, LiveServer, make_company, wait_for_status

WAV = AUDIO / "stereo_diarization.wav"
WHEN = "2026-11-20T14:03:00Z"


def _agent(company: CompanyCtx, **fields: str) -> str:
    from callscribe.accounts import service
    from callscribe.db import session_scope

    with session_scope() as s:
        agent = service.upsert_agent(s, company.id, name="Dana Rep", **fields)
        return str(agent.id)


def _customer(company: CompanyCtx, **data: object) -> str:
    from callscribe.crm import service
    from callscribe.crm.schemas import CustomerIn
    from callscribe.db import session_scope

    with session_scope() as s:
        row = CustomerIn.model_validate(data).model_dump()
        (result,) = service.add_customers(s, company.id, [(1, row)])
        assert result.status == "created", result
        return str(result.customer_id)


def _upload(client: httpx.Client, company: CompanyCtx, data: bytes = b"", **step1: object) -> dict:
    r = client.post("/api/v1/recordings/signed-urls", json=step1, headers=company.headers)
    assert r.status_code == 201, r.text
    urls = r.json()
    if data:
        put = httpx.put(urls["uploadUrl"], content=data, timeout=30)
        assert put.status_code == 200, put.text
        assert put.json()["size"] == len(data)
    return urls


def _calls(client: httpx.Client, company: CompanyCtx) -> int:
    return client.get("/api/calls", headers=company.headers).json()["total"]


@pytest.mark.slow
def test_three_steps_create_a_call_that_completes(
    live_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a rep known by email
    WHEN the recording is uploaded in three steps
    THEN the call is created as that rep's, starts at dateCreated, and completes."""
    agent_id = _agent(company, email="dana@example.com")
    with live_server.client() as client:
        urls = _upload(client, company, WAV.read_bytes(), filename="call.wav")
        assert "token=" in urls["uploadUrl"] and "token" not in urls["downloadUrl"]
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": "Dana@Example.com",
            },
            headers=company.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["agentId"] == agent_id
        assert body["crmLinks"] == [] and body["unknownCrmObjects"] == []
        with live_server.client(headers=company.headers) as authed:
            call = wait_for_status(authed, body["callId"])
        assert call["status"] == "completed", call["error"]
        assert call["started_at"].startswith("2026-11-20T14:03:00")
        assert call["agent"]["id"] == agent_id
        assert call["audio_filename"] == "call.wav"
        assert call["turns"]
        # the same downloadUrl again is the same call
        again = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": "dana@example.com",
            },
            headers=company.headers,
        )
        assert again.status_code == 200 and again.json()["callId"] == body["callId"]
        assert _calls(client, company) == 1


@pytest.mark.parametrize(
    "rep",
    [
        {"userId": "AGENT_ID"},
        {"userId": "ext-77"},
        {"userEmail": "DANA@example.com"},
        {"userPhone": "(415) 555-0100"},
        {"userId": "nobody", "userEmail": "nobody@example.com", "userPhone": "+1 415 555 0100"},
    ],
    ids=["user-id", "external-id", "email", "phone", "falls-through-to-phone"],
)
def test_rep_is_resolved_by_each_field(
    api_server: LiveServer, company: CompanyCtx, rep: dict
) -> None:
    agent_id = _agent(
        company, email="Dana@Example.com", phone="+14155550100", extension_id="ext-77"
    )
    rep = {k: (agent_id if v == "AGENT_ID" else v) for k, v in rep.items()}
    with api_server.client() as client:
        urls = _upload(client, company, WAV.read_bytes())
        r = client.post(
            "/api/v2/recordings",
            json={"downloadUrl": urls["downloadUrl"], "dateCreated": WHEN, **rep},
            headers=company.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["agentId"] == agent_id


@pytest.mark.parametrize(
    "rep",
    [{}, {"userEmail": "ghost@example.com", "userPhone": "+44 20 7946 0000", "userId": "x"}],
    ids=["no-rep-fields", "unresolvable"],
)
def test_no_resolvable_rep_is_422_and_creates_nothing(
    api_server: LiveServer, company: CompanyCtx, rep: dict
) -> None:
    _agent(company, email="dana@example.com")
    with api_server.client() as client:
        urls = _upload(client, company, WAV.read_bytes())
        body = {"downloadUrl": urls["downloadUrl"], "dateCreated": WHEN, **rep}
        r = client.post("/api/v2/recordings", json=body, headers=company.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] in ("rep_required", "rep_not_found")
        assert _calls(client, company) == 0
        # the upload is still there: the corrected request succeeds
        body["userEmail"] = "dana@example.com"
        r = client.post("/api/v2/recordings", json=body, headers=company.headers)
        assert r.status_code == 201, r.text


def test_definite_crm_links_and_unknown_objects(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    _agent(company, email="dana@example.com")
    customer_id = _customer(
        company,
        name="Crystal Minh",
        phones=["+14155550134"],
        crm_objects=[{"connection_id": "hubspot-main", "object_type": "deal", "object_id": "D-1"}],
    )
    _customer(
        company,
        name="Other Person",
        crm_objects=[{"connection_id": "salesforce", "object_type": "deal", "object_id": "D-2"}],
    )
    with api_server.client() as client:
        urls = _upload(client, company, WAV.read_bytes())
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": "dana@example.com",
                "integrationConnectionId": "hubspot-main",
                "crmObjects": [
                    {"objectType": "deal", "objectId": "D-1"},
                    {"objectType": "deal", "objectId": "D-2"},  # exists, but in another connection
                    {"objectType": "contact", "objectId": "C-404"},
                ],
                "customerPhone": "+1 415 555 0134",
            },
            headers=company.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert [
            (link["objectType"], link["objectId"], link["customerId"]) for link in body["crmLinks"]
        ] == [("deal", "D-1", customer_id)]
        assert body["unknownCrmObjects"] == [
            {"objectType": "deal", "objectId": "D-2"},
            {"objectType": "contact", "objectId": "C-404"},
        ]
        assert body["suggestedLinks"] == []  # definite links given: no guessing
        call = client.get(f"/api/calls/{body['callId']}", headers=company.headers).json()
        assert call["metadata"]["crm_links"][0]["customerId"] == customer_id
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": _upload(client, company, WAV.read_bytes())["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": "dana@example.com",
                "crmObjects": [{"objectType": "deal", "objectId": "D-1"}],
            },
            headers=company.headers,
        )
        assert r.status_code == 422  # objects need their connection


def test_suggested_links_by_phone_and_name_are_listed_on_the_call(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    _agent(company, email="dana@example.com")
    by_phone = _customer(company, name="Crystal Minh", phones=["+14155550134"])
    by_name = _customer(company, name="Jonathan Whitaker", emails=["jw@example.com"])
    _customer(company, name="Someone Else Entirely", phones=["+14155550999"])
    with api_server.client() as client:
        urls = _upload(client, company, WAV.read_bytes())
        r = client.post(
            "/api/v2/recordings",
            json={
                "downloadUrl": urls["downloadUrl"],
                "dateCreated": WHEN,
                "userEmail": "dana@example.com",
                "customerPhone": "(415) 555-0134",
                "customerName": "Jonathon Whitaker",
            },
            headers=company.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        suggested = {link["customerId"]: link for link in body["suggestedLinks"]}
        assert set(suggested) == {by_phone, by_name}
        assert suggested[by_phone]["reason"] == "phone" and suggested[by_phone]["score"] == 1.0
        assert suggested[by_name]["reason"] == "name" and 0.88 <= suggested[by_name]["score"] < 1
        call = client.get(f"/api/calls/{body['callId']}", headers=company.headers).json()
        listed = {s["customerId"] for s in call["metadata"]["crm_suggestions"]}
        assert listed == {by_phone, by_name}
        # a person confirms one: the call belongs to that customer
        link_id = suggested[by_phone]["id"]
        r = client.post(
            f"/api/calls/{body['callId']}/links/{link_id}/confirm", headers=company.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == "confirmed"


def test_expired_and_tampered_urls_are_403(api_server: LiveServer, company: CompanyCtx) -> None:
    from callscribe.security.crypto import sign

    with api_server.client() as client:
        urls = _upload(client, company)
        parts = urlsplit(urls["uploadUrl"])
        upload_id = parts.path.rsplit("/", 1)[-1]
        token = parse_qs(parts.query)["token"][0]
        base = f"{api_server.url}{parts.path}"

        expired = sign(f"recording-upload:{upload_id}", int(time.time()) - 5)
        r = httpx.put(base, params={"token": expired}, content=b"RIFF....")
        assert r.status_code == 403 and r.json()["error"]["code"] == "url_expired"

        exp, sig = token.split(".", 1)
        tampered_sig = sig[:-1] + ("A" if sig[-1] != "A" else "B")
        for bad in (f"{exp}.{tampered_sig}", f"{int(exp) + 3600}.{sig}", ""):
            r = httpx.put(base, params={"token": bad}, content=b"RIFF....")
            assert r.status_code == 403, bad
        other = f"{api_server.url}/api/v1/recordings/uploads/{uuid.uuid4()}"
        assert httpx.put(other, params={"token": token}, content=b"x").status_code == 403
        # nothing was stored: step 3 still says the upload is missing
        r = client.post(
            "/api/v2/recordings",
            json={"downloadUrl": urls["downloadUrl"], "dateCreated": WHEN, "userEmail": "a@b.co"},
            headers=company.headers,
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "upload_missing"


def test_wrong_size_is_refused(
    api_server: LiveServer, company: CompanyCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callscribe.settings import reset_settings

    data = WAV.read_bytes()
    with api_server.client() as client:
        urls = _upload(client, company, contentLength=len(data) + 10)
        r = httpx.put(urls["uploadUrl"], content=data)
        assert r.status_code == 400 and r.json()["error"]["code"] == "size_mismatch"
        assert httpx.put(urls["uploadUrl"], content=b"").status_code == 400

        monkeypatch.setenv("CALLSCRIBE_MAX_UPLOAD_MB", "1")
        reset_settings()
        urls = _upload(client, company)

        def body():  # streamed, no Content-Length: the limit is enforced while reading
            for _ in range(3):
                yield b"\0" * (512 * 1024)

        r = httpx.put(urls["uploadUrl"], content=body())
        assert r.status_code == 413
        r = client.post(
            "/api/v1/recordings/signed-urls",
            json={"contentLength": 2 * 1024 * 1024},
            headers=company.headers,
        )
        assert r.status_code == 413


def test_step_three_before_step_two_is_409(api_server: LiveServer, company: CompanyCtx) -> None:
    _agent(company, email="dana@example.com")
    with api_server.client() as client:
        urls = _upload(client, company)
        body = {
            "downloadUrl": urls["downloadUrl"],
            "dateCreated": WHEN,
            "userEmail": "dana@example.com",
        }
        r = client.post("/api/v2/recordings", json=body, headers=company.headers)
        assert r.status_code == 409
        assert "PUT the audio" in r.json()["error"]["message"]
        r = client.post(
            "/api/v2/recordings",
            json={
                **body,
                "downloadUrl": f"{api_server.url}/api/v1/recordings/uploads/{uuid.uuid4()}",
            },
            headers=company.headers,
        )
        assert r.status_code == 404
        assert _calls(client, company) == 0
        # another company cannot use this upload
        stranger = make_company("Stranger Inc")
        httpx.put(urls["uploadUrl"], content=WAV.read_bytes()).raise_for_status()
        r = client.post("/api/v2/recordings", json=body, headers=stranger.headers)
        assert r.status_code == 404
