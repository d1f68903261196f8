"""Permissions of the plugin layer itself (each plugin registers its own)."""

from core.security.rbac import Permission

#: See the installed plugins and set them up for the account; told when one is paused.
MANAGE = "plugins.manage"

PERMISSIONS = [
    Permission(
        MANAGE,
        "See the installed plugins, enable, configure, disable and resume them for the account.",
        {"admin": "all"},
    ),
]
