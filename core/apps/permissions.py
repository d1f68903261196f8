"""Permissions of the apps package: registering apps, and installing them into the tenant."""

from __future__ import annotations

from core.security.rbac import Permission

__all__ = ["DEVELOP", "INSTALL", "PERMISSIONS"]

DEVELOP = "apps.develop"
INSTALL = "apps.install"

PERMISSIONS = [
    Permission(
        DEVELOP,
        "Register apps (OAuth clients) that other businesses can install, and manage their secrets.",
        {"admin": "all"},
    ),
    Permission(
        INSTALL,
        "Install apps into the account through their consent screen, see and uninstall them.",
        {"admin": "all"},
    ),
]
