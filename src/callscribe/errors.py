"""Typed errors. Every expected failure is a CallscribeError with a code a client can
branch on, a message a user can act on, and the HTTP status the API answers with.
Codes are declared once, in ErrorCode; they are part of the API (clients branch on them),
so a member's value never changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol


class ErrorCode(StrEnum):
    """Every `error.code` the API and the pages answer with."""

    AGENT_NOT_FOUND = "agent_not_found"
    AI_KEY_MISSING = "ai_key_missing"
    AI_KEY_REFUSED = "ai_key_refused"
    ANALYSIS_FAILED = "analysis_failed"
    ANALYZER_UNKNOWN = "analyzer_unknown"
    AUDIO_DECODE_FAILED = "audio_decode_failed"
    BAD_BLOB_KEY = "bad_blob_key"
    BAD_CONTENT_TYPE = "bad_content_type"
    BAD_DOWNLOAD_URL = "bad_download_url"
    BAD_KIND = "bad_kind"
    BAD_REQUEST = "bad_request"
    BAD_SIGNATURE = "bad_signature"
    BAD_URL = "bad_url"
    BATCH_NOT_FOUND = "batch_not_found"
    BATCH_UPLOADED = "batch_uploaded"
    BUSY = "busy"
    CONFLICT = "conflict"
    CONNECTION_REQUIRED = "connection_required"
    CONNECTOR_DISABLED = "connector_disabled"
    CSRF_FAILED = "csrf_failed"
    EMPTY_FILE = "empty_file"
    EMBEDDING_FAILED = "embedding_failed"
    EMBEDDING_KEY_REFUSED = "embedding_key_refused"
    EMPTY_TRANSCRIPT = "empty_transcript"
    ERROR = "error"
    FORBIDDEN = "forbidden"
    HTTP_ERROR = "http_error"
    INGEST_KEY_INVALID = "ingest_key_invalid"
    INGEST_SOURCE_NOT_FOUND = "ingest_source_not_found"
    INVALID_CLIENT = "invalid_client"
    INVALID_EMAIL = "invalid_email"
    INVALID_EXPRESSION = "invalid_expression"  # analytics: a metric expression; has `position`
    INVALID_PHONE = "invalid_phone"
    INVALID_REQUEST = "invalid_request"
    INVALID_TOKEN = "invalid_token"
    LLM_FAILED = "llm_failed"  # ai.llm, internal: minutes maps it to analysis_failed
    LLM_KEY_REFUSED = "llm_key_refused"  # ai.llm, internal: minutes maps it to ai_key_refused
    MALFORMED_BODY = "malformed_body"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_FOUND = "not_found"
    OFFSET_MISMATCH = "offset_mismatch"
    UPLOAD_BUSY = "upload_busy"  # tus: another PATCH of the upload is being written
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_BAD_ANSWER = "provider_bad_answer"
    PROVIDER_CALL_NOT_FOUND = "provider_call_not_found"
    PROVIDER_ERROR = "provider_error"
    MONO_RECORDING = "mono_recording"
    PROVIDER_NOT_FOUND = "provider_not_found"
    PROVIDER_PERMISSION_DENIED = "provider_permission_denied"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_SERVER_ERROR = "provider_server_error"
    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    RATE_LIMITED = "rate_limited"
    RECORDING_DOWNLOAD_FAILED = "recording_download_failed"
    REP_NOT_FOUND = "rep_not_found"
    REP_REQUIRED = "rep_required"
    SECRET_UNDECRYPTABLE = "secret_undecryptable"
    SHEET_EMPTY = "sheet_empty"
    SHEET_FINALIZED = "sheet_finalized"
    SIZE_MISMATCH = "size_mismatch"
    SPEECH_ENDPOINT_MISSING = "speech_endpoint_missing"
    DIARIZER_UNKNOWN = "diarizer_unknown"
    # backup / restore (callscribe backup, restore)
    NOT_EMBEDDED = "not_embedded"  # a PostgreSQL or S3 install: back up those with their tools
    NO_DATA = "no_data"
    NOT_EMPTY = "not_empty"
    NOT_A_BACKUP = "not_a_backup"
    DATA_EXISTS = "data_exists"
    BAD_RETENTION = "bad_retention"  # retention settings: days out of range or not a number
    SPEECH_ENGINE_UNKNOWN = "speech_engine_unknown"
    SPEECH_LANGUAGE_UNSUPPORTED = "speech_language_unsupported"
    SPEECH_MODEL_UNAVAILABLE = "speech_model_unavailable"
    SPEECH_TIMEOUT = "speech_timeout"
    SPEECH_UNREACHABLE = "speech_unreachable"
    SPEECH_UPSTREAM_ERROR = "speech_upstream_error"
    STORAGE_UNSUPPORTED = "storage_unsupported"
    SYNC_RUNNING = "sync_running"
    TOKEN_EXPIRED = "token_expired"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_CONNECTOR_TYPE = "unknown_connector_type"
    UNKNOWN_CUSTOM_FIELD = "unknown_custom_field"
    UNKNOWN_STAGE = "unknown_stage"
    UNSUPPORTED_EXPORT_FORMAT = "unsupported_export_format"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNSUPPORTED_TUS_VERSION = "unsupported_tus_version"
    UPLOAD_CLOSED = "upload_closed"
    UPLOAD_COMPLETED = "upload_completed"
    UPLOAD_MISSING = "upload_missing"
    UPLOAD_NOT_FOUND = "upload_not_found"
    UPLOAD_USED = "upload_used"
    UPSTREAM_ERROR = "upstream_error"
    URL_EXPIRED = "url_expired"
    URL_NOT_ALLOWED = "url_not_allowed"
    VALIDATION_ERROR = "validation_error"
    ZIP_BOMB = "zip_bomb"
    ZIP_INVALID = "zip_invalid"
    ZIP_NESTED_ARCHIVE = "zip_nested_archive"
    ZIP_PATH_TRAVERSAL = "zip_path_traversal"
    ZIP_SYMLINK = "zip_symlink"
    ZIP_TOO_LARGE = "zip_too_large"
    ZIP_TOO_MANY_ENTRIES = "zip_too_many_entries"


class CallscribeError(Exception):
    code: str = ErrorCode.ERROR
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict:
        return {"success": False, "error": {"code": str(self.code), "message": self.message}}


class BadRequest(CallscribeError):
    code: str = ErrorCode.BAD_REQUEST
    status = 400


class Unauthorized(CallscribeError):
    code: str = ErrorCode.UNAUTHORIZED
    status = 401


class Forbidden(CallscribeError):
    code: str = ErrorCode.FORBIDDEN
    status = 403


class NotFound(CallscribeError):
    code: str = ErrorCode.NOT_FOUND
    status = 404


class Conflict(CallscribeError):
    code: str = ErrorCode.CONFLICT
    status = 409


class PayloadTooLarge(CallscribeError):
    code: str = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413


class UnsupportedMediaType(CallscribeError):
    code: str = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415


class ValidationFailed(CallscribeError):
    code: str = ErrorCode.VALIDATION_ERROR
    status = 422


class RateLimited(CallscribeError):
    code: str = ErrorCode.RATE_LIMITED
    status = 429


class UpstreamError(CallscribeError):
    """A remote service (audio URL, AI endpoint, provider) failed or timed out."""

    code: str = ErrorCode.UPSTREAM_ERROR
    status = 502


class _HasErrors(Protocol):
    """pydantic's ValidationError, or FastAPI's RequestValidationError."""

    def errors(self) -> Sequence[Mapping[str, Any]]: ...


def from_validation(
    exc: _HasErrors,
    *,
    limit: int = 1,
    prefix: str = "",
    skip_loc: Iterable[str] = (),
) -> ValidationFailed:
    """The 422 for a failed validation: "where: what" for the first `limit` problems,
    joined by "; ". `skip_loc` drops location parts the user did not write ("body",
    "query"); `prefix` says what was validated ("Upload-Metadata")."""
    skip = set(skip_loc)
    parts = []
    for err in list(exc.errors())[:limit]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in skip)
        msg = str(err.get("msg", "invalid value"))
        parts.append(f"{where}: {msg}" if where else msg)
    message = "; ".join(parts) or "Invalid request."
    if prefix:
        message = f"{prefix} {message}"
    return ValidationFailed(message)
