"""Issue 17 #11: inputs that used to end in a 500 get a 4xx with a message. Property-based
(hypothesis) over the header values the tus endpoints parse, on both databases; a
multipart boundary past RFC 2046's 70 characters is refused."""

from __future__ import annotations

import base64
import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CompanyCtx, LiveServer

TUS = {"Tus-Resumable": "1.0.0"}
JSON = {"Content-Type": "application/json"}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# what a header can carry (latin-1, no control characters): digits of every kind
# ('²', '³', '¹' are digits to str.isdigit), signs, spaces, huge numbers
header_values = st.one_of(
    # visible ASCII and latin-1 look-alike digits ('²³¹' pass str.isdigit, not int)
    st.text(alphabet=[chr(c) for c in range(33, 127)] + list("²³¹¼µ"), min_size=1, max_size=30),
    st.text(alphabet="0123456789²³¹", min_size=1, max_size=30),
    st.text(alphabet="0123456789", min_size=1, max_size=5000),
    st.sampled_from(["²", "1²", "³³", "¹0", "1e9", "0x10", "-1", "9" * 5000]),
)


def _message(resp: httpx.Response) -> str:
    return resp.json()["error"]["message"]


@FUZZ
@given(value=header_values)
def test_any_upload_length_gets_a_created_upload_or_a_4xx(
    api_server: LiveServer, company: CompanyCtx, value: str
) -> None:
    meta = f"filename {base64.b64encode(b'a.wav').decode()}"
    headers = {**company.headers, **TUS, "Upload-Metadata": meta}
    with api_server.client() as c:
        resp = c.post(
            "/api/uploads/",
            headers=[*headers.items(), ("Upload-Length", value.encode("latin-1"))],
        )
    assert resp.status_code < 500, (value[:50], resp.text[:200])
    if resp.status_code >= 400:
        assert _message(resp)


@FUZZ
@given(value=header_values)
def test_any_upload_offset_gets_a_4xx_not_a_500(
    api_server: LiveServer, company: CompanyCtx, value: str
) -> None:
    meta = f"filename {base64.b64encode(b'a.wav').decode()}"
    with api_server.client() as c:
        created = c.post(
            "/api/uploads/",
            headers={**company.headers, **TUS, "Upload-Length": "10", "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.text
        resp = c.patch(
            created.headers["Location"],
            content=b"x",
            headers=[
                *company.headers.items(),
                *TUS.items(),
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", value.encode("latin-1")),
            ],
        )
    assert resp.status_code < 500, (value[:50], resp.text[:200])
    if not (value.isascii() and set(value) == {"0"}):  # "0", "00": the right offset
        assert 400 <= resp.status_code < 500 and _message(resp)


def test_a_300_character_multipart_boundary_is_refused_with_a_message(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    boundary = "b" * 300
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="call"; filename="a.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\nRIFF\r\n--{boundary}--\r\n"
    ).encode()
    with api_server.client() as c:
        resp = c.post(
            "/api/add-calls",
            content=body,
            headers={
                **company.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
    assert resp.status_code == 400, resp.text[:300]
    assert "boundary" in _message(resp)


# -- text, dates and numbers in JSON bodies (issue 17 #11, the rest) ---------------------
#
# NUL: removed from every value written (db.strip_nul), on both databases; PostgreSQL
# cannot store it and it means nothing in text. Dates: normalised to aware UTC, a date
# that overflows once converted is a 422. Numbers: any size is a number or a 422.

texts = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.sampled_from(["a", " ", "\x00", "é", "\u2028", "😀"]), min_size=1),
    st.sampled_from(["\x00", "a\x00b", "\x00\x00 x", "line\x00\nnext"]),
)
instants = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
            "2026-11-20T14:03:00Z",
            "2026-11-20T14:03:00",  # naive, next to aware ones
            "2026-11-20T14:03:00+05:30",
            "not a date",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**399, max_value=10**400),
    st.integers(min_value=10**399, max_value=10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1" * 400, "-" + "9" * 400, "1e400", "0x10", "²"]),
)


def _no_500(resp: httpx.Response, sent: object) -> None:
    assert resp.status_code < 500, (str(sent)[:300], resp.text[:300])
    if resp.status_code >= 400:
        assert _message(resp)


@FUZZ
@given(
    text=texts,
    subject=texts,
    author=texts,
    times=st.lists(instants, min_size=1, max_size=4),
)
def test_any_chat_text_and_times_store_or_get_a_4xx(
    api_server: LiveServer,
    company: CompanyCtx,
    text: str,
    subject: str,
    author: str,
    times: list[str | None],
) -> None:
    body = {
        "channel": "chat",
        "subject": subject,
        "customer": {"name": author},
        "agent": {"name": author},
        "messages": [
            {"role": "customer" if i % 2 else "agent", "text": text, "author": author, "sent_at": t}
            for i, t in enumerate(times)
        ],
    }
    with api_server.client(headers=company.headers) as c:
        resp = c.post("/api/tickets", json=body)
        _no_500(resp, body)
        if resp.status_code < 300:  # stored: and it reads back, without NUL
            listed = c.get("/api/calls")
            assert listed.status_code == 200 and "\\u0000" not in listed.text


@FUZZ
@given(name=texts, stage=texts, tag=texts, number=numbers, started=instants)
def test_any_customer_fields_store_or_get_a_4xx(
    api_server: LiveServer,
    company: CompanyCtx,
    name: str,
    stage: str,
    tag: str,
    number: object,
    started: str | None,
) -> None:
    with api_server.client(headers=company.headers) as c:
        defs = c.put(
            "/api/customers/fields",
            json={"fields": [{"key": "seats", "type": "number"}, {"key": "note", "type": "text"}]},
        )
        assert defs.status_code == 200, defs.text
        body = {
            "name": name,
            "stage": stage,
            "tags": [tag],
            "custom_fields": {"seats": number, "note": name},
        }
        raw = json.dumps(body)  # NaN and Infinity as JavaScript writes them
        _no_500(c.post("/api/customers", content=raw, headers=JSON), body)
        if started is not None:
            query = {"date_from": started}
            _no_500(c.get("/api/calls", params=query), query)


@FUZZ
@given(label=texts, name=texts)
def test_any_settings_and_automation_text_saves_or_gets_a_4xx(
    api_server: LiveServer, company: CompanyCtx, label: str, name: str
) -> None:
    with api_server.client(headers=company.headers) as c:
        body = {"outcome_labels": [label, "resolved"], "speech_language": None}
        saved = c.put("/api/settings/ai", json=body)
        _no_500(saved, body)
        if saved.status_code == 200:  # stored without NUL
            stored = c.get("/api/settings/ai").json()["outcome_labels"]
            assert "\x00" not in "".join(stored)
        hook = {"kind": "webhook", "name": name, "url": "http://127.0.0.1:9/hook", "secret": name}
        _no_500(c.post("/api/automations", json=hook), hook)
        smtp = {
            "host": "smtp.example.com",
            "port": 587,
            "username": name,
            "password": name,
            "from_address": "m@example.com",
        }
        _no_500(c.put("/api/settings/smtp", json=smtp), smtp)
