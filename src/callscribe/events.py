"""In-process domain events. Domains subscribe in their tasks.py (imported wherever a
consumer runs); `emit` never lets a subscriber's failure reach the emitter."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if fn not in _handlers[event]:
            _handlers[event].append(fn)
        return fn

    return register


def emit(event: str, **payload: Any) -> None:
    for handler in list(_handlers[event]):
        try:
            handler(**payload)
        except Exception:  # a subscriber (e.g. a delivery) must never fail the emitter
            log.exception("handler %s for %s failed", getattr(handler, "__name__", handler), event)
