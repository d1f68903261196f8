"""Definitions through the service, as entity modules and the admin API use them: a type
change is refused once records hold values, as the entity's own probe says."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.customfields import service
from core.customfields.entities import CustomFieldEntity, EntityRegistry, values_in_column
from core.customfields.schemas import FieldCreate, FieldUpdate, Label
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Conflict
from core.kernel.idempotency import IdempotencyKey
from core.kernel.tenancy import tenant_context
from tests.core.jobs.conftest import new_tenant

pytestmark = pytest.mark.anyio


async def _always(_: object, __: str) -> bool:
    return True


def _registry(entity: CustomFieldEntity) -> EntityRegistry:
    registry = EntityRegistry()
    registry.register("tests", [entity])
    return registry


async def _number_field(db: Database, registry: EntityRegistry, tenant: uuid.UUID) -> uuid.UUID:
    with tenant_context(tenant):
        async with db.transaction() as session:
            created = await service.create_field(
                session, registry, "deal", FieldCreate(key="size", label=Label(en="Size"), type="number")
            )
    return created.id


async def test_a_type_change_is_refused_when_records_hold_values(db: Database) -> None:
    registry = _registry(CustomFieldEntity("deal", "交易", "Deal", values_exist=_always))
    tenant = await new_tenant(db)
    field_id = await _number_field(db, registry, tenant)

    with tenant_context(tenant), pytest.raises(Conflict) as caught:
        async with db.transaction() as session:
            await service.update_field(session, registry, "deal", field_id, FieldUpdate(type="text"))

    assert caught.value.code == "type_change_refused"
    assert caught.value.errors[0].field == "type"
    with tenant_context(tenant):
        async with db.transaction() as session:
            assert (await service.get_field(session, registry, "deal", field_id)).type == "number"


async def test_a_type_change_is_allowed_while_no_record_can_hold_values(db: Database) -> None:
    registry = _registry(CustomFieldEntity("deal", "交易", "Deal"))
    tenant = await new_tenant(db)
    field_id = await _number_field(db, registry, tenant)

    with tenant_context(tenant):
        async with db.transaction() as session:
            changed = await service.update_field(
                session, registry, "deal", field_id, FieldUpdate(type="text")
            )

    assert (changed.type, changed.version) == ("text", 2)


async def test_the_column_probe_sees_values_of_the_current_tenant_only(db: Database) -> None:
    # Any tenant-owned JSON column serves: the probe is the one entity modules use.
    probe = values_in_column(IdempotencyKey.headers)
    holder, other = await new_tenant(db, "holder"), await new_tenant(db, "other")
    with tenant_context(holder):
        async with db.transaction() as session:
            session.add(
                IdempotencyKey(
                    subject="user:1",
                    key="k",
                    fingerprint="f",
                    headers={"etag": '"1"'},
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )

    with tenant_context(holder):
        async with db.transaction() as session:
            assert await probe(session, "etag") is True
            assert await probe(session, "location") is False
    with tenant_context(other):
        async with db.transaction() as session:
            assert await probe(session, "etag") is False


async def test_entity_modules_read_every_definition_in_form_order(db: Database) -> None:
    registry = _registry(CustomFieldEntity("deal", "交易", "Deal"))
    tenant = await new_tenant(db)
    with tenant_context(tenant):
        async with db.transaction() as session:
            for key in ("b_second", "a_third", "c_first"):
                await service.create_field(
                    session, registry, "deal", FieldCreate(key=key, label=Label(zh=key), type="boolean")
                )
            first = await service.definitions_for(session, "deal")
            await service.update_field(session, registry, "deal", first[2].id, FieldUpdate(position=-1))
            await service.archive_field(session, registry, "deal", first[1].id)
            definitions = await service.definitions_for(session, "deal")

    assert [(d.key, d.archived) for d in definitions] == [
        ("c_first", False),
        ("b_second", False),
        ("a_third", True),
    ]
    assert definitions[0].label == Label(zh="c_first", en="c_first")


def test_an_entity_type_is_registered_once() -> None:
    registry = _registry(CustomFieldEntity("deal", "交易", "Deal"))

    with pytest.raises(ValueError, match="already registered by tests"):
        registry.register("sales", [CustomFieldEntity("deal", "交易", "Deal")])
