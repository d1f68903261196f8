"""What one OAuth request needs and what authlib decided: filled asynchronously before
authlib runs, read asynchronously after it, so authlib's synchronous grants never wait on
the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from core.apps.models import AppInstallation
from core.apps.oauth_models import ClientRecord, CodeRecord, TokenRecord
from core.apps.scopes import ScopeCatalogue
from core.apps.tokens import AppTokenPolicy

__all__ = ["Consent", "Issuance", "NewCode", "NewToken", "OAuthContext", "Revocation"]


@dataclass(frozen=True, slots=True)
class Consent:
    """The admin's approval, decided before authlib issues the code."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    installation_id: uuid.UUID
    scopes: list[str]


@dataclass(frozen=True, slots=True)
class NewCode:
    id: uuid.UUID
    code_hash: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewToken:
    id: uuid.UUID
    kind: str
    token_hash: str
    expires_at: datetime


@dataclass
class Issuance:
    """Tokens authlib issued, to be written with the spend of what they were issued for."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    app_id: uuid.UUID
    family_id: uuid.UUID
    grant_type: str
    scopes: list[str]
    user_id: uuid.UUID | None
    tokens: list[NewToken]
    spends_code: uuid.UUID | None = None
    spends_refresh: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Revocation:
    tenant_id: uuid.UUID
    app_id: uuid.UUID
    token_id: uuid.UUID
    #: Set for a refresh token: revoking it revokes its family (RFC 7009 §2.1).
    family_id: uuid.UUID | None


@dataclass
class OAuthContext:
    """What one OAuth request may need, loaded before authlib runs, and what it decided."""

    catalogue: ScopeCatalogue
    policy: AppTokenPolicy
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    code: CodeRecord | None = None
    refresh_token: TokenRecord | None = None
    #: The token a revocation or introspection request names.
    subject_token: TokenRecord | None = None
    #: For client credentials: the installation in the business the ``tenant`` parameter names.
    installation: AppInstallation | None = None
    consent: Consent | None = None
    # What authlib decided:
    grant_installation: AppInstallation | None = None
    minted: dict[str, NewToken] = field(default_factory=dict)
    issuance: Issuance | None = None
    new_code: NewCode | None = None
    revocations: list[Revocation] = field(default_factory=list)
    #: Families to revoke whatever the answer: a code or refresh token presented twice.
    reused_families: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
