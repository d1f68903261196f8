"""Permissions of the sales domain, and which seeded roles receive them at what scope."""

from __future__ import annotations

from core.security.permissions import EVERYONE_READS
from core.security.rbac import Permission

__all__ = [
    "CLOSE",
    "CREATE",
    "DELETE",
    "PERMISSIONS",
    "READ",
    "REOPEN",
    "TRANSFER",
    "UPDATE",
]

READ = "opportunities.read"
CREATE = "opportunities.create"
UPDATE = "opportunities.update"
DELETE = "opportunities.delete"
TRANSFER = "opportunities.transfer"
#: Mark won or lost (also by moving into the won or lost stage).
CLOSE = "opportunities.close"
REOPEN = "opportunities.reopen"

_SALES = {"sales_rep": "own", "sales_manager": "team", "admin": "all"}
_MANAGERS = {"sales_manager": "team", "admin": "all"}

PERMISSIONS = [
    Permission("pipelines.read", "See the sales pipelines and their stages.", EVERYONE_READS),
    Permission(
        "pipelines.manage",
        "Create, rename, archive pipelines, choose the default one, and edit their stages.",
        {"admin": "all", "sales_manager": "all"},
    ),
    Permission(
        READ,
        "See opportunities, the pipeline board and the sales reports (forecast, funnel, win rate).",
        {**_SALES, "accountant": "all", "viewer": "all"},
    ),
    Permission(CREATE, "Add opportunities.", _SALES),
    Permission(UPDATE, "Change opportunities and move them between open stages.", _SALES),
    Permission(DELETE, "Delete opportunities.", _MANAGERS),
    Permission(TRANSFER, "Give opportunities to another owner.", _MANAGERS),
    Permission(CLOSE, "Mark opportunities won or lost.", _SALES),
    Permission(REOPEN, "Reopen won or lost opportunities.", _MANAGERS),
]
