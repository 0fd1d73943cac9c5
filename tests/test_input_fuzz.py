"""Issue 17 #11: inputs that used to end in a 500 get a 4xx with a message. Property-based
(hypothesis) over the header values the tus endpoints parse, on both databases; a
multipart boundary past RFC 2046's 70 characters is refused."""

from __future__ import annotations

import base64

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CompanyCtx, LiveServer

TUS = {"Tus-Resumable": "1.0.0"}
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
