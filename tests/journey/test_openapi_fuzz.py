"""Schemathesis against the journey endpoints (the journey, ask, similar turns): no
generated input, valid or invalid, makes them answer 5xx. Driven one operation at a time
with Hypothesis, as tests/ingest/test_openapi_fuzz.py does."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.openapi_fuzz import operations, server_errors

OUR_PATHS = r"^/api/(customers/\{customer_id\}/journey|engagements/|journey/)"
MAX_EXAMPLES = 25

pytestmark = pytest.mark.slow


def test_no_server_errors_on_journey_endpoints(api_server: LiveServer, company: CompanyCtx) -> None:
    ops = operations(api_server.url, OUR_PATHS)
    assert len(ops) == 3, [op.label for op in ops]
    failures = server_errors(api_server.url, company.headers, ops, max_examples=MAX_EXAMPLES)
    assert not failures, "\n\n".join(failures)
