"""Permissions of the identity package: people, roles, teams, API keys, tenant settings."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["EVERYONE_READS", "PERMISSIONS", "ROLE_TEMPLATES"]

#: The role templates seeded into every tenant, with a human description.
ROLE_TEMPLATES: dict[str, str] = {
    "owner": "Owns the business account: everything, including billing and deleting it.",
    "admin": "Runs the account: people, roles, teams, settings and integrations.",
    "sales_manager": "Leads a sales team: sees and manages the team's customers and deals.",
    "sales_rep": "Works their own customers, leads and opportunities.",
    "support_agent": "Handles service tickets for customers.",
    "accountant": "Keeps the books: invoices, payments and finance reports.",
    "warehouse_clerk": "Receives, moves and ships stock.",
    "viewer": "Reads what the account holds, changes nothing.",
}

#: Read access for every role template (owners hold every permission anyway).
EVERYONE_READS = {t: "all" for t in ROLE_TEMPLATES if t != "owner"}

PERMISSIONS = [
    Permission("members.read", "See the people of the account and their roles.", EVERYONE_READS),
    Permission("members.invite", "Invite people to join the account.", {"admin": "all"}),
    Permission("members.manage", "Change people's roles and teams, or remove them.", {"admin": "all"}),
    Permission("roles.read", "See roles and their permissions.", {"admin": "all", "sales_manager": "all"}),
    Permission("roles.manage", "Create, edit and delete roles.", {"admin": "all"}),
    Permission("teams.read", "See teams and their managers.", EVERYONE_READS),
    Permission("teams.manage", "Create and edit teams.", {"admin": "all"}),
    Permission("api_keys.manage", "Create and revoke API keys for integrations.", {"admin": "all"}),
    Permission("tenant.read", "See the account's settings.", EVERYONE_READS),
    Permission("tenant.transfer_ownership", "Give or take the owner role.", {}),
    Permission("tenant.manage", "Change the account's settings, such as requiring 2FA.", {"admin": "all"}),
]
