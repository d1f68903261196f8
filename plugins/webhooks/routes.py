"""The ``webhooks`` plugin's routes, under ``/api/v1/plugins/webhooks/``: a thin adapter over
``core/webhooks/service.py`` for the tenant's own endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.events.catalog import event_types
from core.kernel.pagination import Page
from core.webhooks import service
from core.webhooks.schemas import (
    DeliveryDetail,
    DeliveryFilter,
    DeliveryView,
    EndpointCreate,
    EndpointUpdate,
    EndpointView,
    EndpointWithSecret,
    SecretRotation,
)
from plugins.sdk.routes import IfMatchDep, PageDep, SessionDep, SettingsDep, etagged

__all__ = ["ROUTES"]

MANAGE = {"permission": "webhooks.manage"}


def _known_events() -> list[str]:
    return list(event_types())


@get("/events", opt=MANAGE, summary="The event names an endpoint can subscribe to")
async def list_events() -> list[str]:
    return _known_events()


@get("/endpoints", opt=MANAGE, summary="List the webhook endpoints")
async def list_endpoints(session: SessionDep, page: PageDep) -> Page[EndpointView]:
    return await service.list_endpoints(session, page)


@post(
    "/endpoints",
    opt=MANAGE,
    summary="Add an endpoint; the answer shows its signing secret, once",
)
async def create_endpoint(
    session: SessionDep, settings: SettingsDep, data: JSONBody[EndpointCreate]
) -> EndpointWithSecret:
    return await service.create_endpoint(session, settings, data, known_events=_known_events())


@get("/endpoints/{endpoint_id:uuid}", opt=MANAGE, summary="Show an endpoint (its ETag for If-Match)")
async def get_endpoint(session: SessionDep, endpoint_id: FromPath[uuid.UUID]) -> Response[EndpointView]:
    return etagged(await service.get_endpoint(session, endpoint_id))


@patch("/endpoints/{endpoint_id:uuid}", opt=MANAGE, summary="Change an endpoint's URL, events or state")
async def update_endpoint(
    session: SessionDep,
    settings: SettingsDep,
    endpoint_id: FromPath[uuid.UUID],
    data: JSONBody[EndpointUpdate],
    if_match: IfMatchDep,
) -> Response[EndpointView]:
    return etagged(
        await service.update_endpoint(
            session,
            settings,
            endpoint_id,
            data,
            known_events=_known_events(),
            expected_version=if_match.version(),
        )
    )


@delete("/endpoints/{endpoint_id:uuid}", opt=MANAGE, summary="Delete an endpoint and its delivery log")
async def delete_endpoint(
    session: SessionDep, endpoint_id: FromPath[uuid.UUID], if_match: IfMatchDep
) -> None:
    await service.delete_endpoint(session, endpoint_id, expected_version=if_match.version())


@post(
    "/endpoints/{endpoint_id:uuid}/rotate-secret",
    opt=MANAGE,
    summary="A new signing secret (the old one may keep signing for a grace period)",
    status_code=200,
)
async def rotate_secret(
    session: SessionDep,
    endpoint_id: FromPath[uuid.UUID],
    if_match: IfMatchDep,
    data: JSONBody[SecretRotation | None] = None,
) -> EndpointWithSecret:
    return await service.rotate_secret(session, endpoint_id, data, expected_version=if_match.version())


@post(
    "/endpoints/{endpoint_id:uuid}/ping",
    opt=MANAGE,
    summary="Send the endpoint a signed test event",
    status_code=202,
)
async def ping_endpoint(session: SessionDep, endpoint_id: FromPath[uuid.UUID]) -> DeliveryView:
    return await service.ping_endpoint(session, endpoint_id)


@get("/deliveries", opt=MANAGE, summary="The delivery log, newest first, with each last response")
async def list_deliveries(
    session: SessionDep,
    page: PageDep,
    endpoint_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[str | None] = None,
    event_name: FromQuery[str | None] = None,
    event_id: FromQuery[uuid.UUID | None] = None,
) -> Page[DeliveryView]:
    filters = DeliveryFilter(endpoint_id=endpoint_id, status=status, event_name=event_name, event_id=event_id)
    return await service.list_deliveries(session, page, filters)


@get("/deliveries/{delivery_id:uuid}", opt=MANAGE, summary="A delivery: its body and every attempt")
async def get_delivery(session: SessionDep, delivery_id: FromPath[uuid.UUID]) -> DeliveryDetail:
    return await service.get_delivery(session, delivery_id)


@post(
    "/deliveries/{delivery_id:uuid}/replay",
    opt=MANAGE,
    summary="Send a delivery again (same body, event id and Huike-Delivery id)",
    status_code=202,
)
async def replay_delivery(session: SessionDep, delivery_id: FromPath[uuid.UUID]) -> Response[DeliveryView]:
    return Response(await service.replay_delivery(session, delivery_id), status_code=202)


ROUTES: list[Any] = [
    list_events,
    list_endpoints,
    create_endpoint,
    get_endpoint,
    update_endpoint,
    delete_endpoint,
    rotate_secret,
    ping_endpoint,
    list_deliveries,
    get_delivery,
    replay_delivery,
]
