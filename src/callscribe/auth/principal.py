"""Who is asking: a company, and a signed-in user, an API key or an OAuth app's token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from callscribe.auth.permissions import Permission, Role, role_can


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
