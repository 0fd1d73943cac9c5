"""The kit sits under every domain: it imports only the other kit modules (db,
settings, errors) and libraries, never a domain or infrastructure package."""

from __future__ import annotations

import ast
from pathlib import Path

import callscribe.kit

ALLOWED = {"callscribe.kit", "callscribe.db", "callscribe.settings", "callscribe.errors"}


def test_kit_imports_no_domain() -> None:
    found = []
    for path in sorted(Path(callscribe.kit.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("callscribe") and not any(
                    name == ok or name.startswith(ok + ".") for ok in ALLOWED
                ):
                    found.append(f"{path.name}: {name}")
    assert not found, found
