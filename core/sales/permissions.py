"""Permissions of the sales domain."""

from __future__ import annotations

from core.security.permissions import EVERYONE_READS
from core.security.rbac import Permission

__all__ = ["PERMISSIONS"]

PERMISSIONS = [
    Permission("pipelines.read", "See the sales pipelines and their stages.", EVERYONE_READS),
    Permission(
        "pipelines.manage",
        "Create, rename, archive pipelines, choose the default one, and edit their stages.",
        {"admin": "all", "sales_manager": "all"},
    ),
]
