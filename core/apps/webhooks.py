"""Apps' webhooks: every event an installed app chose reaches its webhook URL through the
same signed, retried, logged delivery as a business's own endpoints (``core/webhooks``).

Each installation gets one endpoint of its own in the installing tenant (owner
``Owner.app(installation_id)``), kept in step with the app's registration — URL, events and
signing secrets, which the developer changes in one place for every installation — each time
an event is delivered. The handlers (``apps.webhooks.<event>``) hear only tenants that
installed an app with a webhook (:mod:`core.apps.audience`); an event the business's granted
scopes do not cover (a domain's events need its read scope) is not the app's to see.

The app's own lifecycle events (``apps.installed``, ``apps.uninstalled``) need no scope and
reach only the app they name. ``apps.uninstalled`` cannot take the handlers' path: the
uninstall takes the business out of the relay's audience and disables the endpoint in the
same transaction, so :func:`say_uninstalled` writes that delivery in the uninstall itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.audience import AUDIENCE
from core.apps.events import LIFECYCLE_EVENTS, AppInstalled, AppUninstalled
from core.apps.models import App, AppInstallation, AppStatus
from core.apps.schemas import WebhookSubscription
from core.apps.scopes import ScopeCatalogue
from core.apps.tokens import effective_scopes
from core.apps.webhook_secrets import signing_secrets
from core.crypto.keyring import keyring_of
from core.events.schemas import DomainEvent
from core.jobs.context import JobContext
from core.jobs.registry import Handler
from core.kernel.errors import NotFound
from core.webhooks.schemas import Owner
from core.webhooks.service import enqueue_deliveries, sync_owned_endpoint

__all__ = [
    "app_webhook_handlers",
    "deliver_to_apps",
    "handler_name",
    "installation_owner",
    "say_uninstalled",
    "webhook_subscriptions",
]


def handler_name(event_name: str) -> str:
    return f"apps.webhooks.{event_name}"


async def installation_owner(session: AsyncSession, installation_id: uuid.UUID) -> Owner:
    """The owner of an installation's deliveries, for the business's delivery log of its
    apps (uninstalled ones included); another tenant's installation is "not found"."""
    found = await session.scalar(select(AppInstallation.id).where(AppInstallation.id == installation_id))
    if found is None:
        raise NotFound()
    return Owner.app(installation_id)


async def _subscribed(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    event_name: str,
    *,
    installation_id: uuid.UUID | None = None,
    lock: bool = False,
) -> list[tuple[AppInstallation, App]]:
    query = (
        select(AppInstallation, App)
        .join(App, App.id == AppInstallation.app_id)
        .where(
            AppInstallation.uninstalled_at.is_(None),
            App.webhook_url.is_not(None),
            App.status == AppStatus.ACTIVE,
        )
        .order_by(AppInstallation.id)
    )
    lifecycle = event_name in LIFECYCLE_EVENTS
    if lifecycle:  # about one installation: its app alone hears it
        if installation_id is None:
            return []
        query = query.where(AppInstallation.id == installation_id)
    if lock:  # one endpoint per installation: concurrent events wait for each other here
        query = query.with_for_update(of=AppInstallation)
    found = []
    for installation, app in await session.execute(query):
        if event_name not in app.webhook_events:
            continue
        scopes = effective_scopes(installation.granted_scopes, installation, app)
        if lifecycle or catalogue.events_allowed(scopes, [event_name]):
            found.append((installation, app))
    return found


async def webhook_subscriptions(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    event_name: str,
    *,
    installation_id: uuid.UUID | None = None,
) -> list[WebhookSubscription]:
    """The apps installed in the current tenant that chose ``event_name`` and may still
    receive it (the scopes the business grants cover its domain), with their webhook URL. A
    lifecycle event (``apps.installed``) is only for the app of ``installation_id``."""
    return [
        WebhookSubscription(app_id=app.id, installation_id=installation.id, url=str(app.webhook_url))
        for installation, app in await _subscribed(
            session, catalogue, event_name, installation_id=installation_id
        )
    ]


async def _deliver_to_installation(
    session: AsyncSession,
    installation: AppInstallation,
    app: App,
    event_name: str,
    event_id: uuid.UUID,
    payload: Any,
    *,
    final: bool = False,
) -> list[uuid.UUID]:
    """Bring the installation's endpoint in step with the app's registration, then deliver."""
    secrets = signing_secrets(keyring_of(session.sync_session).provider, app)
    if secrets is None or app.webhook_url is None:
        return []
    owner = Owner.app(installation.id)
    await sync_owned_endpoint(
        session,
        owner,
        url=app.webhook_url,
        events=list(app.webhook_events),
        secret=secrets.current,
        previous_secret=secrets.previous,
        previous_secret_expires_at=secrets.previous_expires_at,
    )
    return await enqueue_deliveries(session, event_name, event_id, payload, owner=owner, final=final)


async def deliver_to_apps(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    event_name: str,
    event_id: uuid.UUID,
    payload: Any,
    *,
    installation_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Create the deliveries of one event to every app of the current tenant that should get
    it, in the caller's transaction; returns their ids. Again for the same event id: none.
    A lifecycle event goes to the app of ``installation_id`` only."""
    created: list[uuid.UUID] = []
    for installation, app in await _subscribed(
        session, catalogue, event_name, installation_id=installation_id, lock=True
    ):
        created += await _deliver_to_installation(session, installation, app, event_name, event_id, payload)
    return created


async def say_uninstalled(
    session: AsyncSession, installation: AppInstallation, event_id: uuid.UUID, event: AppUninstalled
) -> list[uuid.UUID]:
    """The ``apps.uninstalled`` delivery to the app, if it chose that event: written in the
    uninstall's transaction (which holds the installation's lock) before its endpoint is
    disabled, and sent even so (a ``final`` delivery). Nothing else reaches the app after."""
    app = await session.get_one(App, installation.app_id)
    if event.name not in app.webhook_events or app.status != AppStatus.ACTIVE:
        return []
    return await _deliver_to_installation(session, installation, app, event.name, event_id, event, final=True)


def app_webhook_handlers(
    catalogue: ScopeCatalogue, events: Iterable[type[DomainEvent]]
) -> list[Handler[Any]]:
    """A handler per event an app may choose, heard only for tenants with such an app."""

    async def deliver(ctx: JobContext, event: DomainEvent) -> None:
        installation_id = event.installation_id if isinstance(event, AppInstalled) else None
        await deliver_to_apps(
            ctx.session, catalogue, event.name, ctx.message_id, event, installation_id=installation_id
        )

    return [
        Handler(name=handler_name(event.name), event_type=event, fn=deliver, audience=AUDIENCE)
        for event in events
    ]
