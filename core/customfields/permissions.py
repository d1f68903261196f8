"""Permissions of custom fields: everyone who works with the entities reads the definitions
(forms and lists need them); tenant admins change them."""

from __future__ import annotations

from core.security.permissions import ROLE_TEMPLATES
from core.security.rbac import Permission

__all__ = ["PERMISSIONS"]

_EVERYONE_READS = {t: "all" for t in ROLE_TEMPLATES if t != "owner"}

PERMISSIONS = [
    Permission("custom_fields.read", "See the custom fields of customers, leads and deals.", _EVERYONE_READS),
    Permission("custom_fields.manage", "Add, change and archive custom fields.", {"admin": "all"}),
]
