"""Apps' webhooks: every event an installed app chose reaches its webhook URL through the
same signed, retried, logged delivery as a business's own endpoints (``core/webhooks``).

Each installation gets one endpoint of its own in the installing tenant (owner
``Owner.app(installation_id)``), kept in step with the app's registration — URL, events and
signing secrets, which the developer changes in one place for every installation — each time
an event is delivered. The handlers (``apps.webhooks.<event>``) hear only tenants that
installed an app with a webhook (:mod:`core.apps.audience`); an event the business's granted
scopes do not cover (a domain's events need its read scope) is not the app's to see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.audience import AUDIENCE
from core.apps.models import App, AppInstallation
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
    session: AsyncSession, catalogue: ScopeCatalogue, event_name: str, *, lock: bool = False
) -> list[tuple[AppInstallation, App]]:
    query = (
        select(AppInstallation, App)
        .join(App, App.id == AppInstallation.app_id)
        .where(AppInstallation.uninstalled_at.is_(None), App.webhook_url.is_not(None))
        .order_by(AppInstallation.id)
    )
    if lock:  # one endpoint per installation: concurrent events wait for each other here
        query = query.with_for_update(of=AppInstallation)
    found = []
    for installation, app in await session.execute(query):
        scopes = effective_scopes(installation.granted_scopes, installation, app)
        if event_name in app.webhook_events and catalogue.events_allowed(scopes, [event_name]):
            found.append((installation, app))
    return found


async def webhook_subscriptions(
    session: AsyncSession, catalogue: ScopeCatalogue, event_name: str
) -> list[WebhookSubscription]:
    """The apps installed in the current tenant that chose ``event_name`` and may still
    receive it (the scopes the business grants cover its domain), with their webhook URL."""
    return [
        WebhookSubscription(app_id=app.id, installation_id=installation.id, url=str(app.webhook_url))
        for installation, app in await _subscribed(session, catalogue, event_name)
    ]


async def deliver_to_apps(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    event_name: str,
    event_id: uuid.UUID,
    payload: Any,
) -> list[uuid.UUID]:
    """Create the deliveries of one event to every app of the current tenant that should get
    it, in the caller's transaction; returns their ids. Again for the same event id: none."""
    provider = keyring_of(session.sync_session).provider
    created: list[uuid.UUID] = []
    for installation, app in await _subscribed(session, catalogue, event_name, lock=True):
        secrets = signing_secrets(provider, app)
        if secrets is None or app.webhook_url is None:
            continue
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
        created += await enqueue_deliveries(session, event_name, event_id, payload, owner=owner)
    return created


def app_webhook_handlers(
    catalogue: ScopeCatalogue, events: Iterable[type[DomainEvent]]
) -> list[Handler[Any]]:
    """A handler per event an app may choose, heard only for tenants with such an app."""

    async def deliver(ctx: JobContext, event: DomainEvent) -> None:
        await deliver_to_apps(ctx.session, catalogue, event.name, ctx.message_id, event)

    return [
        Handler(name=handler_name(event.name), event_type=event, fn=deliver, audience=AUDIENCE)
        for event in events
    ]
