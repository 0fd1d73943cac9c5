"""The daily retention task (a worker sweep): each company's policy applied, one
transaction per company; a failure is logged and the next company goes on."""

from __future__ import annotations

import logging

from callscribe.db import session_scope
from callscribe.retention import service

log = logging.getLogger(__name__)

DAILY_S = 24 * 3600


def sweep_retention() -> int:
    with session_scope() as session:
        companies = service.companies_with_policy(session)
    total = 0
    for company_id in companies:
        try:
            with session_scope() as session:
                done = service.apply_policy(session, company_id)
        except Exception:
            log.exception("retention failed for company %s", company_id)
            continue
        total += sum(done.values())
    return total
