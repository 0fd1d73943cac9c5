"""Schemathesis against the reviews endpoints (tags, auto review, questions, forms,
reviews and their actions, calibration): no generated input, valid or invalid, makes
them answer 5xx. One operation at a time with Hypothesis, as
tests/journey/test_openapi_fuzz.py does. The company has a question, a form, an
engagement and a review; generated ids are mostly unknown, so the 404 and validation
paths are what gets fuzzed."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer, insert_text_engagement
from tests.openapi_fuzz import operations, server_errors

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
    ops = operations(api_server.url, OUR_PATHS)
    assert len(ops) >= 20, [op.label for op in ops]
    failures = server_errors(api_server.url, company.headers, ops, max_examples=MAX_EXAMPLES)
    assert not failures, "\n\n".join(failures)
