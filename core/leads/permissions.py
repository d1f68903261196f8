"""Permissions of the leads package, and which seeded roles receive them at what scope."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["ASSIGN", "CONVERT", "CREATE", "DELETE", "MANAGE", "PERMISSIONS", "READ", "UPDATE"]

READ = "leads.read"
CREATE = "leads.create"
UPDATE = "leads.update"
DELETE = "leads.delete"
CONVERT = "leads.convert"
ASSIGN = "leads.assign"
MANAGE = "leads.manage"

_SALES = {"sales_rep": "own", "sales_manager": "team", "admin": "all"}
_MANAGERS = {"sales_manager": "team", "admin": "all"}

PERMISSIONS = [
    Permission(READ, "See leads (and, with leads.assign, the leads nobody owns yet).", _SALES),
    Permission(CREATE, "Add leads.", _SALES),
    Permission(UPDATE, "Change leads and their qualification status.", _SALES),
    Permission(DELETE, "Delete leads.", _MANAGERS),
    Permission(CONVERT, "Convert a lead into a customer, contact and opportunity.", _SALES),
    Permission(ASSIGN, "Give leads to people, and see the leads nobody owns yet.", _MANAGERS),
    Permission(
        MANAGE, "Set up web forms and lead assignment rules.", {"admin": "all", "sales_manager": "all"}
    ),
]
