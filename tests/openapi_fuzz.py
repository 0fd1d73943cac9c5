"""The one schemathesis driver of the fuzz tests: every operation of the live OpenAPI
spec that the caller selected, in both generation modes (valid and invalid input), one
at a time with Hypothesis (schemathesis' pytest loader does not run under pytest 9);
each operation's failure is collected, not just the first."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error


def operations(base_url: str, include: str, *, exclude: str | None = None, **kw: Any) -> list:
    """The spec's operations whose path matches `include` (and not `exclude`); `kw`
    narrows further (e.g. method="POST")."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json").include(
        path_regex=include, **kw
    )
    if exclude:
        schema = schema.exclude(path_regex=exclude)
    return [result.ok() for result in schema.get_all_operations()]


def server_errors(
    base_url: str, headers: dict[str, str], ops: list, *, max_examples: int
) -> list[str]:
    """What made an operation answer 5xx (or fail otherwise), one line per operation
    and mode; empty when none did."""
    failures: list[str] = []
    for operation in ops:
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(
                    base_url=base_url, headers=headers, checks=[not_a_server_error]
                )

            try:
                run()
            except Unsatisfiable:
                continue  # nothing invalid to send (no constrained inputs): positive covers it
            except Exception as exc:  # every operation's failure, not just the first
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    return failures
