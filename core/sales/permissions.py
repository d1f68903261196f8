"""Permissions of the sales domain."""

from __future__ import annotations

from core.security.permissions import ROLE_TEMPLATES
from core.security.rbac import Permission

__all__ = ["PERMISSIONS"]

_EVERYONE_READS = {t: "all" for t in ROLE_TEMPLATES if t != "owner"}

PERMISSIONS = [
    Permission("pipelines.read", "See the sales pipelines and their stages.", _EVERYONE_READS),
    Permission(
        "pipelines.manage",
        "Create, rename, archive pipelines, choose the default one, and edit their stages.",
        {"admin": "all", "sales_manager": "all"},
    ),
]
