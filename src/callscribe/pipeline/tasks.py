"""Queue task of the pipeline (a thin wrapper over the runner). Domains enqueue it by
name through calls.tasks.enqueue_calls: they sit below the pipeline."""

from __future__ import annotations

from callscribe.calls.tasks import PROCESS_TASK
from callscribe.pipeline import runner
from callscribe.queue import huey


@huey.task(name=PROCESS_TASK)
def process(call_id: str) -> str:
    return runner.process_call(call_id)
