"""Schemathesis against the automations API: no generated input, valid or invalid,
makes it answer 5xx. Send test and redeliver are left out (they would send to whatever
URL the generator made up); their refusals are covered in test_automations.py."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.openapi_fuzz import operations, server_errors

OUR_PATHS = r"^/api/(automations|settings/smtp)"
SENDING = r"/(test|redeliver)$"
MAX_EXAMPLES = 25

pytestmark = pytest.mark.slow


def test_no_server_errors_on_automation_endpoints(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    ops = operations(api_server.url, OUR_PATHS, exclude=SENDING)
    assert len(ops) >= 7, [op.label for op in ops]
    failures = server_errors(api_server.url, company.headers, ops, max_examples=MAX_EXAMPLES)
    assert not failures, "\n\n".join(failures)
