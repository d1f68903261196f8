"""Who is calling: a member of a tenant (through a user token), an API key of a tenant, or an
installed app (through an OAuth access token, see :mod:`core.apps.tokens`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.security.rbac import Scope

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "user", "api_key" or "app"
    tenant_id: uuid.UUID
    grants: Mapping[str, Scope]
    user_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    #: For an app: the app (the OAuth client) and its installation in this tenant.
    app_id: uuid.UUID | None = None
    installation_id: uuid.UUID | None = None
    tenant_status: str = "active"
    tenant_status_reason: str | None = None
    #: Set when the tenant requires 2FA and this user has not set it up yet: the token only
    #: reaches the routes that set it up.
    two_factor_setup_required: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        return permission in self.grants

    def scope(self, permission: str) -> Scope | None:
        return self.grants.get(permission)

    @property
    def actor_id(self) -> uuid.UUID:
        actor = {"user": self.user_id, "api_key": self.api_key_id, "app": self.app_id}.get(self.kind)
        if actor is None:
            raise ValueError(f"a {self.kind} principal without its id")
        return actor
