"""The two seams other domains use: a subject resolver (a future domain: service tickets) registered in
the subject registry, and their events listed as timeline events (orders, tickets)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.models import TimelineEntry
from core.activities.subjects import BUILTIN_SUBJECTS, SubjectRef, SubjectRegistry
from core.activities.timeline import HANDLERS, MERGED, TimelineEvent, timeline_handlers
from core.customers.events import CustomerMerged
from core.events.schemas import DomainEvent
from core.events.service import record_event
from core.jobs.registry import JobRegistry
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.errors import NotFound
from core.kernel.ids import id_time, new_id
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.security.principal import Principal
from frontend_api.app import create_app
from frontend_api.services import build_services
from tests.core.jobs.conftest import new_tenant
from tests.helpers import signup

API = "/api/v1/activities"

#: The tickets of a fake service domain: ticket id -> customer id (or None).
TICKETS: dict[uuid.UUID, uuid.UUID | None] = {}


async def resolve_ticket(
    session: AsyncSession, principal: Principal, subject_id: uuid.UUID, permission: str
) -> SubjectRef:
    if subject_id not in TICKETS or principal.user_id is None:
        raise NotFound("The ticket does not exist.", field="subject_id")
    return SubjectRef(customer_id=TICKETS[subject_id], owner_id=principal.user_id)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    services = build_services(settings)
    services.activity_subjects.register("tests.service", {"ticket": resolve_ticket})
    with TestClient(create_app(services=services), raise_server_exceptions=False) as test_client:
        yield test_client


def _post(client: TestClient[Any], headers: dict[str, str], subject_type: str, subject_id: Any) -> Any:
    body = {"kind": "call", "subject_type": subject_type, "subject_id": str(subject_id), "subject": "Call"}
    return client.post(API, headers=headers, json=body)


def test_a_registered_resolver_lets_activities_be_about_its_subjects(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    headers = owner["headers"]
    customer = client.post(
        "/api/v1/customers", headers=headers, json={"kind": "company", "name": "Globex"}
    ).json()
    converted, fresh = new_id(), new_id()
    TICKETS.update({converted: uuid.UUID(customer["id"]), fresh: None})
    about_converted = _post(client, headers, "ticket", converted)
    assert about_converted.status_code == 201, about_converted.text
    assert about_converted.json()["customer_id"] == customer["id"]
    assert _post(client, headers, "ticket", fresh).json()["customer_id"] is None
    listed = client.get(API, headers=headers, params={"customer_id": customer["id"]}).json()["items"]
    assert [a["id"] for a in listed] == [about_converted.json()["id"]]
    unknown = _post(client, headers, "ticket", new_id())
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "subject_id"
    planet = _post(client, headers, "planet", new_id())
    assert planet.status_code == 422
    assert planet.json()["errors"][0]["field"] == "subject_type"
    assert "ticket" in planet.json()["errors"][0]["reason"]


def test_a_subject_type_is_registered_once() -> None:
    registry = SubjectRegistry()
    registry.register("core.customers", BUILTIN_SUBJECTS)
    with pytest.raises(ValueError, match=r"already registered by core\.customers"):
        registry.register("core.service", {"customer": resolve_ticket})


class OrderPlaced(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "tests.order_placed"
    order_id: uuid.UUID
    customer_id: uuid.UUID
    actor_id: uuid.UUID


def test_a_timeline_event_must_carry_its_customer_and_reference() -> None:
    with pytest.raises(ValueError, match="'ticket_id'"):
        TimelineEvent(OrderPlaced, ref="ticket")


@pytest.mark.anyio
async def test_a_listed_event_adds_an_entry_to_its_customers_timeline(
    settings: Settings, db: Database
) -> None:
    tenant_id = await new_tenant(db)
    order_id, customer_id, actor_id = new_id(), new_id(), new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            event_id = await record_event(
                session, OrderPlaced(order_id=order_id, customer_id=customer_id, actor_id=actor_id)
            )
    registry = JobRegistry()
    registry.add_handlers(timeline_handlers([TimelineEvent(OrderPlaced, ref="order")]))
    runtime = JobRuntime(settings, db, registry, MemoryMailer())
    await runtime.start(worker=True, relay=False, scheduler=False)
    try:
        await runtime.drain()
    finally:
        await runtime.stop()

    with tenant_context(tenant_id):
        async with db.transaction() as session:
            [entry] = (await session.scalars(select(TimelineEntry))).all()
    assert entry.customer_id == customer_id
    assert (entry.event, entry.ref_type, entry.ref_id) == ("tests.order_placed", "order", order_id)
    assert entry.actor_id == actor_id
    assert entry.event_id == event_id
    assert entry.occurred_at == id_time(event_id)
    assert entry.data["order_id"] == str(order_id)


async def _deliver(settings: Settings, db: Database, tenant_id: uuid.UUID, *events: DomainEvent) -> None:
    """Record each event and run its handlers before the next one."""
    registry = JobRegistry()
    registry.add_handlers([*HANDLERS, *timeline_handlers([MERGED, TimelineEvent(OrderPlaced, ref="order")])])
    runtime = JobRuntime(settings, db, registry, MemoryMailer())
    await runtime.start(worker=True, relay=False, scheduler=False)
    try:
        for event in events:
            with tenant_context(tenant_id):
                async with db.transaction() as session:
                    await record_event(session, event)
            await runtime.drain()
    finally:
        await runtime.stop()


@pytest.mark.anyio
async def test_an_event_about_a_merged_customer_handled_after_the_merge_lands_on_the_survivor(
    settings: Settings, db: Database
) -> None:
    tenant_id = await new_tenant(db)
    first, second, third = new_id(), new_id(), new_id()
    await _deliver(
        settings,
        db,
        tenant_id,
        CustomerMerged(survivor_id=second, merged_id=first, moved_contact_ids=[]),
        CustomerMerged(survivor_id=third, merged_id=second, moved_contact_ids=[]),
        OrderPlaced(order_id=new_id(), customer_id=first, actor_id=new_id()),
    )

    with tenant_context(tenant_id):
        async with db.transaction() as session:
            entries = (await session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))).all()
    assert [(e.event, e.customer_id) for e in entries] == [
        ("customers.merged", third),
        ("customers.merged", third),
        ("tests.order_placed", third),
    ]
