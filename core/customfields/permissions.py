"""Permissions of custom fields: everyone who works with the entities reads the definitions
(forms and lists need them); tenant admins change them."""

from __future__ import annotations

from core.security.permissions import EVERYONE_READS
from core.security.rbac import Permission

__all__ = ["PERMISSIONS"]

PERMISSIONS = [
    Permission("custom_fields.read", "See the custom fields of customers, leads and deals.", EVERYONE_READS),
    Permission("custom_fields.manage", "Add, change and archive custom fields.", {"admin": "all"}),
]
