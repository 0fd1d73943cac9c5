"""`callscribe search reindex [--company]` as an administrator runs it: it backfills the
index of engagements that were never indexed (an upgrade), one company or all."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.conftest import CompanyCtx, insert_text_engagement, make_company
from tests.search.corpus_surface import PROMO, REFUND, abcd_turns


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callscribe.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _indexed(company_id: uuid.UUID) -> int:
    from sqlalchemy import func, select

    from callscribe.db import session_scope
    from callscribe.search.models import SearchEntry

    with session_scope() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(SearchEntry)
                .where(SearchEntry.company_id == company_id)
            )
            or 0
        )


def test_reindex_backfills_one_company_then_all(
    app_env: dict[str, str], company: CompanyCtx
) -> None:
    # engagements stored before search existed: completed, never indexed
    insert_text_engagement(company.id, abcd_turns(REFUND), status="completed")
    insert_text_engagement(company.id, abcd_turns(PROMO), status="completed")
    other = make_company("Globex")
    insert_text_engagement(other.id, abcd_turns(REFUND), status="completed")
    expected = len(abcd_turns(REFUND)) + len(abcd_turns(PROMO))

    out = run(["search", "reindex", "--company", company.name], app_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"indexed {expected} turns"
    assert (_indexed(company.id), _indexed(other.id)) == (expected, 0)

    again = run(["search", "reindex"], app_env)  # every company; replaces, never adds
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"indexed {expected + len(abcd_turns(REFUND))} turns"
    assert (_indexed(company.id), _indexed(other.id)) == (expected, len(abcd_turns(REFUND)))


def test_reindex_of_an_unknown_company_says_so(app_env: dict[str, str]) -> None:
    out = run(["search", "reindex", "--company", "No Such Company"], app_env)
    assert out.returncode == 1
    assert "error" in out.stderr.lower() and "company" in out.stderr.lower()
    assert "Traceback" not in out.stderr
