"""Several deliveries of one tenant attempted together (one ``webhooks.deliver`` job): one
claim and one record for all, the POSTs side by side, and each delivery's claim still its own."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select, update

from core.events.models import OutboxMessage
from core.events.service import record_job
from core.jobs.runtime import JobRuntime
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks.delivery import attempt_deliveries
from core.webhooks.jobs import MERGE_LIMIT, Deliver, merge_deliveries
from core.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookWakeup
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import add_endpoint, emit
from tests.http_server import HTTPServer, Reply

pytestmark = pytest.mark.anyio


@pytest.fixture
def attempt_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        webhook_allow_private_urls=True,
        webhook_retry_schedule=("0s",),
        webhook_max_attempts=3,
        webhook_timeout_ms=1000,
    )


async def _deliveries_to(
    db: Database, settings: Settings, shop: Shop, receiver: HTTPServer, paths: list[str]
) -> dict[str, uuid.UUID]:
    """One event delivered to an endpoint at each path, by path; their own jobs discarded."""
    by_endpoint = {
        (await add_endpoint(db, settings, shop.tenant_id, receiver.url(path))).id: path for path in paths
    }
    _, ids = await emit(db, shop.tenant_id)
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(dispatched_at=utcnow()))
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.endpoint_id).where(WebhookDelivery.id.in_(ids))
                )
            ).all()
    return {by_endpoint[endpoint_id]: delivery_id for delivery_id, endpoint_id in rows}


async def _delivery(db: Database, shop: Shop, delivery_id: uuid.UUID) -> WebhookDelivery:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            delivery = await session.get(WebhookDelivery, (shop.tenant_id, delivery_id))
    assert delivery is not None
    return delivery


async def _attempts(db: Database, shop: Shop, delivery_id: uuid.UUID) -> list[tuple[int, str]]:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            rows = await session.execute(
                select(WebhookAttempt.number, WebhookAttempt.outcome)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.number)
            )
            return [(number, outcome) for number, outcome in rows.all()]


async def _wakeups(db: Database) -> dict[uuid.UUID, object]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(WebhookWakeup.delivery_id, WebhookWakeup.due_at))
        return {delivery_id: due_at for delivery_id, due_at in rows.all()}


async def test_a_hanging_endpoint_does_not_delay_the_request_to_another_in_the_same_job(
    db: Database, attempt_settings: Settings, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/hanging", [Reply(200, delay=3.0)])
    ids = await _deliveries_to(db, attempt_settings, shop, receiver, ["/hanging", "/fast"])

    with tenant_context(shop.tenant_id):
        outcomes = await attempt_deliveries(db, attempt_settings, [ids["/hanging"], ids["/fast"]])

    [hanging] = receiver.requests_to("/hanging")
    [fast] = receiver.requests_to("/fast")
    # One after the other, the fast request would wait for the hanging one's 1 s deadline.
    assert fast.at - hanging.at < 0.5
    assert outcomes == {ids["/hanging"]: "failed", ids["/fast"]: "succeeded"}
    timed_out = await _delivery(db, shop, ids["/hanging"])
    assert (timed_out.status, timed_out.locked_until) == (DeliveryStatus.FAILED, None)
    assert "timed out" in (timed_out.last_error or "")
    assert (await _delivery(db, shop, ids["/fast"])).status == DeliveryStatus.SUCCEEDED


async def test_deliveries_claimed_elsewhere_or_finished_are_left_out_of_the_attempt(
    db: Database, attempt_settings: Settings, receiver: HTTPServer, shop: Shop
) -> None:
    ids = await _deliveries_to(db, attempt_settings, shop, receiver, ["/open", "/claimed", "/finished"])
    in_flight = utcnow() + timedelta(minutes=1)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            # Another copy of the job claimed this one and is sending it now.
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == ids["/claimed"])
                .values(attempts=1, locked_until=in_flight)
            )
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == ids["/finished"])
                .values(status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
            )

    with tenant_context(shop.tenant_id):
        outcomes = await attempt_deliveries(db, attempt_settings, list(ids.values()))

    assert outcomes == {ids["/open"]: "succeeded"}
    assert [r.path for r in receiver.received] == ["/open"]
    claimed = await _delivery(db, shop, ids["/claimed"])
    assert (claimed.status, claimed.attempts, claimed.locked_until) == (DeliveryStatus.PENDING, 1, in_flight)
    assert await _attempts(db, shop, ids["/claimed"]) == []
    # The claimed delivery's wake-up stays (its claimant moves it); the finished one's is dropped.
    assert set(await _wakeups(db)) == {ids["/claimed"]}


async def test_an_outcome_whose_claim_is_no_longer_current_is_logged_but_does_not_overwrite(
    db: Database, attempt_settings: Settings, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/overtaken", [Reply(200, delay=0.5)])
    ids = await _deliveries_to(db, attempt_settings, shop, receiver, ["/overtaken", "/fine"])
    with tenant_context(shop.tenant_id):
        attempting = asyncio.create_task(
            attempt_deliveries(db, attempt_settings, [ids["/overtaken"], ids["/fine"]])
        )
    deadline = time.monotonic() + 10
    while not receiver.requests_to("/overtaken"):
        assert time.monotonic() < deadline, "the request never arrived"
        await asyncio.sleep(0.01)
    # Meanwhile the claim's lease ran out and another worker claimed the delivery again.
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == ids["/overtaken"])
                .values(attempts=2, locked_until=utcnow() + timedelta(minutes=1))
            )
    wakeups_before = await _wakeups(db)

    outcomes = await attempting

    assert outcomes == {ids["/overtaken"]: "succeeded", ids["/fine"]: "succeeded"}
    overtaken = await _delivery(db, shop, ids["/overtaken"])
    assert (overtaken.status, overtaken.attempts, overtaken.last_status_code) == (
        DeliveryStatus.PENDING,
        2,
        None,
    )
    assert overtaken.locked_until is not None
    assert await _attempts(db, shop, ids["/overtaken"]) == [(1, "succeeded")]
    assert (await _delivery(db, shop, ids["/fine"])).status == DeliveryStatus.SUCCEEDED
    assert await _wakeups(db) == {ids["/overtaken"]: wakeups_before[ids["/overtaken"]]}


async def test_a_job_of_one_delivery_id_as_sent_before_merging_still_runs(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    ids = await _deliveries_to(db, hook_settings, shop, receiver, ["/hook"])
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            record_job(session, "webhooks.deliver", {"delivery_id": str(ids["/hook"])}, shop.tenant_id)

    await runtime.drain()

    assert len(receiver.requests_to("/hook")) == 1
    assert (await _delivery(db, shop, ids["/hook"])).status == DeliveryStatus.SUCCEEDED
    # And a job of one delivery is still sent so, for a worker that predates merging.
    assert msgspec.to_builtins(Deliver(delivery_id=ids["/hook"])) == {"delivery_id": str(ids["/hook"])}


async def test_a_merged_job_attempts_every_delivery_it_names(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    ids = await _deliveries_to(db, hook_settings, shop, receiver, ["/a", "/b", "/c"])
    [merged] = merge_deliveries([Deliver(delivery_id=i) for i in ids.values()])
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            record_job(session, "webhooks.deliver", msgspec.to_builtins(merged), shop.tenant_id)

    await runtime.drain()

    assert sorted(r.path for r in receiver.received) == ["/a", "/b", "/c"]
    for delivery_id in ids.values():
        assert await _attempts(db, shop, delivery_id) == [(1, "succeeded")]


def test_merging_keeps_each_delivery_once_in_order_and_caps_each_job() -> None:
    ids = [uuid.uuid4() for _ in range(MERGE_LIMIT + 3)]
    payloads = [Deliver(delivery_id=ids[0], more=ids[1:3]), *(Deliver(delivery_id=i) for i in ids[2:])]

    merged = merge_deliveries(payloads)

    assert [p.delivery_ids for p in merged] == [ids[:MERGE_LIMIT], ids[MERGE_LIMIT:]]
