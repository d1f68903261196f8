"""The customer use cases inside one transaction: events ride the commit, a failure leaves
nothing behind, and masking keeps just enough to recognise a value."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.customers import service
from core.customers.masking import mask_address, mask_email, mask_id_number, mask_phone
from core.customers.models import Contact, Customer
from core.customers.permissions import PERMISSIONS
from core.customers.schemas import ContactCreate, CustomerCreate, MergeRequest
from core.events.models import OutboxMessage
from core.kernel.database import Database
from core.kernel.errors import Conflict
from core.kernel.tenancy import tenant_context
from core.security.principal import Principal
from tests.core.crypto.factories import Shop, new_shop

pytestmark = pytest.mark.anyio


def _boss(shop: Shop) -> Principal:
    return Principal(
        kind="user",
        tenant_id=shop.tenant_id,
        grants={p.name: "all" for p in PERMISSIONS},
        user_id=shop.owner_id,
    )


async def _outbox(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(OutboxMessage.name).order_by(OutboxMessage.id))).scalars())


async def test_events_are_recorded_with_the_commit(db: Database) -> None:
    shop = await new_shop(db)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await service.create_customer(
                session,
                _boss(shop),
                CustomerCreate(kind="company", name="Globex", contacts=[ContactCreate(name="Ann")]),
            )
    assert await _outbox(db) == ["customers.created", "customers.contact_created"]


async def test_a_rolled_back_transaction_leaves_no_customer_and_no_event(db: Database) -> None:
    shop = await new_shop(db)

    async def failing_request() -> None:
        async with db.transaction() as session:
            await service.create_customer(session, _boss(shop), CustomerCreate(kind="company", name="Globex"))
            raise RuntimeError("the request failed later")

    with tenant_context(shop.tenant_id), pytest.raises(RuntimeError):
        await failing_request()
    assert await _outbox(db) == []
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Customer))).scalar_one() == 0


async def test_a_refused_merge_changes_nothing(db: Database) -> None:
    shop = await new_shop(db)
    boss = _boss(shop)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            a = await service.create_customer(session, boss, CustomerCreate(kind="company", name="A"))
            b = await service.create_customer(
                session, boss, CustomerCreate(kind="company", name="B", contacts=[ContactCreate(name="Bob")])
            )
        before = await _outbox(db)

        async def merge_then_fail() -> None:
            async with db.transaction() as session:
                await service.merge_customers(session, boss, a.id, MergeRequest(other_id=b.id), links=())
                # A later step of the same request fails: the merge must not half-land.
                await service.create_customer(session, boss, CustomerCreate(kind="company", name="a"))

        with pytest.raises(Conflict):
            await merge_then_fail()
        async with db.transaction() as session:
            names = sorted((await session.scalars(select(Customer.name))).all())
            bob = (await session.scalars(select(Contact))).one()
    assert names == ["A", "B"]
    assert bob.customer_id == b.id
    assert await _outbox(db) == before


@pytest.mark.parametrize(
    ("masker", "value", "masked"),
    [
        (mask_phone, "+8613812345678", "+86 138****5678"),
        (mask_phone, "+14155550123", "+1 415****0123"),
        (mask_phone, None, None),
        (mask_email, "alice@example.com", "a***@example.com"),
        (mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****"),
        (mask_id_number, "110101199003071234", "110***********1234"),
        (mask_id_number, "A123", "****"),
    ],
)
def test_masking_keeps_just_enough_to_recognise_a_value(
    masker: object, value: str | None, masked: str | None
) -> None:
    assert masker(value) == masked  # type: ignore[operator]
