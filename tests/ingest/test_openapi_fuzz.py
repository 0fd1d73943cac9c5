"""Schemathesis against the live OpenAPI spec of the integration endpoints (OAuth,
recordings, tus, tickets, sheets, customers): no generated input, valid (positive) or
invalid (negative), makes them answer 5xx.

Operations are driven one by one with Hypothesis (schemathesis' pytest fixture loader
does not run under pytest 9)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.conftest import CompanyCtx, LiveServer

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
    schema = schemathesis.openapi.from_url(f"{api_server.url}/api/openapi.json").include(
        path_regex=OUR_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    failures: list[str] = []
    cases = [(op, mode) for op in operations for mode in schemathesis.GenerationMode]
    for operation, mode in cases:

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(
                base_url=api_server.url, headers=company.headers, checks=[not_a_server_error]
            )

        try:
            run()
        except Unsatisfiable:
            continue  # nothing invalid to send (no constrained inputs): positive covers it
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
