"""RBAC. Permissions are strings ``domain.action``. Each package declares its own, and every
declaration goes through one :class:`PermissionRegistry`, which refuses clashes and unknown
names. A permission also says which seeded role templates receive it, and at what scope."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from core.kernel.errors import Invalid

__all__ = ["SCOPES", "Permission", "PermissionRegistry", "Scope", "widest"]

Scope = str
#: Record scopes, narrowest first.
SCOPES: tuple[Scope, ...] = ("own", "team", "all")
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Permission:
    name: str
    description: str
    #: Role templates (other than ``owner``, which gets everything) that receive this
    #: permission when a tenant is created, with the record scope of the grant.
    templates: Mapping[str, Scope] = field(default_factory=dict)


def widest(a: Scope, b: Scope) -> Scope:
    return a if SCOPES.index(a) >= SCOPES.index(b) else b


class PermissionRegistry:
    """All permissions known to this process: the core's, then each plugin's."""

    def __init__(self) -> None:
        self._permissions: dict[str, Permission] = {}
        self._owners: dict[str, str] = {}

    def register(self, owner: str, permissions: Iterable[Permission]) -> None:
        """Add ``permissions`` declared by ``owner`` (a package or plugin name).

        Raises:
            ValueError: a name is malformed or already registered by someone else.
        """
        for permission in permissions:
            if not _NAME.match(permission.name):
                raise ValueError(f"{owner}: permission {permission.name!r} is not 'domain.action'")
            if permission.name in self._permissions:
                raise ValueError(
                    f"{owner}: permission {permission.name!r} is already registered by "
                    f"{self._owners[permission.name]}"
                )
            for scope in permission.templates.values():
                if scope not in SCOPES:
                    raise ValueError(f"{owner}: {permission.name} has unknown scope {scope!r}")
            self._permissions[permission.name] = permission
            self._owners[permission.name] = owner

    def __contains__(self, name: object) -> bool:
        return name in self._permissions

    def __iter__(self) -> Iterator[Permission]:
        return iter(sorted(self._permissions.values(), key=lambda p: p.name))

    def names(self) -> list[str]:
        return sorted(self._permissions)

    def validate_grants(self, grants: Mapping[str, str], field_name: str = "grants") -> dict[str, Scope]:
        """Return ``grants`` if every permission is known and every scope valid."""
        for name, scope in grants.items():
            if name not in self._permissions:
                raise Invalid(
                    f"Unknown permission {name!r}.", field=f"{field_name}.{name}", code="unknown_permission"
                )
            if scope not in SCOPES:
                raise Invalid(
                    f"Scope must be one of {', '.join(SCOPES)}.",
                    field=f"{field_name}.{name}",
                    code="invalid_scope",
                )
        return dict(grants)

    def template_grants(self, template: str) -> dict[str, Scope]:
        if template == "owner":
            return {name: "all" for name in self._permissions}
        return {p.name: p.templates[template] for p in self._permissions.values() if template in p.templates}
