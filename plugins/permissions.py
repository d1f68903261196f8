"""Permissions of the plugin layer itself (each plugin registers its own)."""

from core.security.rbac import Permission

PERMISSIONS = [
    Permission(
        "plugins.manage",
        "See the installed plugins, enable, configure, disable and resume them for the account.",
        {"admin": "all"},
    ),
]
