"""What a pipeline step is, and what it may answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from callscribe.pipeline.context import PipelineContext


@dataclass(frozen=True)
class Done:
    """The step did its work (or had nothing to do); the runner goes on."""


@dataclass(frozen=True)
class WaitFor:
    """The step needs a company setting that is not there: the engagement becomes
    `waiting` with `reason` shown to the user, and resumes when `setting` is set."""

    reason: str
    setting: str


DONE = Done()
StepResult = Done | WaitFor


class Step(Protocol):
    """One stage of processing. `run` is idempotent: it replaces what an earlier attempt
    of it produced. It opens its own short sessions (progress must be visible to other
    processes while it runs) and raises CallscribeError for a failure a user can read."""

    name: str
    # the engagement's status while the step runs (None: the status stays as it is)
    status: str | None

    def applies(self, ctx: PipelineContext) -> bool: ...

    def run(self, ctx: PipelineContext) -> StepResult: ...
