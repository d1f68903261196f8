"""Permissions of the customers package, and which seeded roles receive them at what scope."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["CREATE", "DELETE", "MERGE", "PERMISSIONS", "READ", "READ_SENSITIVE", "TRANSFER", "UPDATE"]

READ = "customers.read"
CREATE = "customers.create"
UPDATE = "customers.update"
DELETE = "customers.delete"
MERGE = "customers.merge"
TRANSFER = "customers.transfer"
READ_SENSITIVE = "customers.read_sensitive"

_SALES = {"sales_rep": "own", "sales_manager": "team", "admin": "all"}
_MANAGERS = {"sales_manager": "team", "admin": "all"}

PERMISSIONS = [
    Permission(
        READ,
        "See customers and their contacts.",
        {**_SALES, "support_agent": "all", "accountant": "all", "viewer": "all"},
    ),
    Permission(CREATE, "Add customers.", _SALES),
    Permission(UPDATE, "Change customers and their contacts.", _SALES),
    Permission(DELETE, "Delete customers.", _MANAGERS),
    Permission(MERGE, "Merge a duplicate customer into another.", _MANAGERS),
    Permission(TRANSFER, "Give customers to another owner.", _MANAGERS),
    Permission(
        READ_SENSITIVE,
        "See customers' phone numbers, emails, addresses and ID numbers unmasked.",
        _SALES,
    ),
]
