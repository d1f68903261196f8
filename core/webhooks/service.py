"""Use cases of outgoing webhooks: endpoints (configured by a tenant or owned by an installed
app), the deliveries of an event to them, the delivery log, and replays.

Every function works in the caller's transaction, for the tenant in context. Endpoint
functions take the ``owner`` whose endpoints they may see (the tenant's own by default); an
endpoint of another owner, like one of another tenant, is "not found".

A transaction reads the enabled endpoints it delivers to once (a job runner's batch of events
shares one transaction); every endpoint write here, and any rollback, makes the next delivery
read them again.
"""

from __future__ import annotations

import secrets as random_secrets
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, and_, delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, defer

from core.imports.writes import insert_new
from core.jobs.service import enqueue, enqueue_after_commit
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, NotFound, one_of
from core.kernel.ids import new_id
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.settings import Settings
from core.kernel.tenancy import TenantSession, current_tenant_id
from core.webhooks.delivery import set_wakeups, set_wakeups_at_commit
from core.webhooks.jobs import Deliver, deliver
from core.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookWakeup,
)
from core.webhooks.schemas import (
    TENANT,
    DeliveryDetail,
    DeliveryFilter,
    DeliveryView,
    EndpointCreate,
    EndpointUpdate,
    EndpointView,
    EndpointWithSecret,
    Owner,
    SecretRotation,
)
from core.webhooks.subscriptions import check_events, subscribes
from core.webhooks.urls import check_endpoint_url
from core.webhooks.views import delivery_detail, delivery_view, endpoint_view, endpoint_with_secret

__all__ = [
    "PING_EVENT",
    "create_endpoint",
    "delete_endpoint",
    "disable_owned_endpoints",
    "enqueue_deliveries",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "ping_endpoint",
    "replay_delivery",
    "rotate_secret",
    "sync_owned_endpoint",
    "update_endpoint",
]

#: The event :func:`ping_endpoint` sends, whatever the endpoint subscribes to.
PING_EVENT = "webhooks.ping"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that makes a leaked secret recognisable
#: If a delivery's first job is lost (an embedded process stopped with it in memory, or a
#: worker died between its handler's commit and sending the job), the sweeper sends it after
#: this long.
FIRST_WAKEUP = timedelta(minutes=5)
#: ``session.info`` key: the (id, events) of the enabled endpoints this transaction read, by
#: tenant and owner (None: every owner).
_ENDPOINTS = "huike.webhooks.enabled_endpoints"


def _new_secret() -> str:
    return SECRET_PREFIX + random_secrets.token_urlsafe(32)


def _owned_by(owner: Owner) -> ColumnElement[bool]:
    if owner.ref is None:
        return and_(WebhookEndpoint.owner_kind == owner.kind, WebhookEndpoint.owner_ref.is_(None))
    return and_(WebhookEndpoint.owner_kind == owner.kind, WebhookEndpoint.owner_ref == owner.ref)


async def _endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, owner: Owner, *, lock: bool = False
) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, _owned_by(owner))
    endpoint = await session.scalar(stmt.with_for_update() if lock else stmt)
    if endpoint is None:
        raise NotFound("The webhook endpoint does not exist.")
    return endpoint


async def list_endpoints(
    session: AsyncSession, page: PageRequest, *, owner: Owner = TENANT
) -> Page[EndpointView]:
    stmt = select(WebhookEndpoint).where(_owned_by(owner))
    stmt = stmt.options(defer(WebhookEndpoint.secret), defer(WebhookEndpoint.previous_secret))
    return await paginate(session, stmt, WebhookEndpoint.id, page, endpoint_view)


async def get_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, *, owner: Owner = TENANT
) -> EndpointView:
    return endpoint_view(await _endpoint(session, endpoint_id, owner))


async def create_endpoint(
    session: AsyncSession,
    settings: Settings,
    data: EndpointCreate,
    *,
    owner: Owner = TENANT,
    known_events: Collection[str] | None = None,
) -> EndpointWithSecret:
    """A new endpoint with a new signing secret, shown in this answer only.

    Raises:
        Invalid: the URL is not one webhooks may be sent to (``invalid_url``, ``insecure_url``,
            ``private_address``), or an event name is malformed or, given ``known_events``,
            unknown (``invalid_events``).
    """
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        url=check_endpoint_url(data.url, allow_private=settings.webhook_allow_private_urls),
        events=check_events(data.events, known=known_events),
        description=(data.description or "").strip() or None,
        enabled=data.enabled,
        owner_kind=owner.kind,
        owner_ref=owner.ref,
        secret=secret,
    )
    session.add(endpoint)
    await session.flush()
    _endpoints_changed(session)
    return endpoint_with_secret(endpoint, secret)


async def update_endpoint(
    session: AsyncSession,
    settings: Settings,
    endpoint_id: uuid.UUID,
    change: EndpointUpdate,
    *,
    owner: Owner = TENANT,
    expected_version: int | None = None,
    known_events: Collection[str] | None = None,
) -> EndpointView:
    """Change an endpoint. Disabling it stops its open deliveries at their next attempt
    (they become ``dead``, replayable once it is enabled again)."""
    endpoint = await _endpoint(session, endpoint_id, owner, lock=True)
    ensure_version(endpoint, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    if "url" in values:
        values["url"] = check_endpoint_url(values["url"], allow_private=settings.webhook_allow_private_urls)
    if "events" in values:
        values["events"] = check_events(values["events"], known=known_events)
    if "description" in values:
        values["description"] = (values["description"] or "").strip() or None
    for key, value in values.items():
        if getattr(endpoint, key) != value:
            setattr(endpoint, key, value)
    await session.flush()
    _endpoints_changed(session)
    return endpoint_view(endpoint)


async def rotate_secret(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    rotation: SecretRotation | None = None,
    *,
    owner: Owner = TENANT,
    expected_version: int | None = None,
) -> EndpointWithSecret:
    """Give the endpoint a new signing secret, shown in this answer only. With
    ``grace_seconds`` the old one keeps signing beside it (two ``v1=`` in the header) until
    then, so a receiver can switch without missing a delivery."""
    grace = (rotation or SecretRotation()).grace_seconds
    endpoint = await _endpoint(session, endpoint_id, owner, lock=True)
    ensure_version(endpoint, expected_version)
    secret = _new_secret()
    if grace > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + timedelta(seconds=grace)
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    await session.flush()
    _endpoints_changed(session)
    return endpoint_with_secret(endpoint, secret)


async def delete_endpoint(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    owner: Owner = TENANT,
    expected_version: int | None = None,
) -> None:
    """Delete the endpoint with its deliveries and their log; nothing more is sent to it."""
    endpoint = await _endpoint(session, endpoint_id, owner, lock=True)
    ensure_version(endpoint, expected_version)
    await session.execute(
        delete(WebhookWakeup).where(
            WebhookWakeup.tenant_ref == endpoint.tenant_id,
            WebhookWakeup.delivery_id.in_(
                select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
            ),
        )
    )
    await session.delete(endpoint)
    await session.flush()
    _endpoints_changed(session)


async def sync_owned_endpoint(
    session: AsyncSession,
    owner: Owner,
    *,
    url: str,
    events: list[str],
    secret: str,
    previous_secret: str | None = None,
    previous_secret_expires_at: datetime | None = None,
) -> uuid.UUID:
    """The one endpoint of an ``owner`` whose configuration is kept elsewhere (an installed
    app's: its registration holds the URL, the events and the signing secrets), created the
    first time and brought in step when that configuration changed. The URL was checked when
    it was registered. The caller serialises calls for one owner (it locks the owner's row)."""
    if owner.ref is None:
        raise ValueError("only an owner other than the tenant has a synchronised endpoint")
    endpoint = await session.scalar(select(WebhookEndpoint).where(_owned_by(owner)))
    if endpoint is None:
        endpoint = WebhookEndpoint(owner_kind=owner.kind, owner_ref=owner.ref, url=url, events=events)
        session.add(endpoint)
    wanted = {
        "url": url,
        "events": events,
        "enabled": True,
        "secret": secret,
        "previous_secret": previous_secret,
        "previous_secret_expires_at": previous_secret_expires_at,
    }
    changed = [key for key, value in wanted.items() if getattr(endpoint, key, None) != value]
    for key in changed:
        setattr(endpoint, key, wanted[key])
    await session.flush()
    if changed:  # most calls (one per event delivered to an app) change nothing
        _endpoints_changed(session)
    return endpoint.id


async def disable_owned_endpoints(session: AsyncSession, owner: Owner) -> None:
    """Stop sending to ``owner``'s endpoints (an app uninstalled): their open deliveries end
    ``dead`` at their next attempt; the delivery log stays readable."""
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(_owned_by(owner), WebhookEndpoint.enabled.is_(True)).with_for_update()
    )
    for endpoint in endpoints:
        endpoint.enabled = False
    await session.flush()
    _endpoints_changed(session)


def _endpoints_changed(session: AsyncSession) -> None:
    """An endpoint was written: the next delivery reads the enabled endpoints again."""
    session.info.pop(_ENDPOINTS, None)


@event.listens_for(TenantSession, "after_soft_rollback")
def _forget_endpoints_on_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint's rollback too: what it wrote of the endpoints is undone.
    session.info.pop(_ENDPOINTS, None)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_endpoints(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ENDPOINTS, None)


async def _enabled_endpoints(session: AsyncSession, owner: Owner | None) -> list[tuple[uuid.UUID, list[str]]]:
    """The id and events of each enabled endpoint of ``owner`` (every owner's for None), read
    once per transaction."""
    cache: dict[tuple[uuid.UUID, Owner | None], list[tuple[uuid.UUID, list[str]]]]
    cache = session.info.setdefault(_ENDPOINTS, {})
    key = (current_tenant_id(), owner)
    found = cache.get(key)
    if found is None:
        query = select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.enabled.is_(True))
        if owner is not None:
            query = query.where(_owned_by(owner))
        found = cache[key] = [(endpoint_id, events) for endpoint_id, events in await session.execute(query)]
    return found


def _body(event_name: str, event_id: uuid.UUID, payload: Any, occurred_at: datetime) -> str:
    envelope = {
        "id": event_id,
        "event": event_name,
        "created_at": occurred_at,
        "tenant_id": current_tenant_id(),
        "data": msgspec.to_builtins(payload),
    }
    return msgspec.json.encode(envelope).decode()


async def enqueue_deliveries(
    session: AsyncSession,
    event_name: str,
    event_id: uuid.UUID,
    payload: Any,
    *,
    endpoints: Sequence[uuid.UUID] | None = None,
    owner: Owner | None = None,
    occurred_at: datetime | None = None,
    final: bool = False,
) -> list[uuid.UUID]:
    """Deliver an event to every enabled endpoint subscribed to it, in the caller's
    transaction: the deliveries commit with it, or not at all, and their jobs are sent once it
    commits. Returns the ids of the deliveries created.

    In an event handler (a job) the jobs go to the broker right after the handler's commit,
    without an outbox row and the relay's pass; elsewhere through the outbox. Either way a
    delivery whose job got lost is sent by the sweeper at its first wake-up.

    Args:
        event_name: sent as ``Huike-Event`` and ``event`` in the body.
        event_id: the event's id (``ctx.message_id`` in a handler); an endpoint gets at most
            one delivery per event id, so calling this twice for one event creates nothing more.
        payload: the event's data (a dict or a msgspec Struct such as the domain event), sent
            as ``data`` in the body.
        endpoints: only these endpoints (still only enabled and subscribed ones).
        owner: only this owner's endpoints (``Owner.app(installation_id)``); all by default.
        occurred_at: when the event happened (default: now), ``created_at`` in the body.
        final: the endpoints' last word before the caller disables them in this transaction
            (an app told of its uninstall): sent, and retried, even once they are disabled.
    """
    only = None if endpoints is None else set(endpoints)
    targets = [
        endpoint_id
        for endpoint_id, events in await _enabled_endpoints(session, owner)
        if (only is None or endpoint_id in only) and subscribes(events, event_name)
    ]
    return await _deliver_to(session, targets, event_name, event_id, payload, occurred_at, final=final)


async def _deliver_to(
    session: AsyncSession,
    endpoint_ids: list[uuid.UUID],
    event_name: str,
    event_id: uuid.UUID,
    payload: Any,
    occurred_at: datetime | None,
    *,
    final: bool = False,
) -> list[uuid.UUID]:
    """One statement writes the deliveries, skipping an endpoint that has this event's already
    (a redelivered event); the first wake-ups are written when the transaction commits."""
    if not endpoint_ids:
        return []
    now = utcnow()
    body = _body(event_name, event_id, payload, occurred_at or now)
    deliveries = [
        WebhookDelivery(
            id=new_id(),
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_name=event_name,
            body=body,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            final=final,
        )
        for endpoint_id in endpoint_ids
    ]
    created: list[WebhookDelivery] = await insert_new(
        session, deliveries, skip_conflicts_on=("tenant_id", "endpoint_id", "event_id")
    )
    for delivery in created:
        await enqueue_after_commit(session, deliver, Deliver(delivery_id=delivery.id))
    set_wakeups_at_commit(session, current_tenant_id(), {d.id: now + FIRST_WAKEUP for d in created})
    return [d.id for d in created]


async def ping_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, *, owner: Owner = TENANT
) -> DeliveryView:
    """Send a ``webhooks.ping`` event to this endpoint alone, whatever it subscribes to (a
    "send test event" button). The endpoint must be enabled."""
    endpoint = await _endpoint(session, endpoint_id, owner)
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled; enable it to send it events.", code="endpoint_disabled")
    event_id = new_id()
    [delivery_id] = await _deliver_to(
        session, [endpoint.id], PING_EVENT, event_id, {"endpoint_id": endpoint.id}, None
    )
    return delivery_view(await _delivery(session, delivery_id, owner))


def _deliveries_of(owner: Owner | None) -> Select[WebhookDelivery]:
    query = select(WebhookDelivery)
    if owner is not None:
        query = query.join(
            WebhookEndpoint,
            and_(
                WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
                WebhookEndpoint.id == WebhookDelivery.endpoint_id,
            ),
        ).where(_owned_by(owner))
    return query


async def _delivery(
    session: AsyncSession, delivery_id: uuid.UUID, owner: Owner | None, *, lock: bool = False
) -> WebhookDelivery:
    stmt = _deliveries_of(owner).where(WebhookDelivery.id == delivery_id)
    delivery = await session.scalar(stmt.with_for_update(of=WebhookDelivery) if lock else stmt)
    if delivery is None:
        raise NotFound("The webhook delivery does not exist.")
    return delivery


async def list_deliveries(
    session: AsyncSession,
    page: PageRequest,
    filters: DeliveryFilter | None = None,
    *,
    owner: Owner | None = TENANT,
) -> Page[DeliveryView]:
    """The delivery log, oldest first (``sort="-id"`` for newest first), filtered by
    endpoint, status, event name or event id; ``owner=None`` lists every owner's."""
    filters = filters or DeliveryFilter()
    query = _deliveries_of(owner).options(defer(WebhookDelivery.body))
    if filters.endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.status is not None:
        query = query.where(WebhookDelivery.status == one_of(filters.status, DeliveryStatus.ALL, "status"))
    if filters.event_name is not None:
        query = query.where(WebhookDelivery.event_name == filters.event_name)
    if filters.event_id is not None:
        query = query.where(WebhookDelivery.event_id == filters.event_id)
    return await paginate(session, query, WebhookDelivery.id, page, delivery_view)


async def get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, owner: Owner | None = TENANT
) -> DeliveryDetail:
    """One delivery with its body and every attempt (status code, excerpt, error, timing)."""
    delivery = await _delivery(session, delivery_id, owner)
    attempts = (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.id)
        )
    ).all()
    return delivery_detail(delivery, list(attempts))


async def replay_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, owner: Owner | None = TENANT
) -> DeliveryView:
    """Send a delivery again as a new series of attempts (with the full retry schedule),
    with the same body, event id and ``Huike-Delivery`` id, once the caller's transaction
    commits. A delivery that failed and waits for its retry is tried now.

    Raises:
        Conflict: ``delivery_in_progress`` when it has not been tried yet or an attempt is in
            flight; ``endpoint_disabled`` when its endpoint is disabled.
    """
    delivery = await _delivery(session, delivery_id, owner)
    enabled = await session.scalar(
        select(WebhookEndpoint.enabled).where(WebhookEndpoint.id == delivery.endpoint_id)
    )
    if not enabled:
        raise Conflict("The endpoint is disabled; enable it before replaying.", code="endpoint_disabled")
    now = utcnow()
    replayed = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status != DeliveryStatus.PENDING,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            series=WebhookDelivery.series + 1,
            next_attempt_at=now,
            locked_until=None,
            replayed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if replayed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "This delivery is waiting for its first attempt or an attempt is in flight; "
            "try again when it is done.",
            code="delivery_in_progress",
        )
    await enqueue(session, deliver, Deliver(delivery_id=delivery.id))
    await set_wakeups(session, delivery.tenant_id, {delivery.id: now + FIRST_WAKEUP})
    await session.refresh(delivery)
    return delivery_view(delivery)
