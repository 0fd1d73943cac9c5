"""Schemathesis against the analytics endpoints that take free-form input (metrics,
queries, drill-down, dashboards' queries, views, selections): no generated input,
valid or invalid, makes them answer 5xx."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.openapi_fuzz import operations, server_errors

OUR_PATHS = (
    r"^/api/(metrics(/query|/engagements)?|dashboards/\{dash_id\}/query|views|selections"
    r"|visualizations)$"
)
MAX_EXAMPLES = 8

pytestmark = pytest.mark.slow


def test_no_server_errors_on_analytics_endpoints(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    ops = operations(api_server.url, OUR_PATHS, method="POST")
    assert len(ops) == 7, [op.label for op in ops]
    failures = server_errors(api_server.url, company.headers, ops, max_examples=MAX_EXAMPLES)
    assert not failures, "\n\n".join(failures)
