"""The list of domains, and how their optional rooms (models, api, views, tasks) are found.
A new domain is a folder plus one name here; nothing else registers it."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

DOMAINS = (
    "accounts",
    "crm",
    "calls",
    "speech",
    "minutes",
    "delivery",
    "connectors",
    "ingest",
    "search",
    "journey",
    "reviews",
    "analytics",
    "exports",
)


def domain_modules(room: str) -> list[ModuleType]:
    """Import `callscribe.<domain>.<room>` for every domain that has that room."""
    found = []
    for domain in DOMAINS:
        name = f"callscribe.{domain}.{room}"
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            continue
        if spec is not None:
            found.append(importlib.import_module(name))
    return found


def load_models() -> None:
    domain_modules("models")
