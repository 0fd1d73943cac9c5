"""Schemathesis against the journey endpoints (the journey, ask, similar turns): no
generated input, valid or invalid, makes them answer 5xx. Driven one operation at a time
with Hypothesis, as tests/ingest/test_openapi_fuzz.py does."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.conftest import CompanyCtx, LiveServer

OUR_PATHS = r"^/api/(customers/\{customer_id\}/journey|engagements/|journey/)"
MAX_EXAMPLES = 25

pytestmark = pytest.mark.slow


def test_no_server_errors_on_journey_endpoints(api_server: LiveServer, company: CompanyCtx) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server.url}/api/openapi.json").include(
        path_regex=OUR_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3, [op.label for op in operations]
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
