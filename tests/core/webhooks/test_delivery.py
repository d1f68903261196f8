"""Deliveries as a receiver sees them: signed, retried, dead-lettered, replayed, isolated."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select, update

from core.events.models import OutboxMessage
from core.jobs.runtime import JobRuntime
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Conflict
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks import service, signing
from core.webhooks.jobs import wake_due_deliveries
from core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookWakeup
from core.webhooks.schemas import DeliveryDetail
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import RuntimeFactory, add_endpoint, emit, sweep
from tests.http_server import HTTPServer, Reply

pytestmark = pytest.mark.anyio


async def _detail(db: Database, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryDetail:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            return await service.get_delivery(session, delivery_id)


async def test_a_delivery_arrives_signed_with_the_documented_headers(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    endpoint = await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    event_id, [delivery_id] = await emit(db, shop.tenant_id, "customers.created", {"customer_id": "c-1"})

    await runtime.drain()

    [request] = receiver.requests_to("/hook")
    assert request.method == "POST"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Huike-Event") == "customers.created"
    assert request.header("Huike-Delivery") == str(delivery_id)
    assert (request.header("User-Agent") or "").startswith("Huike-Webhooks/")
    signature = request.header("Huike-Signature") or ""
    assert signing.verify(endpoint.secret, signature, request.body)
    assert not signing.verify(endpoint.secret, signature, request.body + b" ")
    body = msgspec.json.decode(request.body)
    assert body["id"] == str(event_id)
    assert body["event"] == "customers.created"
    assert body["tenant_id"] == str(shop.tenant_id)
    assert body["data"] == {"customer_id": "c-1"}
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert (detail.status, detail.attempts, detail.last_status_code) == ("succeeded", 1, 200)
    assert detail.payload == body
    assert [(a.number, a.outcome, a.status_code) for a in detail.attempt_log] == [(1, "succeeded", 200)]


async def test_a_failing_receiver_is_retried_until_it_answers_2xx(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/hook", [Reply(500, b"boom"), Reply(503, b"busy"), Reply(204, b"")])
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [delivery_id] = await emit(db, shop.tenant_id)

    await runtime.drain()
    after_first = await _detail(db, shop.tenant_id, delivery_id)
    await sweep(runtime, db)

    assert (after_first.status, after_first.last_status_code, after_first.last_response) == (
        "failed",
        500,
        "boom",
    )
    assert after_first.next_attempt_at is not None
    requests = receiver.requests_to("/hook")
    assert [r.header("Huike-Delivery") for r in requests] == [str(delivery_id)] * 3
    assert len({r.body for r in requests}) == 1
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert (detail.status, detail.attempts, detail.next_attempt_at) == ("succeeded", 3, None)
    assert [(a.outcome, a.status_code) for a in detail.attempt_log] == [
        ("failed", 500),
        ("failed", 503),
        ("succeeded", 204),
    ]


async def test_a_receiver_too_slow_to_answer_is_tried_again(
    db: Database, runtimes: RuntimeFactory, receiver: HTTPServer, shop: Shop
) -> None:
    # A timeout with room for a busy machine (a loaded CI box once took over 300 ms to
    # answer the quick second request, which then timed out too), and a far slower reply.
    runtime = runtimes(webhook_timeout_ms=1000)
    await runtime.start(worker=True, relay=False, scheduler=False)
    receiver.script("/slow", [Reply(200, delay=3.0), Reply(200)])
    await add_endpoint(db, runtime.settings, shop.tenant_id, receiver.url("/slow"))
    _, [delivery_id] = await emit(db, shop.tenant_id)

    await runtime.drain()
    await sweep(runtime, db)

    assert len(receiver.requests_to("/slow")) == 2
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert detail.status == "succeeded"
    first, second = detail.attempt_log
    assert (first.outcome, first.status_code) == ("failed", None)
    assert first.error is not None
    assert "timed out" in first.error
    assert (second.outcome, second.status_code) == ("succeeded", 200)


async def test_a_delivery_is_dead_after_the_last_allowed_attempt(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/down", [Reply(500)] * 10)
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/down"))
    _, [delivery_id] = await emit(db, shop.tenant_id)

    await runtime.drain()
    await sweep(runtime, db)

    assert len(receiver.requests_to("/down")) == hook_settings.webhook_max_attempts == 3
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert (detail.status, detail.attempts, detail.next_attempt_at) == ("dead", 3, None)
    assert detail.last_error == "HTTP 500"
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(WebhookWakeup))).all() == []


async def test_a_replay_sends_the_same_delivery_again_as_a_new_series(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/hook", [Reply(500)] * 3)
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [delivery_id] = await emit(db, shop.tenant_id)
    await runtime.drain()
    await sweep(runtime, db)
    assert (await _detail(db, shop.tenant_id, delivery_id)).status == "dead"

    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            replayed = await service.replay_delivery(session, delivery_id)
    await runtime.drain()

    assert (replayed.status, replayed.series, replayed.attempts) == ("pending", 1, 0)
    first, *_, last = receiver.requests_to("/hook")
    assert last.header("Huike-Delivery") == first.header("Huike-Delivery") == str(delivery_id)
    assert last.body == first.body
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert (detail.status, detail.series, detail.attempts) == ("succeeded", 1, 1)
    assert detail.replayed_at is not None
    assert [(a.series, a.number, a.status_code) for a in detail.attempt_log] == [
        (0, 1, 500),
        (0, 2, 500),
        (0, 3, 500),
        (1, 1, 200),
    ]


async def test_a_delivery_not_tried_yet_cannot_be_replayed(
    db: Database, hook_settings: Settings, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [delivery_id] = await emit(db, shop.tenant_id)

    with tenant_context(shop.tenant_id), pytest.raises(Conflict) as refused:
        async with db.transaction() as session:
            await service.replay_delivery(session, delivery_id)

    assert refused.value.code == "delivery_in_progress"


async def test_a_failing_or_hanging_endpoint_does_not_hold_back_another(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/hanging", [Reply(200, delay=1.5)])
    receiver.script("/failing", [Reply(500)] * 3)
    for path in ("/hanging", "/failing", "/healthy"):
        await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url(path))
    _, ids = await emit(db, shop.tenant_id)

    await runtime.drain()

    healthy_answered = next(at for path, at in receiver.answered if path == "/healthy")
    hanging_answered = next(at for path, at in receiver.answered if path == "/hanging")
    assert healthy_answered < hanging_answered
    statuses = {(await _detail(db, shop.tenant_id, i)).status for i in ids}
    assert statuses == {"succeeded", "failed"}
    [healthy] = receiver.requests_to("/healthy")
    assert healthy.header("Huike-Event") == "customers.created"


async def test_a_rolled_back_transaction_sends_nothing(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))

    async def change_my_mind() -> None:
        async with db.transaction() as session:
            await service.enqueue_deliveries(session, "customers.created", uuid.uuid4(), {"x": 1})
            raise RuntimeError("the request failed later")

    with tenant_context(shop.tenant_id), pytest.raises(RuntimeError):
        await change_my_mind()
    await runtime.drain()
    await sweep(runtime, db)

    assert receiver.received == []
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(WebhookWakeup))).all() == []
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            assert (await session.scalars(select(WebhookDelivery))).all() == []


async def test_two_jobs_for_one_delivery_send_it_once(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    receiver.script("/hook", [Reply(200, delay=0.3)])
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [delivery_id] = await emit(db, shop.tenant_id)
    # The sweeper wakes the delivery while its own job is still queued: two jobs, one delivery.
    async with db.transaction() as session:
        await session.execute(update(WebhookWakeup).values(due_at=utcnow() - timedelta(seconds=1)))
    with tenant_context(None):
        async with db.transaction() as session:
            assert await wake_due_deliveries(session, hook_settings) == 1

    await runtime.drain()

    assert len(receiver.requests_to("/hook")) == 1
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert (detail.status, detail.attempts) == ("succeeded", 1)


async def test_an_attempt_lost_with_its_worker_is_logged_and_made_again(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [delivery_id] = await emit(db, shop.tenant_id)
    # A worker claimed the delivery, logged the attempt as sending, and died before answering.
    past = utcnow() - timedelta(minutes=5)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await session.execute(update(WebhookDelivery).values(attempts=1, locked_until=past))
            session.add(WebhookAttempt(delivery_id=delivery_id, series=0, number=1, started_at=past))
    async with db.transaction() as session:
        # Its job is gone with the worker; the lease it set on its wake-up has run out.
        await session.execute(update(OutboxMessage).values(dispatched_at=past))
        await session.execute(update(WebhookWakeup).values(due_at=past))

    await sweep(runtime, db)

    assert len(receiver.requests_to("/hook")) == 1
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert detail.status == "succeeded"
    assert [(a.number, a.outcome) for a in detail.attempt_log] == [(1, "interrupted"), (2, "succeeded")]


async def test_a_disabled_endpoint_gets_nothing_new_and_its_open_deliveries_stop(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    from core.webhooks.schemas import EndpointUpdate

    endpoint = await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [queued] = await emit(db, shop.tenant_id)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await service.update_endpoint(session, hook_settings, endpoint.id, EndpointUpdate(enabled=False))

    _, created_while_disabled = await emit(db, shop.tenant_id)
    await runtime.drain()

    assert created_while_disabled == []
    assert receiver.received == []
    detail = await _detail(db, shop.tenant_id, queued)
    assert (detail.status, detail.attempts) == ("dead", 0)
    assert "disabled" in (detail.last_error or "")


async def test_an_endpoint_receives_only_the_events_it_subscribes_to(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/customers"), ["customers.*"])
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/won"), ["opportunities.won"])
    for name in ("customers.created", "customers.contact_created", "leads.created", "opportunities.won"):
        await emit(db, shop.tenant_id, name)

    await runtime.drain()

    assert sorted(r.header("Huike-Event") or "" for r in receiver.requests_to("/customers")) == [
        "customers.contact_created",
        "customers.created",
    ]
    assert [r.header("Huike-Event") for r in receiver.requests_to("/won")] == ["opportunities.won"]


async def test_one_event_enqueued_twice_is_delivered_once(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    event_id = uuid.uuid4()
    created = []
    for _ in range(2):  # a handler that ran twice for one event
        with tenant_context(shop.tenant_id):
            async with db.transaction() as session:
                created.append(await service.enqueue_deliveries(session, "customers.created", event_id, {}))

    await runtime.drain()

    assert [len(ids) for ids in created] == [1, 0]
    assert len(receiver.received) == 1


async def test_a_rotated_secret_signs_beside_the_new_one_during_its_grace_period(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    from core.webhooks.schemas import SecretRotation

    original = await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))

    async def rotate(grace: int) -> str:
        with tenant_context(shop.tenant_id):
            async with db.transaction() as session:
                rotated = await service.rotate_secret(
                    session, original.id, SecretRotation(grace_seconds=grace)
                )
        return rotated.secret

    async def signature_of_next_delivery() -> tuple[str, bytes]:
        await emit(db, shop.tenant_id)
        await runtime.drain()
        request = receiver.received[-1]
        return request.header("Huike-Signature") or "", request.body

    graceful = await rotate(3600)
    during_grace, body = await signature_of_next_delivery()
    abrupt = await rotate(0)
    after_abrupt, later_body = await signature_of_next_delivery()

    assert during_grace.count("v1=") == 2
    assert signing.verify(graceful, during_grace, body)
    assert signing.verify(original.secret, during_grace, body)
    assert after_abrupt.count("v1=") == 1
    assert signing.verify(abrupt, after_abrupt, later_body)
    assert not signing.verify(graceful, after_abrupt, later_body)


async def test_an_address_refused_at_send_time_is_not_called(
    db: Database, hook_settings: Settings, runtimes: RuntimeFactory, receiver: HTTPServer, shop: Shop
) -> None:
    # Saved while private addresses were allowed (or a name re-pointed at one since).
    await add_endpoint(db, hook_settings, shop.tenant_id, f"http://localhost:{receiver.port}/hook")
    production = runtimes(webhook_allow_private_urls=False)
    await production.start(worker=True, relay=False, scheduler=False)
    _, [delivery_id] = await emit(db, shop.tenant_id)

    await production.drain()

    assert receiver.received == []
    detail = await _detail(db, shop.tenant_id, delivery_id)
    assert detail.status == "failed"
    assert (detail.last_error or "").startswith("refused: localhost resolves to a non-public address")


async def test_the_purge_deletes_finished_deliveries_past_retention(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    from core.jobs.housekeeping import NoPayload
    from core.jobs.service import enqueue
    from core.webhooks.jobs import purge

    receiver.script("/hook", [Reply(500)])
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    _, [failing] = await emit(db, shop.tenant_id)
    await runtime.drain()
    _, [succeeded] = await emit(db, shop.tenant_id)
    await runtime.drain()
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            long_ago = utcnow() - timedelta(days=hook_settings.webhook_retention_days + 1)
            await session.execute(update(WebhookDelivery).values(updated_at=long_ago))

    with tenant_context(None):
        async with db.transaction() as session:
            await enqueue(session, purge, NoPayload())
    await runtime.drain()

    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            left = (await session.scalars(select(WebhookDelivery.id))).all()
            attempts = (await session.scalars(select(WebhookAttempt.delivery_id))).all()
    assert left == [failing]
    assert set(attempts) == {failing}
    assert succeeded not in left


async def test_settings_of_the_schedule_are_checked(settings: Settings) -> None:
    from core.kernel.settings import SettingsError
    from core.webhooks.retry import retry_delay

    broken = dataclasses.replace(settings, webhook_retry_schedule=("10 seconds",))
    with pytest.raises(SettingsError, match="HUIKE_WEBHOOK_RETRY_SCHEDULE"):
        retry_delay(broken, 1)


async def test_a_ping_reaches_the_endpoint_whatever_it_subscribes_to(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    endpoint = await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"), ["orders.*"])
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            ping = await service.ping_endpoint(session, endpoint.id)

    await runtime.drain()

    [request] = receiver.received
    assert request.header("Huike-Event") == service.PING_EVENT == ping.event_name
    assert msgspec.json.decode(request.body)["data"] == {"endpoint_id": str(endpoint.id)}


async def test_deleting_an_endpoint_deletes_its_deliveries_and_sends_nothing_more(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    endpoint = await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    await emit(db, shop.tenant_id)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await service.delete_endpoint(session, endpoint.id, expected_version=endpoint.version)

    await runtime.drain()
    await sweep(runtime, db)

    assert receiver.received == []
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            assert (await session.scalars(select(WebhookDelivery))).all() == []
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(WebhookWakeup))).all() == []
