"""Commands and read models of the apps package (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

__all__ = [
    "AppCreate",
    "AppCreated",
    "AppUpdate",
    "AppView",
    "ConsentDecision",
    "ConsentView",
    "DeveloperView",
    "InstallationView",
    "InstallerView",
    "Notice",
    "PlatformAppView",
    "ScopeView",
    "SecretRotated",
    "TenantRef",
    "WebhookSubscription",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Description = Annotated[str, msgspec.Meta(max_length=1000)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
ScopeName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class AppCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    #: Exact-match redirect URIs: https, or http on localhost / 127.0.0.1 (development).
    redirect_uris: Annotated[list[Url], msgspec.Meta(max_length=10)]
    #: The scopes the app asks for (``GET /api/v1/apps/scopes`` lists them).
    scopes: Annotated[list[ScopeName], msgspec.Meta(max_length=50)]
    #: ``confidential`` (a server: gets a secret) or ``public`` (native or browser app).
    client_type: str = "confidential"
    description: Description = ""
    homepage_url: Url | None = None
    webhook_url: Url | None = None
    webhook_events: Annotated[list[EventName], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class AppUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | Unset = UNSET
    description: Description | Unset = UNSET
    homepage_url: Url | Unset | None = UNSET
    redirect_uris: Annotated[list[Url], msgspec.Meta(max_length=10)] | Unset = UNSET
    scopes: Annotated[list[ScopeName], msgspec.Meta(max_length=50)] | Unset = UNSET
    webhook_url: Url | Unset | None = UNSET
    webhook_events: Annotated[list[EventName], msgspec.Meta(max_length=100)] | Unset = UNSET


class AppView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    client_id: str
    client_type: str
    name: str
    description: str
    homepage_url: str | None
    redirect_uris: list[str]
    scopes: list[str]
    webhook_url: str | None
    webhook_events: list[str]
    #: Enough to recognise the secret; not enough to help guess it (None: public client).
    secret_prefix: str | None
    #: The start of the webhook signing secret, to tell which one a receiver holds.
    webhook_secret_prefix: str | None
    created_at: datetime
    secret_rotated_at: datetime | None
    #: ``active``, or ``suspended`` by a platform admin (``status_reason`` says why).
    status: str
    status_reason: str | None
    version: int


class AppCreated(AppView, kw_only=True):
    #: The client secret (None for a public client). Shown in this answer only.
    client_secret: str | None
    #: Signs the app's webhook deliveries (``Huike-Signature``). Shown in this answer only.
    webhook_secret: str


class WebhookSecretRotation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: How long the old secret keeps signing beside the new one (0: it stops at once).
    grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 0


class WebhookSecretRotated(msgspec.Struct, kw_only=True):
    #: The new webhook signing secret, shown this once.
    webhook_secret: str
    webhook_secret_prefix: str
    #: Until when the old secret still signs too (None: it stopped at once).
    previous_secret_expires_at: datetime | None
    version: int


class SecretRotated(msgspec.Struct, kw_only=True):
    client_id: str
    #: The new secret, shown this once; the old one stopped working.
    client_secret: str
    secret_prefix: str
    version: int


class ScopeView(msgspec.Struct, kw_only=True):
    name: str
    label_en: str
    label_zh: str
    permissions: list[str]


class DeveloperView(msgspec.Struct, kw_only=True):
    tenant_id: uuid.UUID
    name: str


class TenantRef(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class InstallationView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    app_id: uuid.UUID
    client_id: str
    app_name: str
    developer: DeveloperView
    granted_scopes: list[ScopeView]
    installed_by: uuid.UUID
    installed_at: datetime
    uninstalled_at: datetime | None
    #: ``active``, or ``suspended`` by a platform admin (its tokens and events stopped).
    app_status: str
    app_status_reason: str | None
    version: int


class PlatformAppView(msgspec.Struct, kw_only=True):
    """An app as a platform admin sees it."""

    id: uuid.UUID
    client_id: str
    name: str
    developer: DeveloperView
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    #: How many businesses have it installed now.
    installations: int
    webhook_url: str | None
    created_at: datetime


class InstallerView(msgspec.Struct, kw_only=True):
    """A business that installed the developer's app, as the developer sees it: what the
    consent screen told its admin the developer would see, nothing more."""

    tenant_id: uuid.UUID
    name: str
    #: The last install (a re-consent keeps it; a reinstall after an uninstall renews it).
    installed_at: datetime
    #: What the business grants that the app still asks for: the scopes in effect.
    granted_scopes: list[ScopeView]


class Notice(msgspec.Struct, kw_only=True):
    text_en: str
    text_zh: str


class ConsentView(msgspec.Struct, kw_only=True):
    """What the consent screen shows: who asks, for what, on behalf of which business."""

    client_id: str
    app_name: str
    description: str
    homepage_url: str | None
    developer: DeveloperView
    #: The business the app would be installed into: the signed-in admin's.
    tenant: TenantRef
    requested_scopes: list[ScopeView]
    redirect_uri: str
    state: str | None
    #: Whether the app is installed already, and with which scopes.
    installed: bool
    granted_scopes: list[str]
    #: What installing shows the developer about the business, in words.
    developer_sees: Notice


class ConsentDecision(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: ``approve`` or ``deny``.
    decision: str
    #: The scopes granted, a subset of those requested (default: all requested).
    scopes: list[ScopeName] | None = None


class WebhookSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """One app installed in the tenant that wants an event: the seam for the delivery engine."""

    app_id: uuid.UUID
    installation_id: uuid.UUID
    url: str
