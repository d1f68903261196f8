"""Registering apps: a developer (a member of their own business holding ``apps.develop``)
creates, lists, changes an app, rotates its secret and lists the businesses that installed
it. Apps are listed and changed only by their developer tenant; another tenant's app id is a
404."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.events import LIFECYCLE_EVENTS
from core.apps.models import App, AppStatus, AppTenant, ClientType
from core.apps.schemas import (
    AppCreate,
    AppCreated,
    AppUpdate,
    AppView,
    InstallerView,
    SecretRotated,
    WebhookSecretRotated,
    WebhookSecretRotation,
)
from core.apps.scopes import ScopeCatalogue
from core.apps.uris import clean_uri, clean_uris
from core.apps.webhook_secrets import new_webhook_secret
from core.crypto.keyring import keyring_of
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Forbidden, Invalid, NotFound, one_of
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.settings import Settings
from core.kernel.tenancy import current_tenant_id
from core.security.opaque import digest, new_secret
from core.security.principal import Principal
from core.webhooks.urls import check_endpoint_url

__all__ = [
    "CLIENT_SECRET_PREFIX",
    "app_view",
    "create_app",
    "get_app",
    "list_apps",
    "list_installers",
    "own_app",
    "rotate_secret",
    "rotate_webhook_secret",
    "update_app",
]

CLIENT_SECRET_PREFIX = "hkcs_"  # noqa: S105  (a prefix that secret scanners can match)
_DISPLAY_CHARS = 6


def app_view(app: App) -> AppView:
    return AppView(
        id=app.id,
        client_id=app.client_id,
        client_type=app.client_type,
        name=app.name,
        description=app.description,
        homepage_url=app.homepage_url,
        redirect_uris=list(app.redirect_uris),
        scopes=list(app.scopes),
        webhook_url=app.webhook_url,
        webhook_events=list(app.webhook_events),
        secret_prefix=app.secret_prefix,
        webhook_secret_prefix=app.webhook_secret_prefix,
        created_at=app.created_at,
        secret_rotated_at=app.secret_rotated_at,
        status=app.status,
        status_reason=app.status_reason,
        version=app.version,
    )


def _new_secret(app: App) -> str:
    secret = CLIENT_SECRET_PREFIX + new_secret()
    app.client_secret_hash = digest(secret)
    app.secret_prefix = secret[: len(CLIENT_SECRET_PREFIX) + _DISPLAY_CHARS]
    return secret


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise Invalid("Give the app a name.", field="name", code="required")
    return name


def _clean_webhook_url(settings: Settings, url: str | None) -> str | None:
    # The same rule as a business's own endpoints: the platform's workers make the call.
    if url is None:
        return None
    return check_endpoint_url(
        clean_uri(url, "webhook_url"), allow_private=settings.webhook_allow_private_urls, field="webhook_url"
    )


def _clean_events(
    catalogue: ScopeCatalogue,
    known_events: Collection[str],
    scopes: list[str],
    events: list[str],
    url: str | None,
) -> list[str]:
    if events and url is None:
        raise Invalid("Give a webhook_url to receive events.", field="webhook_url", code="required")
    allowed = set(catalogue.events_allowed(scopes, known_events)) | LIFECYCLE_EVENTS
    for index, event in enumerate(events):
        if event not in known_events:
            raise Invalid(f"Unknown event {event!r}.", field=f"webhook_events[{index}]", code="unknown_event")
        if event not in allowed:
            raise Invalid(
                f"The app's scopes do not cover the event {event!r} (a domain's events need its read scope).",
                field=f"webhook_events[{index}]",
                code="event_not_in_scopes",
            )
    return sorted(set(events))


async def create_app(
    session: AsyncSession,
    settings: Settings,
    catalogue: ScopeCatalogue,
    known_events: Collection[str],
    principal: Principal,
    command: AppCreate,
) -> AppCreated:
    """Register an app owned by the current tenant; the answer holds its client secret and its
    webhook signing secret, once."""
    if principal.user_id is None:
        raise Forbidden("Only a person can register apps.", code="not_a_person")
    scopes = catalogue.validate(command.scopes, "scopes")
    webhook_url = _clean_webhook_url(settings, command.webhook_url)
    app_id = new_id()
    app = App(
        id=app_id,
        developer_tenant_id=current_tenant_id(),
        client_id=f"app_{app_id.hex}",
        client_type=one_of(command.client_type, ClientType.ALL, "client_type"),
        name=_clean_name(command.name),
        description=command.description.strip(),
        homepage_url=None
        if command.homepage_url is None
        else clean_uri(command.homepage_url, "homepage_url"),
        redirect_uris=clean_uris(command.redirect_uris, "redirect_uris"),
        scopes=scopes,
        webhook_url=webhook_url,
        webhook_events=_clean_events(catalogue, known_events, scopes, command.webhook_events, webhook_url),
        created_by=principal.user_id,
    )
    secret = _new_secret(app) if app.client_type == ClientType.CONFIDENTIAL else None
    webhook_secret = new_webhook_secret(keyring_of(session.sync_session).provider, app)
    session.add(app)
    await session.flush()
    return AppCreated(
        **msgspec.structs.asdict(app_view(app)), client_secret=secret, webhook_secret=webhook_secret
    )


async def list_apps(session: AsyncSession, page: PageRequest) -> Page[AppView]:
    """The current tenant's apps only (not the deleted ones)."""
    stmt = select(App).where(App.developer_tenant_id == current_tenant_id(), App.status != AppStatus.DELETED)
    return await paginate(
        session, stmt, App.id, page, app_view, sortable={"name": App.name, "created_at": App.created_at}
    )


async def own_app(session: AsyncSession, app_id: uuid.UUID, *, lock: bool = False) -> App:
    """One of the current tenant's apps (not a deleted one); anything else is not found."""
    stmt = select(App).where(
        App.id == app_id, App.developer_tenant_id == current_tenant_id(), App.status != AppStatus.DELETED
    )
    app = await session.scalar(stmt.with_for_update() if lock else stmt)
    if app is None:
        raise NotFound()
    return app


async def get_app(session: AsyncSession, app_id: uuid.UUID) -> AppView:
    return app_view(await own_app(session, app_id))


async def list_installers(
    session: AsyncSession, catalogue: ScopeCatalogue, app_id: uuid.UUID, page: PageRequest
) -> Page[InstallerView]:
    """The businesses that have the current tenant's app installed now, from the platform
    mirror ``app_tenants``: their installations are theirs, behind row-level security."""
    app = await own_app(session, app_id)
    found = await paginate(
        session,
        select(AppTenant).where(AppTenant.app_id == app.id),
        AppTenant.tenant_ref,
        page,
        lambda row: row,
        sortable={"installed_at": AppTenant.installed_at},
    )
    refs = [row.tenant_ref for row in found.items]
    rows = await session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(refs)))
    names = {tenant_id: name for tenant_id, name in rows}
    items = [
        InstallerView(
            tenant_id=row.tenant_ref,
            name=names[row.tenant_ref],
            installed_at=row.installed_at,
            # As tokens.effective_scopes: a scope the app no longer asks for is in effect nowhere.
            granted_scopes=catalogue.describe(sorted(set(row.granted_scopes) & set(app.scopes))),
        )
        for row in found.items
    ]
    return Page(items=items, next_cursor=found.next_cursor)


async def update_app(
    session: AsyncSession,
    settings: Settings,
    catalogue: ScopeCatalogue,
    known_events: Collection[str],
    app_id: uuid.UUID,
    change: AppUpdate,
    *,
    expected_version: int | None = None,
) -> AppView:
    """Change an app. Scopes taken away stop working at once in every installation; scopes
    added reach a business only once its admin consents again."""
    app = await own_app(session, app_id, lock=True)
    ensure_version(app, expected_version)
    if not isinstance(change.name, msgspec.UnsetType):
        app.name = _clean_name(change.name)
    if not isinstance(change.description, msgspec.UnsetType):
        app.description = change.description.strip()
    if not isinstance(change.homepage_url, msgspec.UnsetType):
        app.homepage_url = (
            None if change.homepage_url is None else clean_uri(change.homepage_url, "homepage_url")
        )
    if not isinstance(change.redirect_uris, msgspec.UnsetType):
        app.redirect_uris = clean_uris(change.redirect_uris, "redirect_uris")
    scopes = list(app.scopes)
    if not isinstance(change.scopes, msgspec.UnsetType):
        scopes = catalogue.validate(change.scopes, "scopes")
    url = app.webhook_url
    if not isinstance(change.webhook_url, msgspec.UnsetType):
        url = _clean_webhook_url(settings, change.webhook_url)
    events = list(app.webhook_events) if url is not None else []
    if not isinstance(change.webhook_events, msgspec.UnsetType):
        events = change.webhook_events
    events = _clean_events(catalogue, known_events, scopes, events, url)
    for key, value in (("scopes", scopes), ("webhook_url", url), ("webhook_events", events)):
        if getattr(app, key) != value:
            setattr(app, key, value)
    await session.flush()
    return app_view(app)


async def rotate_secret(
    session: AsyncSession, app_id: uuid.UUID, *, expected_version: int | None = None
) -> SecretRotated:
    """Give a confidential app a new secret; the old one stops working at once."""
    app = await own_app(session, app_id, lock=True)
    ensure_version(app, expected_version)
    if app.client_type != ClientType.CONFIDENTIAL:
        raise Invalid(
            "A public client has no secret to rotate.", field="client_type", code="not_confidential"
        )
    secret = _new_secret(app)
    app.secret_rotated_at = utcnow()
    await session.flush()
    return SecretRotated(
        client_id=app.client_id,
        client_secret=secret,
        secret_prefix=app.secret_prefix or "",
        version=app.version,
    )


async def rotate_webhook_secret(
    session: AsyncSession,
    app_id: uuid.UUID,
    rotation: WebhookSecretRotation | None = None,
    *,
    expected_version: int | None = None,
) -> WebhookSecretRotated:
    """Give the app a new webhook signing secret, shown in this answer only. With
    ``grace_seconds`` the old one keeps signing beside it until then, in every installation."""
    grace = (rotation or WebhookSecretRotation()).grace_seconds
    app = await own_app(session, app_id, lock=True)
    ensure_version(app, expected_version)
    secret = new_webhook_secret(
        keyring_of(session.sync_session).provider, app, grace=timedelta(seconds=grace)
    )
    await session.flush()
    return WebhookSecretRotated(
        webhook_secret=secret,
        webhook_secret_prefix=app.webhook_secret_prefix or "",
        previous_secret_expires_at=app.webhook_previous_secret_expires_at,
        version=app.version,
    )
