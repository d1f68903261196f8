"""Permissions of the audit log."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["PERMISSIONS"]

PERMISSIONS = [
    Permission("audit.read", "Read and export the audit log.", {"admin": "all"}),
]
