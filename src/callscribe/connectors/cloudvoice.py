"""CloudVoice (AI voice-agent calls): the Dograh API. Runs are listed by creation time,
fetched one by one for their public recording links, and imported with the user and bot
tracks when there are both (exact customer/agent turns), else the mixed recording, else
the text transcript."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from callscribe.connectors.base import (
    AgentInfo,
    CallPage,
    CallRef,
    CredentialField,
    FetchedCall,
    ProviderAuthError,
    ProviderError,
    ProviderHTTP,
    Recording,
)
from callscribe.errors import ErrorCode
from callscribe.kit.schemas import parse_instant
from callscribe.security import http

PAGE_LIMIT = 100
INITIAL_LOOKBACK = timedelta(days=30)  # the first sync imports the last 30 days
TRACKS = (  # (our kind, public link field, storage key field)
    ("customer", "user_recording_public_url", "user_recording_url"),
    ("agent", "bot_recording_public_url", "bot_recording_url"),
    ("mixed", "recording_public_url", "recording_url"),
    ("transcript", "transcript_public_url", "transcript_url"),
)


def _usable(found: dict[str, Recording]) -> bool:
    """What the import prefers is there: both tracks, else the mixed recording."""
    return {"customer", "agent"} <= found.keys() or "mixed" in found


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:  # unreadable or out of range: no time
        return None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


WEBHOOK_HEADER = "X-Callscribe-Secret"
WEBHOOK_PAYLOAD_TEMPLATE = '{"run_id": "{{workflow_run_id}}"}'
WEBHOOK_INSTRUCTIONS = (
    "In CloudVoice, add a Webhook node at the end of the agent's workflow: method POST, "
    "the endpoint URL below, and the payload template below. Add the header "
    f'{WEBHOOK_HEADER} with the secret as a credential of type "custom header" — not as '
    "a plain custom header: CloudVoice silently drops custom headers whose names contain "
    '"secret", "token", "auth" or "api-key", and the calls would be refused.'
)


class CloudVoiceConnector:
    type: ClassVar[str] = "cloudvoice"
    label: ClassVar[str] = "CloudVoice"
    default_base_url: ClassVar[str] = "https://app.dograh.com/api/v1"
    base_url_help: ClassVar[str] = "Self-hosted installs: https://<your host>/api/v1"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_key",
            "API key",
            placeholder="dgr_…",
            help="In CloudVoice: Settings → API keys → Create. Starts with dgr_.",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    # its webhook takes our run-id template (connectors.webhooks.receive_webhook)
    webhook_header: ClassVar[str] = WEBHOOK_HEADER
    webhook_payload_template: ClassVar[str] = WEBHOOK_PAYLOAD_TEMPLATE
    webhook_uses_secret: ClassVar[bool] = True
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.api_key = (credentials.get("api_key") or "").strip()
        self.http = ProviderHTTP("CloudVoice", base_url, [self.api_key])

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.http.get(path, params=params, headers={"X-API-Key": self.api_key})
        if response.status_code in (401, 403):
            detail = self._detail(response) or "Invalid or expired API key"
            raise ProviderAuthError(
                f"CloudVoice rejected the API key ({detail}). Create a new key in CloudVoice "
                "under API keys and enter it here.",
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"CloudVoice has no {path.split('?')[0]} here (HTTP 404). {self._url_hint()}",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            detail = self._detail(response) or f"HTTP {response.status_code}"
            raise ProviderError(
                f"CloudVoice refused the request: {self.redact(detail)}.",
                transient=response.status_code in (408, 425, 429),
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                "CloudVoice answered something that is not JSON. "
                + (
                    "Check that the Base URL is the API address (…/api/v1), not the web app's."
                    if not self._ends_in_api_path()
                    else "Check that CloudVoice's API runs at this address."
                ),
                code=ErrorCode.PROVIDER_BAD_ANSWER,
            ) from exc

    def _ends_in_api_path(self) -> bool:
        return self.http.base_url.rstrip("/").endswith("/api/v1")

    def _url_hint(self) -> str:
        # suggest /api/v1 only to a URL that lacks it (issue 18: it was said to all)
        if self._ends_in_api_path():
            return "Check the host in the Base URL: nothing answers as CloudVoice's API there."
        return "Check that the Base URL ends with /api/v1."

    @staticmethod
    def _detail(response: httpx.Response) -> str | None:
        # only the provider's own JSON message on a 4xx: a page from whatever answers at
        # that address is never echoed into a user-visible error
        return http.error_detail(response, limit=200)

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        if not self.api_key:
            raise ProviderAuthError("Enter the CloudVoice API key.", transient=False)
        health = self.http.get("/health")
        if health.status_code >= 400:
            raise ProviderError(
                f"CloudVoice at {self.http.host()} answered HTTP {health.status_code} to its "
                f"health check. {self._url_hint()}",
                code=ErrorCode.PROVIDER_NOT_FOUND,
            )
        workflows = self._json("/workflow/fetch")
        count = len(workflows) if isinstance(workflows, list) else 0
        return f"Connected to CloudVoice: the API key works and sees {count} agent(s)."

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"since": iso(last_seen)}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        now = datetime.now(UTC)
        since = parse_time((cursor or {}).get("since")) or now - INITIAL_LOOKBACK
        page = 1
        while True:
            body = self._json(
                "/organizations/usage/runs",
                {
                    "start_date": iso(since),
                    "end_date": iso(now + timedelta(minutes=1)),
                    "page": page,
                    "limit": PAGE_LIMIT,
                    "sort_by": "created_at",
                    "sort_order": "asc",
                },
            )
            runs = body.get("runs") if isinstance(body, dict) else None
            if not isinstance(runs, list):
                raise ProviderError(
                    "CloudVoice's list of calls came back in an unexpected shape.",
                    code=ErrorCode.PROVIDER_BAD_ANSWER,
                )
            yield CallPage(
                [
                    CallRef(str(run["id"]), parse_time(run.get("created_at")), run)
                    for run in runs
                    if isinstance(run, dict) and run.get("id") is not None
                ]
            )
            total_pages = int(body.get("total_pages") or 1)
            if not runs or page >= total_pages:
                return
            page += 1

    def _find_run(self, run_id: str) -> dict[str, Any]:
        """A run's listing entry from its id alone (what a webhook gives us)."""
        now = datetime.now(UTC)
        body = self._json(
            "/organizations/usage/runs",
            {
                "start_date": iso(now - timedelta(days=365)),
                "end_date": iso(now + timedelta(days=1)),
                "page": 1,
                "limit": 1,
                "filters": json.dumps(
                    [{"attribute": "runId", "type": "number", "value": {"value": int(run_id)}}]
                ),
            },
        )
        runs = body.get("runs") if isinstance(body, dict) else None
        for run in runs or []:
            if str(run.get("id")) == str(run_id):
                return run
        raise ProviderError(
            f"CloudVoice has no call with run id {run_id}.",
            code=ErrorCode.PROVIDER_CALL_NOT_FOUND,
            transient=False,
        )

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        listing = ref.data or self._find_run(ref.external_id)
        workflow_id = listing.get("workflow_id")
        run = self._json(f"/workflow/{workflow_id}/runs/{ref.external_id}")
        if not isinstance(run, dict):
            raise ProviderError("CloudVoice's call details came back in an unexpected shape.")
        merged = {**listing, **{k: v for k, v in run.items() if v is not None}}
        direction = (
            merged.get("call_type") if merged.get("call_type") in ("inbound", "outbound") else None
        )
        customer_phone = (
            merged.get("caller_number") if direction == "inbound" else merged.get("called_number")
        )
        contexts = [merged.get("gathered_context") or {}, merged.get("initial_context") or {}]
        customer_name = next(
            (
                str(c[k])
                for c in contexts
                if isinstance(c, dict)
                for k in ("customer_name", "name", "full_name", "first_name")
                if c.get(k)
            ),
            None,
        )
        duration = merged.get("call_duration_seconds")
        cost_info = merged.get("cost_info") or {}
        if not duration and isinstance(cost_info, dict):
            duration = cost_info.get("call_duration_seconds")
        workflow_name = merged.get("workflow_name") or f"Voice agent {workflow_id}"
        return FetchedCall(
            external_id=str(ref.external_id),
            complete=bool(run.get("is_completed", True)),
            direction=direction,
            agent=AgentInfo(external_id=str(workflow_id), name=str(workflow_name), is_bot=True),
            customer_phone=str(customer_phone)[:40] if customer_phone else None,
            customer_name=customer_name,
            started_at=parse_time(merged.get("created_at")),
            duration_s=float(duration) if duration else None,
            recordings=self._recordings(merged),
            track_roles={"agent": "bot", "customer": "customer"},
            meta={
                "provider": {
                    "run_id": merged.get("id"),
                    "workflow_id": workflow_id,
                    "workflow_name": merged.get("workflow_name"),
                    "disposition": merged.get("disposition")
                    or (merged.get("gathered_context") or {}).get("call_disposition"),
                    "mode": merged.get("mode"),
                }
            },
        )

    def _recordings(self, run: dict[str, Any]) -> list[Recording]:
        """Public links first; the signed-url endpoint (optional on CloudVoice) only for
        what the import still lacks, and its failure fails the import only when nothing
        usable is left: both tracks, or the mixed recording, or the transcript."""
        found: dict[str, Recording] = {}
        for kind, public_field, _ in TRACKS:
            link = run.get(public_field)
            if isinstance(link, str) and link.startswith("http"):
                # public links redirect to the object store: no API key on them
                found[kind] = Recording(kind, link)
        failure: ProviderError | None = None
        for kind, _, key_field in TRACKS:
            if _usable(found):
                break
            if kind in found:
                continue
            key = run.get(key_field)
            if not (isinstance(key, str) and key):
                continue
            try:
                signed = self._json("/s3/signed-url", {"key": key, "expires_in": 3600})
            except ProviderAuthError:
                raise
            except ProviderError as exc:
                failure = failure or exc  # a later fallback may still give what is needed
                continue
            if isinstance(signed, dict) and isinstance(signed.get("url"), str):
                found[kind] = Recording(kind, signed["url"])
        if not found and failure is not None:
            raise failure
        return list(found.values())
