"""The delivery engine: one attempt of each of a few deliveries of one tenant, each claimed so
that it is never in flight twice, with its outcome logged and its next attempt scheduled.

An attempt is three steps. The claims of a job's deliveries are one short transaction, their
records another; the HTTP calls hold none (on SQLite they would hold the one write lock for
the whole call):

1. **claim**: one conditional ``UPDATE`` sets ``locked_until`` (now + the attempts' lease) and
   counts the attempt of each delivery that is open, due and not locked. Of two workers (a
   duplicated job, a sweeper that woke a delivery while its job was still queued) the second
   matches none of the rows the first claimed: PostgreSQL re-checks the condition once the
   first commits, SQLite serialises the writes. Each worker attempts what it won, nothing
   else. The attempts are logged as ``sending`` and the wake-ups moved past the lease in the
   same transaction.
2. **send** (:func:`core.webhooks.sender.post`): the POSTs side by side, each bounded by
   ``HUIKE_WEBHOOK_TIMEOUT_MS``, shorter than the lease. A slow or hanging endpoint delays
   no other endpoint's request, only the record of the job's outcomes, to that deadline at most.
3. **record**: each attempt's outcome, and its delivery's new state — ``succeeded``,
   ``failed`` with ``next_attempt_at`` from the retry schedule, or ``dead`` — conditional on
   its claim still being current (same series and attempt number), and its wake-up dropped
   or moved on.

A worker that dies between 1 and 3 leaves ``locked_until`` to expire; the wake-up, set past
the lease, brings the delivery back, and the next claim marks the lost attempt
``interrupted``. So a delivery is sent at least once, and one endpoint failing or hanging
never holds back another's deliveries: a failure is its own delivery's outcome, and a hang
ends at the deadline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Insert, Table, and_, bindparam, delete, event, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.settings import Settings
from core.kernel.tenancy import TenantSession, current_tenant_id
from core.kernel.upsert import dialect_insert
from core.webhooks import sender
from core.webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookWakeup,
)
from core.webhooks.retry import retry_delay
from core.webhooks.sender import AttemptResult

__all__ = ["attempt_deliveries", "attempt_delivery", "lease", "set_wakeups", "set_wakeups_at_commit"]

log = logging.getLogger("huike.webhooks")

#: How much longer than the attempt's deadline a claim lasts before another worker may take it.
LEASE_MARGIN = timedelta(seconds=60)
#: ``session.info`` key: the wake-ups :func:`set_wakeups_at_commit` holds, by tenant.
_WAKEUPS_AT_COMMIT = "huike.webhooks.wakeups_at_commit"


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


async def set_wakeups(
    session: AsyncSession, tenant_id: uuid.UUID, due_at: Mapping[uuid.UUID, datetime]
) -> None:
    """Make the sweeper look at each delivery again at its time (one statement)."""
    if not due_at:
        return
    connection = await session.connection()
    await connection.execute(_upsert_wakeup(connection.dialect.name), _wakeup_rows(tenant_id, due_at))


def _wakeup_rows(tenant_id: uuid.UUID, due_at: Mapping[uuid.UUID, datetime]) -> list[dict[str, Any]]:
    return [{"tenant_ref": tenant_id, "delivery_id": d, "due_at": at} for d, at in due_at.items()]


def set_wakeups_at_commit(
    session: AsyncSession, tenant_id: uuid.UUID, due_at: Mapping[uuid.UUID, datetime]
) -> None:
    """:func:`set_wakeups`, written just before the transaction commits, in one statement with
    every other wake-up held so (a batch of events in one transaction: one statement, not one
    per event). A savepoint rolled back keeps its wake-ups: the sweeper drops a wake-up whose
    delivery is not there (:func:`_forget_finished`)."""
    if due_at:
        session.info.setdefault(_WAKEUPS_AT_COMMIT, {}).setdefault(tenant_id, {}).update(due_at)


@event.listens_for(TenantSession, "before_commit")
def _write_held_wakeups(session: Session) -> None:
    # Also called when a savepoint is released (the transaction goes on); savepoints here are
    # context managers, so the transaction's own commit is never called with one open.
    if session.in_nested_transaction():
        return
    held: dict[uuid.UUID, dict[uuid.UUID, datetime]] | None = session.info.pop(_WAKEUPS_AT_COMMIT, None)
    if not held:
        return
    # Called inside AsyncSession.commit's greenlet: a synchronous execute works with the async driver.
    connection = session.connection()
    rows = [row for tenant_id, due_at in held.items() for row in _wakeup_rows(tenant_id, due_at)]
    connection.execute(_upsert_wakeup(connection.dialect.name), rows)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_held_wakeups(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back: nothing to wake
        session.info.pop(_WAKEUPS_AT_COMMIT, None)


# Statements of every delivery, built once: a multi-row ``values([...])`` is compiled anew each
# time (SQLAlchemy cannot cache it), a list of parameters is sent as one multi-row statement.
@functools.cache
def _upsert_wakeup(dialect: str) -> Insert:
    stmt = dialect_insert(dialect, cast(Table, WebhookWakeup.__table__))
    return stmt.on_conflict_do_update(
        index_elements=["tenant_ref", "delivery_id"], set_={"due_at": stmt.excluded.due_at}
    )


_ATTEMPTS = cast(Table, WebhookAttempt.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_INSERT_ATTEMPT = insert(_ATTEMPTS)


def _set(table: Table, *names: str) -> dict[str, Any]:
    """``SET name = :v_name`` for each column (a bound name may not be a column's own)."""
    return {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names}


_RECORD_ATTEMPT = (
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.tenant_id == bindparam("tenant"), _ATTEMPTS.c.id == bindparam("attempt"))
    .values(
        _set(_ATTEMPTS, "outcome", "status_code", "response_excerpt", "error", "duration_ms", "finished_at")
    )
)
#: Only while the claim is current (same series and attempt number): a later claim's record wins.
_RECORD_DELIVERY = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.tenant_id == bindparam("tenant"),
        _DELIVERIES.c.id == bindparam("delivery"),
        _DELIVERIES.c.series == bindparam("claimed_series"),
        _DELIVERIES.c.attempts == bindparam("claimed_number"),
    )
    .values(
        {
            **_set(
                _DELIVERIES,
                "status",
                "next_attempt_at",
                "last_status_code",
                "last_response",
                "last_error",
                "last_duration_ms",
                "updated_at",
            ),
            "locked_until": None,
            "delivered_at": func.coalesce(
                bindparam("v_delivered_at", type_=_DELIVERIES.c.delivered_at.type), _DELIVERIES.c.delivered_at
            ),
        }
    )
)


async def _drop_wakeups(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_ids: Sequence[uuid.UUID]
) -> None:
    if not delivery_ids:
        return
    await session.execute(
        delete(WebhookWakeup).where(
            WebhookWakeup.tenant_ref == tenant_id, WebhookWakeup.delivery_id.in_(delivery_ids)
        )
    )


async def attempt_delivery(db: Database, settings: Settings, delivery_id: uuid.UUID) -> str | None:
    """Make one attempt of the delivery (of the tenant in context) if it is due and nobody is
    making one; returns the attempt's outcome, or None when no attempt was made."""
    return (await attempt_deliveries(db, settings, [delivery_id])).get(delivery_id)


async def attempt_deliveries(
    db: Database, settings: Settings, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Make one attempt of each delivery (of the tenant in context) that is due and that
    nobody is making one of, their POSTs side by side; returns the outcome of each attempt
    made, by delivery id.

    Raises:
        Exception: what a POST raised beyond the failures it reports (a bug); the other
            attempts are recorded first, that one is left to its lease.
    """
    tenant_id = current_tenant_id()
    claims = await _claim(db, settings, tenant_id, list(dict.fromkeys(delivery_ids)))
    if not claims:
        return {}
    # The tenant's pooled client: connections its earlier attempts opened are used again.
    async with sender.tenant_client(tenant_id, settings.webhook_timeout_ms / 1000) as http:
        results = await asyncio.gather(*(_send(settings, c, http) for c in claims), return_exceptions=True)
    done = [(c, r) for c, r in zip(claims, results, strict=True) if isinstance(r, AttemptResult)]
    outcomes = await _record(db, settings, tenant_id, done) if done else {}
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return outcomes


async def _send(settings: Settings, claim: _Claim, http: httpx.AsyncClient) -> AttemptResult:
    return await sender.post(
        claim.url,
        claim.body,
        sender.delivery_headers(claim.event_name, claim.delivery_id, claim.secrets, claim.body),
        timeout_seconds=settings.webhook_timeout_ms / 1000,
        allow_private=settings.webhook_allow_private_urls,
        through=http,
    )


async def _claim(
    db: Database, settings: Settings, tenant_id: uuid.UUID, delivery_ids: Sequence[uuid.UUID]
) -> list[_Claim]:
    now = utcnow()
    locked_until = now + lease(settings)
    async with db.transaction() as session:
        won = {
            delivery_id: (number, series)
            for delivery_id, number, series in (
                await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id.in_(delivery_ids),
                        WebhookDelivery.status.in_(DeliveryStatus.OPEN),
                        WebhookDelivery.next_attempt_at <= now,
                        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
                    )
                    .values(attempts=WebhookDelivery.attempts + 1, locked_until=locked_until)
                    .returning(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.series)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        }
        lost = [i for i in delivery_ids if i not in won]
        if lost:
            await _forget_finished(session, tenant_id, lost)
        if not won:
            return []
        # The deliveries and their endpoints in one statement (an endpoint can be gone: outer join).
        rows = {
            delivery.id: (delivery, endpoint)
            for delivery, endpoint in (
                await session.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .outerjoin(
                        WebhookEndpoint,
                        and_(
                            WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
                            WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                        ),
                    )
                    .where(WebhookDelivery.id.in_(list(won)))
                )
            ).all()
        }
        claims: list[_Claim] = []
        stopped: list[uuid.UUID] = []
        for delivery_id in (i for i in delivery_ids if i in rows):
            delivery, endpoint = rows[delivery_id]
            number, series = won[delivery_id]
            if endpoint is None or not (endpoint.enabled or delivery.final):
                _stop(delivery, number)
                stopped.append(delivery_id)
                continue
            claims.append(
                _Claim(
                    delivery_id=delivery_id,
                    attempt_id=new_id(),
                    series=series,
                    number=number,
                    url=endpoint.url,
                    body=str(delivery.body).encode(),
                    event_name=delivery.event_name,
                    secrets=_signing_secrets(endpoint, now),
                )
            )
        await _drop_wakeups(session, tenant_id, stopped)
        if not claims:
            return []
        # An attempt before one of these may have died in flight; a very first one has no predecessor.
        await _interrupt_sending(
            session, [c.delivery_id for c in claims if c.number > 1 or c.series > 0], now
        )
        await (await session.connection()).execute(
            _INSERT_ATTEMPT,
            [
                {
                    "tenant_id": tenant_id,
                    "id": c.attempt_id,
                    "delivery_id": c.delivery_id,
                    "series": c.series,
                    "number": c.number,
                    "outcome": AttemptOutcome.SENDING,
                    "started_at": now,
                }
                for c in claims
            ],
        )
        await set_wakeups(session, tenant_id, {c.delivery_id: locked_until for c in claims})
        return claims


def _stop(delivery: WebhookDelivery, number: int) -> None:
    """A delivery of a disabled (or deleted) endpoint ends ``dead``, its claim not counted."""
    delivery.status = DeliveryStatus.DEAD
    delivery.attempts = number - 1
    delivery.locked_until = None
    delivery.next_attempt_at = None
    delivery.last_error = "The endpoint is disabled; replay the delivery once it is enabled again."


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)
    return tuple(str(s) for s in secrets)


async def _interrupt_sending(session: AsyncSession, delivery_ids: list[uuid.UUID], now: datetime) -> None:
    """Log the attempts left ``sending`` by a worker that stopped as ``interrupted``."""
    if not delivery_ids:
        return
    await session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids), WebhookAttempt.outcome == AttemptOutcome.SENDING)
        .values(
            outcome=AttemptOutcome.INTERRUPTED,
            finished_at=now,
            error="The worker stopped during this attempt.",
        )
        .execution_options(synchronize_session=False)
    )


async def _forget_finished(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_ids: list[uuid.UUID]
) -> None:
    """Wake-ups of deliveries that are gone (their endpoint was deleted) or finished are dropped."""
    query = select(WebhookDelivery.id, WebhookDelivery.status).where(WebhookDelivery.id.in_(delivery_ids))
    statuses = {delivery_id: status for delivery_id, status in (await session.execute(query)).all()}
    await _drop_wakeups(
        session,
        tenant_id,
        [i for i in delivery_ids if statuses.get(i, DeliveryStatus.DEAD) in DeliveryStatus.FINISHED],
    )


def _next_state(
    settings: Settings, claim: _Claim, result: AttemptResult, now: datetime
) -> tuple[str, str, datetime | None]:
    """The attempt's outcome, the delivery's status and its next attempt's time."""
    if result.ok:
        return AttemptOutcome.SUCCEEDED, DeliveryStatus.SUCCEEDED, None
    delay = retry_delay(settings, claim.number)
    if delay is None:
        return AttemptOutcome.FAILED, DeliveryStatus.DEAD, None
    return AttemptOutcome.FAILED, DeliveryStatus.FAILED, now + delay


async def _record(
    db: Database, settings: Settings, tenant_id: uuid.UUID, done: list[tuple[_Claim, AttemptResult]]
) -> dict[uuid.UUID, str]:
    now = utcnow()
    outcomes: dict[uuid.UUID, str] = {}
    finished: list[uuid.UUID] = []
    retried: dict[uuid.UUID, datetime] = {}
    dead: list[tuple[_Claim, AttemptResult]] = []
    attempts: list[dict[str, object]] = []
    async with db.transaction() as session:
        connection = await session.connection()
        for claim, result in done:
            outcome, status, next_at = _next_state(settings, claim, result, now)
            outcomes[claim.delivery_id] = outcome
            attempts.append(
                {
                    "tenant": tenant_id,
                    "attempt": claim.attempt_id,
                    "v_outcome": outcome,
                    "v_status_code": result.status_code,
                    "v_response_excerpt": result.response_excerpt,
                    "v_error": result.error,
                    "v_duration_ms": result.duration_ms,
                    "v_finished_at": now,
                }
            )
            current = await connection.execute(
                _RECORD_DELIVERY,
                {
                    "tenant": tenant_id,
                    "delivery": claim.delivery_id,
                    "claimed_series": claim.series,
                    "claimed_number": claim.number,
                    "v_status": status,
                    "v_next_attempt_at": next_at,
                    "v_last_status_code": result.status_code,
                    "v_last_response": result.response_excerpt,
                    "v_last_error": result.error,
                    "v_last_duration_ms": result.duration_ms,
                    "v_updated_at": now,
                    "v_delivered_at": now if result.ok else None,
                },
            )
            if current.rowcount == 1:
                if next_at is None:
                    finished.append(claim.delivery_id)
                else:
                    retried[claim.delivery_id] = next_at
            if status == DeliveryStatus.DEAD:
                dead.append((claim, result))
        await connection.execute(_RECORD_ATTEMPT, attempts)
        await _drop_wakeups(session, tenant_id, finished)
        await set_wakeups(session, tenant_id, retried)
    for claim, result in dead:
        log.warning(
            "webhook delivery dead",
            extra={"delivery_id": str(claim.delivery_id), "attempts": claim.number, "error": result.error},
        )
    return outcomes
