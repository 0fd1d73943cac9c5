"""Schemathesis against the analytics endpoints that take free-form input (metrics,
queries, drill-down, dashboards' queries, views, selections): no generated input,
valid or invalid, makes them answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.conftest import CompanyCtx, LiveServer

OUR_PATHS = (
    r"^/api/(metrics(/query|/engagements)?|dashboards/\{dash_id\}/query|views|selections"
    r"|visualizations)$"
)
MAX_EXAMPLES = 8

pytestmark = pytest.mark.slow


def test_no_server_errors_on_analytics_endpoints(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server.url}/api/openapi.json").include(
        path_regex=OUR_PATHS, method="POST"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        for mode in schemathesis.GenerationMode:

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
                continue
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
