"""Permissions of the customers package, and which seeded roles receive them at what scope."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = [
    "CLAIM",
    "CREATE",
    "DELETE",
    "MANAGE_POOL",
    "MERGE",
    "PERMISSIONS",
    "READ",
    "READ_SENSITIVE",
    "RELEASE",
    "TRANSFER",
    "UPDATE",
]

READ = "customers.read"
CREATE = "customers.create"
UPDATE = "customers.update"
DELETE = "customers.delete"
MERGE = "customers.merge"
TRANSFER = "customers.transfer"
READ_SENSITIVE = "customers.read_sensitive"
#: Browse the public pool and claim customers from it (the pool is the whole business's:
#: the grant's scope does not narrow it).
CLAIM = "customers.claim"
#: Put customers within scope back into the public pool.
RELEASE = "customers.release"
#: Edit the public pool's rules.
MANAGE_POOL = "customers.manage_pool"

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
    Permission(CLAIM, "Browse the public customer pool and claim customers from it.", _SALES),
    Permission(RELEASE, "Put customers back into the public pool.", _SALES),
    Permission(MANAGE_POOL, "Edit the public customer pool's rules.", {"admin": "all"}),
]
