"""Who is calling: a member of a tenant (through a user token) or an API key of a tenant."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.security.rbac import Scope

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "user" or "api_key"
    tenant_id: uuid.UUID
    grants: Mapping[str, Scope]
    user_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
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
        actor = self.user_id if self.kind == "user" else self.api_key_id
        if actor is None:
            raise ValueError(f"a {self.kind} principal without its id")
        return actor
