"""Recording sources refuse to attribute a call to another agent unless the principal
may (`calls.attribute_any`, docs/permissions.md): add-calls, the audio URL, signed-URL
v2 and tus, through the API, as an agent's session, a reviewer's session and the
company's API key (which may)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import AUDIO, CompanyCtx, LiveServer
from tests.httpservers import send_bytes, serve
from tests.web.conftest import (
    create_user,
    sign_in,
)

WAV = (AUDIO / "sample.wav").read_bytes()
TUS = {"Tus-Resumable": "1.0.0"}
OTHER_EXT = "777"  # Olga's extension: not the caller's


@dataclass
class Caller:
    client: httpx.Client
    headers: dict[str, str]
    user_id: str = ""


def _engagements() -> int:
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Engagement)) or 0)


@pytest.fixture
def callers(api_server: LiveServer, company: CompanyCtx) -> Iterator[dict[str, Caller]]:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    with session_scope() as s:
        accounts.upsert_agent(
            s, company.id, name="Olga Other", email="olga@acme.test", extension_id=OTHER_EXT
        )
    out: dict[str, Caller] = {}
    for role, ext in (("agent", "201"), ("reviewer", "202")):
        uid = create_user(company.id, f"{role}@acme.test", role, extension_id=ext)
        web = sign_in(api_server.url, f"{role}@acme.test")
        out[role] = Caller(web.client, {"X-CSRF-Token": web.csrf}, str(uid))
    out["api_key"] = Caller(api_server.client(), dict(company.headers))
    yield out
    for c in out.values():
        c.client.close()


def _add_call(c: Caller, ext: str | None, n: str) -> httpx.Response:
    data = {"external_id": f"add-{n}", **({"extension_id": ext} if ext else {})}
    return c.client.post(
        "/api/add-calls",
        headers=c.headers,
        data=data,
        files={"call": ("call.wav", WAV, "audio/wav")},
    )


def _b64(v: str) -> str:
    return base64.b64encode(v.encode()).decode()


def _tus(c: Caller, ext: str | None, n: str) -> httpx.Response:
    meta = f"filename {_b64('call.wav')},external_id {_b64('tus-' + n)}"
    if ext:
        meta += f",extension_id {_b64(ext)}"
    r = c.client.post(
        "/api/uploads/",
        headers={**c.headers, **TUS, "Upload-Length": str(len(WAV)), "Upload-Metadata": meta},
    )
    assert r.status_code == 201, r.text
    return c.client.patch(
        r.headers["Location"],
        headers={
            **c.headers,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        content=WAV,
    )


def _v2(c: Caller, rep: dict[str, str], n: str) -> httpx.Response:
    r = c.client.post("/api/v1/recordings/signed-urls", headers=c.headers, json={})
    assert r.status_code == 201, r.text
    urls = r.json()
    assert httpx.put(urls["uploadUrl"], content=WAV, timeout=30).status_code == 200
    return c.client.post(
        "/api/v2/recordings",
        headers=c.headers,
        json={
            "downloadUrl": urls["downloadUrl"],
            **rep,
            "externalId": f"v2-{n}",
            "dateCreated": "2026-11-02T10:00:00Z",
        },
    )


@pytest.fixture
def audio_host() -> Iterator[str]:
    with serve({"/call.wav": lambda h: send_bytes(h, WAV, "audio/wav")}) as url:
        yield url


def _from_url(c: Caller, url: str, ext: str | None, n: str) -> httpx.Response:
    body = {"audio_url": f"{url}/call.wav", "external_id": f"url-{n}"}
    if ext:
        body["extension_id"] = ext
    return c.client.post("/api/calls/from-url", headers=c.headers, json=body)


@pytest.mark.parametrize("source", ["add-calls", "tus", "signed-url-v2", "audio-url"])
def test_agents_and_reviewers_cannot_attribute_a_recording_to_another_agent(
    callers: dict[str, Caller], audio_host: str, source: str
) -> None:
    """GIVEN an agent and a reviewer signed in, and the company's API key
    WHEN each sends a recording naming Olga's agent
    THEN the sessions get 403 and nothing is stored; the key's call is created; a session
    naming its own agent (or none) is accepted."""

    def send(c: Caller, other: bool, n: str) -> httpx.Response:
        ext = OTHER_EXT if other else None
        if source == "add-calls":
            return _add_call(c, ext, n)
        if source == "tus":
            return _tus(c, ext, n)
        if source == "signed-url-v2":
            rep = {"userEmail": "olga@acme.test"} if other else {"userId": c.user_id}
            return _v2(c, rep, n)
        return _from_url(c, audio_host, ext, n)

    for role in ("agent", "reviewer"):
        r = send(callers[role], True, f"{role}-other")
        assert r.status_code == 403, (role, r.status_code, r.text)
        assert _engagements() == 0, role
    r = send(callers["agent"], False, "agent-own")
    assert r.status_code in (201, 204), r.text
    assert _engagements() == 1
    r = send(callers["api_key"], True, f"key-{uuid.uuid4().hex[:6]}")
    assert r.status_code in (201, 204), r.text
    assert _engagements() == 2
