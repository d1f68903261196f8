"""Permissions of the activities package, and which seeded roles receive them at what scope.

The scope of an activity is its owner *or* its assignee: a grant of ``own`` covers the
activities one logged or was assigned; ``team`` those of (or assigned to) the team; ``all``
the whole tenant.
"""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["CREATE", "DELETE", "PERMISSIONS", "READ", "UPDATE"]

READ = "activities.read"
CREATE = "activities.create"
UPDATE = "activities.update"
DELETE = "activities.delete"

_SALES = {"sales_rep": "own", "sales_manager": "team", "admin": "all"}

PERMISSIONS = [
    Permission(READ, "See activities and tasks.", {**_SALES, "support_agent": "own"}),
    Permission(CREATE, "Log activities and add tasks.", {**_SALES, "support_agent": "own"}),
    Permission(UPDATE, "Change, complete and reopen activities and tasks.", _SALES),
    Permission(DELETE, "Delete activities and tasks.", _SALES),
]
