"""The delivery engine: one attempt of one delivery, claimed so that it is never in flight
twice, with its outcome logged and the next attempt scheduled.

An attempt is three steps, each its own short transaction except the HTTP call, which holds
no transaction (on SQLite it would hold the one write lock for the whole call):

1. **claim**: a conditional ``UPDATE`` sets ``locked_until`` (now + the attempt's lease) and
   counts the attempt, only if the delivery is open, due and not locked. Of two workers (a
   duplicated job, a sweeper that woke it while its job was still queued) the second matches
   no row: PostgreSQL re-checks the condition once the first commits, SQLite serialises the
   writes. The attempt is logged as ``sending`` in the same transaction.
2. **send** (:func:`core.webhooks.sender.post`), bounded by ``HUIKE_WEBHOOK_TIMEOUT_MS``,
   shorter than the lease.
3. **record**: the attempt's outcome, and the delivery's new state — ``succeeded``, ``failed``
   with ``next_attempt_at`` from the retry schedule, or ``dead`` — conditional on the claim
   still being current (same series and attempt number), and the wake-up moved on.

A worker that dies between 1 and 3 leaves ``locked_until`` to expire; the wake-up, set past
the lease, brings the delivery back, and the next claim marks the lost attempt
``interrupted``. So a delivery is sent at least once, and each endpoint's deliveries are
separate jobs: one endpoint failing or hanging never holds back another's.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import current_tenant_id
from core.kernel.upsert import insert_for
from core.webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookWakeup,
)
from core.webhooks.retry import retry_delay
from core.webhooks.sender import AttemptResult, delivery_headers, post

__all__ = ["attempt_delivery", "lease", "set_wakeup"]

log = logging.getLogger("huike.webhooks")

#: How much longer than the attempt's deadline a claim lasts before another worker may take it.
LEASE_MARGIN = timedelta(seconds=60)


def lease(settings: Settings) -> timedelta:
    return timedelta(milliseconds=settings.webhook_timeout_ms) + LEASE_MARGIN


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: uuid.UUID
    attempt_id: uuid.UUID
    series: int
    number: int
    url: str
    body: bytes
    event_name: str
    secrets: tuple[str, ...]


async def set_wakeup(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID, due_at: datetime
) -> None:
    """Make the sweeper look at the delivery again at ``due_at``."""
    await session.execute(
        insert_for(session, WebhookWakeup)
        .values(tenant_ref=tenant_id, delivery_id=delivery_id, due_at=due_at)
        .on_conflict_do_update(index_elements=["tenant_ref", "delivery_id"], set_={"due_at": due_at})
    )


async def _drop_wakeup(session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    await session.execute(
        delete(WebhookWakeup).where(
            WebhookWakeup.tenant_ref == tenant_id, WebhookWakeup.delivery_id == delivery_id
        )
    )


async def attempt_delivery(db: Database, settings: Settings, delivery_id: uuid.UUID) -> str | None:
    """Make one attempt of the delivery (of the tenant in context) if it is due and nobody is
    making one; returns the attempt's outcome, or None when no attempt was made."""
    tenant_id = current_tenant_id()
    claim = await _claim(db, settings, tenant_id, delivery_id)
    if claim is None:
        return None
    result = await post(
        claim.url,
        claim.body,
        delivery_headers(claim.event_name, claim.delivery_id, claim.secrets, claim.body),
        timeout_seconds=settings.webhook_timeout_ms / 1000,
        allow_private=settings.webhook_allow_private_urls,
    )
    return await _record(db, settings, tenant_id, claim, result)


async def _claim(
    db: Database, settings: Settings, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> _Claim | None:
    now = utcnow()
    async with db.transaction() as session:
        won = (
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status.in_(DeliveryStatus.OPEN),
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
                )
                .values(attempts=WebhookDelivery.attempts + 1, locked_until=now + lease(settings))
                .returning(WebhookDelivery.attempts, WebhookDelivery.series)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if won is None:
            await _forget_if_finished(session, tenant_id, delivery_id)
            return None
        number, series = won
        # The delivery and its endpoint in one statement (the endpoint can be gone: outer join).
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .outerjoin(
                    WebhookEndpoint,
                    and_(
                        WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
                        WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                    ),
                )
                .where(WebhookDelivery.id == delivery_id)
            )
        ).one_or_none()
        if row is None:  # the UPDATE above just matched it
            return None
        delivery, endpoint = row
        if endpoint is None or not endpoint.enabled:
            delivery.status = DeliveryStatus.DEAD
            delivery.attempts = number - 1
            delivery.locked_until = None
            delivery.next_attempt_at = None
            delivery.last_error = "The endpoint is disabled; replay the delivery once it is enabled again."
            await _drop_wakeup(session, tenant_id, delivery_id)
            return None
        # An attempt before this one may have died in flight; the very first one has no predecessor.
        if number > 1 or series > 0:
            await _interrupt_sending(session, delivery_id, now)
        attempt = WebhookAttempt(delivery_id=delivery_id, series=series, number=number, started_at=now)
        session.add(attempt)
        await session.flush()
        await set_wakeup(session, tenant_id, delivery_id, now + lease(settings))
        secrets = [endpoint.secret]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires is not None and expires > now:
            secrets.append(endpoint.previous_secret)
        return _Claim(
            delivery_id=delivery_id,
            attempt_id=attempt.id,
            series=series,
            number=number,
            url=endpoint.url,
            body=str(delivery.body).encode(),
            event_name=delivery.event_name,
            secrets=tuple(str(s) for s in secrets),
        )


async def _interrupt_sending(session: AsyncSession, delivery_id: uuid.UUID, now: datetime) -> None:
    """Log the attempts left ``sending`` by a worker that stopped as ``interrupted``."""
    await session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id, WebhookAttempt.outcome == AttemptOutcome.SENDING)
        .values(
            outcome=AttemptOutcome.INTERRUPTED,
            finished_at=now,
            error="The worker stopped during this attempt.",
        )
        .execution_options(synchronize_session=False)
    )


async def _forget_if_finished(session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """A wake-up of a delivery that is gone (its endpoint was deleted) or finished is dropped."""
    status = await session.scalar(select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id))
    if status is None or status in DeliveryStatus.FINISHED:
        await _drop_wakeup(session, tenant_id, delivery_id)


async def _record(
    db: Database, settings: Settings, tenant_id: uuid.UUID, claim: _Claim, result: AttemptResult
) -> str:
    now = utcnow()
    outcome = AttemptOutcome.SUCCEEDED if result.ok else AttemptOutcome.FAILED
    delay = None if result.ok else retry_delay(settings, claim.number)
    if result.ok:
        status, next_at = DeliveryStatus.SUCCEEDED, None
    elif delay is None:
        status, next_at = DeliveryStatus.DEAD, None
    else:
        status, next_at = DeliveryStatus.FAILED, now + delay
    async with db.transaction() as session:
        await session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.id == claim.attempt_id)
            .values(
                outcome=outcome,
                status_code=result.status_code,
                response_excerpt=result.response_excerpt,
                error=result.error,
                duration_ms=result.duration_ms,
                finished_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        current = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.delivery_id,
                WebhookDelivery.series == claim.series,
                WebhookDelivery.attempts == claim.number,
            )
            .values(
                status=status,
                next_attempt_at=next_at,
                locked_until=None,
                last_status_code=result.status_code,
                last_response=result.response_excerpt,
                last_error=result.error,
                last_duration_ms=result.duration_ms,
                updated_at=now,
                **({"delivered_at": now} if result.ok else {}),
            )
            .execution_options(synchronize_session=False)
        )
        if current.rowcount == 1:  # type: ignore[attr-defined]
            if next_at is None:
                await _drop_wakeup(session, tenant_id, claim.delivery_id)
            else:
                await set_wakeup(session, tenant_id, claim.delivery_id, next_at)
    if status == DeliveryStatus.DEAD:
        log.warning(
            "webhook delivery dead",
            extra={"delivery_id": str(claim.delivery_id), "attempts": claim.number, "error": result.error},
        )
    return outcome
