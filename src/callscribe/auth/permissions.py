"""Roles, permissions and the one matrix that says which role may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role in their company (stored in `users.role`)."""

    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    AGENT = "agent"


class Permission(StrEnum):
    CALLS_VIEW_ALL = "calls.view_all"  # without it: only the calls of one's own agent
    CALLS_MANAGE = "calls.manage"  # reprocess, reassign, delete
    CALLS_ATTRIBUTE_ANY = "calls.attribute_any"  # without it: only to one's own agent
    CUSTOMERS_WRITE = "customers.write"  # add, import, merge into existing customers
    SETTINGS_AI_WRITE = "settings.ai.write"
    AUTOMATIONS_MANAGE = "automations.manage"
    CONNECTORS_MANAGE = "connectors.manage"
    CRM_CONFIGURE = "crm.configure"  # customer stages and custom fields
    USERS_MANAGE = "users.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    OAUTH_APPS_MANAGE = "oauth_apps.manage"
    PII_REVEAL = "pii.reveal"  # click a masked value ([card], [phone] …) to see it; audited
    PII_AUDIT = "pii.audit"  # read the reveal audit log
    REVIEWS_WRITE = "reviews.write"  # tag, answer forms, give feedback on AI reviews
    REVIEWS_RESOLVE = "reviews.resolve"  # approve or dispute any review, resolve disputes
    FORMS_MANAGE = "forms.manage"  # tags, questions, forms, auto review, calibration


_ALL = frozenset(Permission)
_MANAGER = frozenset(
    {
        Permission.CALLS_VIEW_ALL,
        Permission.CALLS_MANAGE,
        Permission.CALLS_ATTRIBUTE_ANY,
        Permission.CUSTOMERS_WRITE,
        Permission.CONNECTORS_MANAGE,
        Permission.CRM_CONFIGURE,
        Permission.PII_REVEAL,
        Permission.REVIEWS_WRITE,
        Permission.REVIEWS_RESOLVE,
        Permission.FORMS_MANAGE,
    }
)

# The whole matrix, in one place; docs/permissions.md shows it as a table.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.MANAGER: _MANAGER,
    Role.REVIEWER: frozenset({Permission.CALLS_VIEW_ALL, Permission.REVIEWS_WRITE}),
    Role.AGENT: frozenset(),
}


def role_can(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:  # an unknown role stored by hand may do nothing
        return False
