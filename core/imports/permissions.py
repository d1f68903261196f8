"""Permissions of the imports package, and which seeded roles receive them at what scope."""

from __future__ import annotations

from core.customers.permissions import CREATE as CUSTOMERS_CREATE
from core.customers.permissions import UPDATE as CUSTOMERS_UPDATE
from core.leads.permissions import CREATE as LEADS_CREATE
from core.security.rbac import Permission

__all__ = ["CREATE_PERMISSION", "EXPORT", "PERMISSIONS", "RUN"]

#: Upload, dry-run, run and undo imports (seen: your own imports; ``all``: everyone's).
RUN = "imports.run"
#: Export lists (of the records you may read) to CSV and XLSX.
EXPORT = "imports.export"

#: What an import of each entity needs besides ``imports.run``.
CREATE_PERMISSION = {"customer": CUSTOMERS_CREATE, "contact": CUSTOMERS_UPDATE, "lead": LEADS_CREATE}

PERMISSIONS = [
    Permission(
        RUN,
        "Import customers, contacts and leads from CSV or XLSX files, and undo an import.",
        {"sales_manager": "team", "admin": "all"},
    ),
    Permission(
        EXPORT,
        "Export lists of customers, contacts and leads (personal data stays masked without "
        "customers.read_sensitive).",
        {"sales_rep": "own", "sales_manager": "team", "admin": "all"},
    ),
]
