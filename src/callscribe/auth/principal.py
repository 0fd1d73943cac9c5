"""Who is asking: a company, and a signed-in user, an API key or an OAuth app's token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from callscribe.auth.permissions import Permission, Role, role_can
from callscribe.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    """Every construction states the role: there is no default."""

    company_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    oauth_app_id: uuid.UUID | None = None

    def can(self, permission: Permission) -> bool:
        return role_can(self.role, permission)

    @property
    def sees_only_own_calls(self) -> bool:
        return not self.can(Permission.CALLS_VIEW_ALL)


def check_attribution(principal: Principal, agent_id: uuid.UUID | None) -> None:
    """An engagement added on the principal's behalf may name another agent only with
    CALLS_ATTRIBUTE_ANY; others attribute to their own agent or to none."""
    if agent_id is None or agent_id == principal.agent_id:
        return
    if not principal.can(Permission.CALLS_ATTRIBUTE_ANY):
        raise Forbidden("Your role may add conversations only as yourself.")
