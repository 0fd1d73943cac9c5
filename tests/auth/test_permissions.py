"""Roles, the permission matrix and the Principal built from them."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

from callscribe.auth.permissions import ROLE_PERMISSIONS, Permission, Role, role_can
from callscribe.auth.principal import Principal

AUTH_DIR = Path(__file__).parents[2] / "src" / "callscribe" / "auth"
DOMAINS = {
    "accounts",
    "crm",
    "calls",
    "speech",
    "minutes",
    "exports",
    "delivery",
    "ingest",
    "connectors",
    "pipeline",
    "app",
    "cli",
    "worker",
}


def test_every_role_has_a_row_and_admin_holds_every_permission() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert ROLE_PERMISSIONS[Role.AGENT] == frozenset()


def test_lower_roles_hold_a_subset_of_higher_ones() -> None:
    order = [Role.AGENT, Role.REVIEWER, Role.MANAGER, Role.ADMIN]
    for lower, higher in zip(order, order[1:], strict=False):
        assert ROLE_PERMISSIONS[lower] <= ROLE_PERMISSIONS[higher], (lower, higher)


def test_principal_states_its_role() -> None:
    with pytest.raises(TypeError):
        Principal(company_id=uuid.uuid4())  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("role", "own_calls_only"),
    [(Role.ADMIN, False), (Role.MANAGER, False), (Role.REVIEWER, False), (Role.AGENT, True)],
)
def test_only_agents_see_only_their_own_calls(role: Role, own_calls_only: bool) -> None:
    principal = Principal(company_id=uuid.uuid4(), role=role)
    assert principal.sees_only_own_calls is own_calls_only


def test_role_strings_from_the_database_compare_with_the_enum() -> None:
    assert role_can("manager", Permission.CONNECTORS_MANAGE)
    assert not role_can("reviewer", Permission.CONNECTORS_MANAGE)
    assert not role_can("owner", Permission.CALLS_VIEW_ALL)  # unknown role: nothing
    assert Role("admin") == "admin"


def test_auth_imports_no_domain() -> None:
    """auth sits below the domains: it learns about users through the loader the app
    shell hands it, never by importing accounts."""
    offenders = []
    for path in sorted(AUTH_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "callscribe" and len(parts) > 1 and parts[1] in DOMAINS:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
