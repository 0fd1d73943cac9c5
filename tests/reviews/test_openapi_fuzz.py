"""Schemathesis against the reviews endpoints (tags, auto review, questions, forms,
reviews and their actions, calibration): no generated input, valid or invalid, makes
them answer 5xx. One operation at a time with Hypothesis, as
tests/journey/test_openapi_fuzz.py does. The company has a question, a form, an
engagement and a review; generated ids are mostly unknown, so the 404 and validation
paths are what gets fuzzed."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.conftest import CompanyCtx, LiveServer, insert_text_engagement

OUR_PATHS = r"^/api/(tags|reviews|questions|forms|calibrations)"
MAX_EXAMPLES = 5  # about 20 operations x 2 modes: kept short for CI

pytestmark = pytest.mark.slow


def test_no_server_errors_on_reviews_endpoints(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client(headers=company.headers) as api:
        chat = insert_text_engagement(company.id, [("customer", "Where is my card?")])
        q = api.post("/api/questions", json={"text": "Greeted?", "kind": "binary"}).json()
        form = api.post(
            "/api/forms",
            json={
                "name": "QA",
                "levels": ["engagement"],
                "sections": [{"title": "All", "question_ids": [q["id"]]}],
            },
        ).json()
        api.post(
            "/api/reviews",
            json={"engagement_id": str(chat), "form_id": form["id"], "answers": {q["id"]: "yes"}},
        )
    schema = schemathesis.openapi.from_url(f"{api_server.url}/api/openapi.json").include(
        path_regex=OUR_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
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
