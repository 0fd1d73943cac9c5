"""Schemathesis against the live OpenAPI spec of the integration endpoints (OAuth,
recordings, tus, tickets, sheets, customers): no generated input, valid (positive) or
invalid (negative), makes them answer 5xx.

Operations are driven one by one with Hypothesis (schemathesis' pytest fixture loader
does not run under pytest 9)."""

from __future__ import annotations

import pytest
import schemathesis

from tests.conftest import CompanyCtx, LiveServer
from tests.openapi_fuzz import operations, server_errors

OUR_PATHS = (
    r"^/api/(oauth/|v1/recordings/|v2/recordings|uploads/|tickets|sheets|customers"
    r"|calls/\{call_id\}/links)"
)
MAX_EXAMPLES = 25

pytestmark = pytest.mark.slow

# tus PATCH bodies are raw bytes like application/octet-stream
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def test_no_server_errors_on_integration_endpoints(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    ops = operations(api_server.url, OUR_PATHS)
    assert len(ops) >= 20, [op.label for op in ops]
    failures = server_errors(api_server.url, company.headers, ops, max_examples=MAX_EXAMPLES)
    assert not failures, "\n\n".join(failures)
