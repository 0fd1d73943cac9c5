"""An OpenAI-compatible chat completions client with JSON-schema structured output.

Every request goes through the guarded outbound client (the endpoint is checked and
pinned on every connection, not only when an admin saved it). One attempt budget covers
both kinds of failure: a transient one (timeout, unreachable, 429, 5xx; waits with
backoff honouring Retry-After) and a malformed answer (sent back to the model with what
was wrong, so it can correct itself). A refused key and any other 4xx fail at once.
Messages never contain the key, and never the body of a failed answer other than the
provider's own JSON error message on a 4xx.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from callscribe.errors import CallscribeError, ErrorCode
from callscribe.security import http

log = logging.getLogger(__name__)

T = TypeVar("T")


class LLMFailed(CallscribeError):
    """No usable answer: endpoint down or refusing, or answers that stayed malformed."""

    code, status = ErrorCode.LLM_FAILED, 502


class LLMKeyRefused(LLMFailed):
    """The endpoint answered 401/403: the key is wrong, revoked or lacks access."""

    code = ErrorCode.LLM_KEY_REFUSED


class LLMUnreachable(LLMFailed):
    """Every attempt failed to reach a working endpoint: no connection, a timeout, or
    HTTP 429/5xx. (Malformed answers and 4xx refusals are LLMFailed: the endpoint works.)"""


class InvalidAnswer(ValueError):
    """Raised by a `parse` callback: the content does not fit; the message says why."""


def strip_fences(content: str) -> str:
    content = content.strip()
    m = re.match(r"^```(?:json)?\s*(.*?)\s*```$", content, re.S)
    return m.group(1) if m else content


class ChatClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float = 60,
        max_retries: int = 2,
    ) -> None:
        self.base_url = base_url.rstrip("/")  # ends before /chat/completions
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_cap_s = 5.0  # longest wait between retries, Retry-After included
        self._api_key = api_key.strip()
        self._http: http.OutboundClient | None = None

    def __enter__(self) -> ChatClient:
        self._http = http.OutboundClient(timeout=self.timeout_s, secrets=[self._api_key])
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def complete_json(
        self,
        system: str,
        user: str,
        *,
        schema: dict[str, Any],
        schema_name: str,
        parse: Callable[[str], T],
    ) -> T:
        """Ask for one JSON object matching `schema`; `parse` turns the content into the
        result or raises InvalidAnswer (the reason is sent back to the model)."""
        if self._http is None:
            with self:
                return self.complete_json(
                    system, user, schema=schema, schema_name=schema_name, parse=parse
                )
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = self.max_retries + 1
        last_problem = "no answer"
        unreachable = False  # the last attempt's failure was reaching the endpoint
        for attempt in range(attempts):
            unreachable = True
            payload = {
                "model": self.model,
                "messages": messages,
                "temperature": 0,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "strict": True, "schema": schema},
                },
            }
            try:
                response = self._http.request(
                    "POST",
                    f"{self.base_url}/chat/completions",
                    json=payload,
                    headers={"Authorization": f"Bearer {self._api_key}"},
                )
            except http.OutboundTimeout:
                last_problem = f"AI endpoint timed out after {self.timeout_s:g} s"
                self._wait(attempt, attempts, last_problem, None)
                continue
            except http.UnsafeURL:
                raise
            except CallscribeError as exc:
                last_problem = f"AI endpoint unreachable ({self._scrub(exc.message)[:200]})"
                self._wait(attempt, attempts, last_problem, None)
                continue
            status = response.status_code
            if status in (401, 403):
                raise LLMKeyRefused(
                    f"AI endpoint refused the API key (HTTP {status}): check the key and its "
                    f"access to model {self.model}"
                )
            if status == 429 or status >= 500:
                last_problem = f"AI endpoint answered HTTP {status}"
                self._wait(attempt, attempts, last_problem, response.headers.get("retry-after"))
                continue
            if status >= 400:
                detail = http.error_detail(response)
                raise LLMFailed(
                    f"AI endpoint rejected the request (HTTP {status})"
                    + (f": {self._scrub(detail)}" if detail else "")
                )
            unreachable = False
            content, problem = _content(response)
            if content is None:
                last_problem = problem
                continue
            try:
                return parse(strip_fences(content))
            except InvalidAnswer as exc:
                last_problem = str(exc)
            log.warning(
                "llm: malformed answer (attempt %d/%d): %s", attempt + 1, attempts, last_problem
            )
            messages = [
                *messages,
                {"role": "assistant", "content": content[:4000]},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {last_problem}. "
                    "Reply again with only one JSON object that matches the schema exactly.",
                },
            ]
        failure = LLMUnreachable if unreachable else LLMFailed
        raise failure(f"{last_problem} ({attempts} attempt{'s' if attempts != 1 else ''})")

    def _wait(self, attempt: int, attempts: int, problem: str, retry_after: str | None) -> None:
        log.warning("llm: %s (attempt %d/%d)", problem, attempt + 1, attempts)
        if attempt >= self.max_retries:
            return  # no retry follows
        delay = min(0.5 * 2**attempt, self.backoff_cap_s)
        after = http.parse_retry_after(retry_after)
        if after is not None:
            delay = after
        time.sleep(max(0.0, min(delay, self.backoff_cap_s)))


def _content(response: httpx.Response) -> tuple[str | None, str]:
    try:
        data = response.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, "the AI endpoint's answer is not a chat completion"
    if message.get("refusal"):
        return None, f"the model refused: {str(message['refusal'])[:200]}"
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return None, "the model returned empty content"
    return content, ""
