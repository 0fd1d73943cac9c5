"""Typed errors. Every expected failure is a CallscribeError with a code a client can
branch on, a message a user can act on, and the HTTP status the API answers with."""

from __future__ import annotations


class CallscribeError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict:
        return {"success": False, "error": {"code": self.code, "message": self.message}}


class BadRequest(CallscribeError):
    code, status = "bad_request", 400


class Unauthorized(CallscribeError):
    code, status = "unauthorized", 401


class Forbidden(CallscribeError):
    code, status = "forbidden", 403


class NotFound(CallscribeError):
    code, status = "not_found", 404


class Conflict(CallscribeError):
    code, status = "conflict", 409


class PayloadTooLarge(CallscribeError):
    code, status = "payload_too_large", 413


class UnsupportedMediaType(CallscribeError):
    code, status = "unsupported_media_type", 415


class ValidationFailed(CallscribeError):
    code, status = "validation_error", 422


class RateLimited(CallscribeError):
    code, status = "rate_limited", 429


class UpstreamError(CallscribeError):
    """A remote service (audio URL, AI endpoint, provider) failed or timed out."""

    code, status = "upstream_error", 502
