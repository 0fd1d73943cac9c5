"""Amazon S3 for the Amazon Connect tests: moto's S3 (a real S3-protocol server, the one
tests/storage uses) behind a gateway on 127.0.0.1 that checks each request's AWS
Signature Version 4 (header or pre-signed query, per AWS's SigV4 reference) against
the test key pair, answers S3's XML errors (InvalidAccessKeyId, SignatureDoesNotMatch),
and can be made slow, down (503) or failing on one object (`FakeServer`'s knobs)."""

from __future__ import annotations

import atexit
import hashlib
import hmac
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from tests.connectors.fakes import FakeServer

REGION = "us-east-1"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<cred>[^,]+),\s*SignedHeaders=(?P<signed>[^,]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})"
)
_moto_lock = threading.Lock()
_moto_endpoint: str | None = None


def moto_endpoint() -> str:
    """One moto server for the test process (started on first use)."""
    global _moto_endpoint
    with _moto_lock:
        if _moto_endpoint is None:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            atexit.register(server.stop)
            _moto_endpoint = f"http://{host}:{port}"
        return _moto_endpoint


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class FakeS3(FakeServer):
    """The S3 endpoint the connector is given (its Base URL)."""

    def __init__(self) -> None:
        super().__init__()
        self.upstream = moto_endpoint()
        self.access_key = "AKIA" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.http = httpx.Client(base_url=self.upstream, timeout=10)

    @property
    def base_url(self) -> str:
        return self.origin

    def stop(self) -> None:
        super().stop()
        self.http.close()

    def boto(self) -> Any:
        """A client straight to moto (what Amazon Connect and Firehose write with)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.upstream,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def _error(self, req: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
        ).encode()
        self.send(req, status, body, "application/xml")

    def _check(self, req: BaseHTTPRequestHandler) -> tuple[str, str] | None:
        """None when the request is signed with our key pair, else (code, message)."""
        parts = urlsplit(req.path)
        params = parse_qsl(parts.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in req.headers.items()}
        auth = headers.get("authorization")
        if auth:
            match = _AUTH.match(auth)
            if not match:
                return "AuthorizationHeaderMalformed", "The authorization header is malformed."
            cred, signed, signature = match["cred"], match["signed"], match["sig"]
            amz_date = headers.get("x-amz-date", "")
            payload = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        else:
            q = dict(params)
            if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
                return "AccessDenied", "Access Denied"
            cred, signed = q.get("X-Amz-Credential", ""), q.get("X-Amz-SignedHeaders", "")
            signature, amz_date = q.get("X-Amz-Signature", ""), q.get("X-Amz-Date", "")
            payload = "UNSIGNED-PAYLOAD"
            params = [(k, v) for k, v in params if k != "X-Amz-Signature"]
        access_key, _, scope = cred.partition("/")
        if access_key != self.access_key:
            return (
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        query = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))
        names = signed.split(";")
        canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in names)
        canonical = "\n".join([req.command, parts.path, query, canonical_headers, signed, payload])
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        date, region, service, _ = scope.split("/")
        key = _sign(("AWS4" + self.secret_key).encode(), date)
        for part in (region, service, "aws4_request"):
            key = _sign(key, part)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        refused = self._check(req)
        if refused:
            return self._error(req, 403, *refused)
        # moto takes an unsigned request for an anonymous one: it gets the client's headers
        forward = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "connection")}
        try:
            answer = self.http.get(req.path, headers=forward)
        except (httpx.HTTPError, RuntimeError):  # moto gone (the test is over)
            return self._error(req, 503, "ServiceUnavailable", "Please reduce your request rate.")
        keep = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() in ("etag", "last-modified", "x-amz-request-id", "accept-ranges")
        }
        self.send(
            req,
            answer.status_code,
            answer.content,
            answer.headers.get("content-type", "application/xml"),
            keep,
        )
