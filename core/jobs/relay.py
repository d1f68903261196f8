"""The relay: sends committed outbox rows to the broker.

It claims a batch of unsent rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
relays share the work without sending a row twice), sends one broker message per target
(each handler of an event, or the job), and marks the rows sent in the same transaction.
On PostgreSQL a handler gets one message per tenant for the pass's events
(:meth:`core.jobs.runner.JobRunner.run_batch`, up to ``HANDLER_BATCH_SIZE``): a busy relay
finds several events at each pass, and one transaction for them costs far less than one
each. On SQLite (one writer) every event stays a message of its own, so no handler holds
the write lock for a batch's worth of work.
If the broker is down, sending raises, the transaction rolls back and the rows stay for
the next pass: nothing committed is lost. If the process dies after sending but before
committing, the rows are sent again; handlers skip what they already processed.

On SQLite (one embedded process) there is no ``SKIP LOCKED``; run one relay.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.models import OutboxKind, OutboxMessage
from core.jobs.broker import QUEUE
from core.jobs.models import DeadLetter
from core.jobs.registry import JobRegistry
from core.jobs.runner import Envelope, batch_kwargs
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context

__all__ = ["Relay"]

log = logging.getLogger("huike.relay")

#: The most events of one tenant a handler's message carries.
HANDLER_BATCH_SIZE = 25


class Relay:
    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        broker: dramatiq.Broker,
        batch_size: int = 100,
        *,
        batch_handlers: bool | None = None,
    ) -> None:
        """``batch_handlers``: send handlers batches of events (default: on PostgreSQL)."""
        self.db = db
        self.registry = registry
        self.broker = broker
        self.batch_size = batch_size
        self.batch_handlers = db.dialect == "postgresql" if batch_handlers is None else batch_handlers
        # One pass at a time in this process (the background loop and a drain may overlap).
        self._lock = asyncio.Lock()
        #: Outbox rows this relay has sent so far, by any caller (the background loop, a drain).
        self.relayed = 0

    async def run_once(self) -> int:
        """Send one batch; returns how many outbox rows it handled.

        Raises:
            Exception: whatever the broker raised when it could not take a message; the
                batch is then left unsent.
        """
        with tenant_context(None):
            async with self._lock, self.db.transaction() as session:
                query = (
                    select(OutboxMessage)
                    .where(OutboxMessage.dispatched_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                )
                if self.db.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = (await session.scalars(query)).all()
                admitted = await self._audiences(session, rows)
                targets: list[tuple[str, Envelope]] = []
                for row in rows:
                    targets.extend(self._targets(row, session, admitted))
                if rows:
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_([row.id for row in rows]))
                        .values(dispatched_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
                messages = self._messages(targets)
                if messages:
                    await asyncio.to_thread(self._send, messages)
        self.relayed += len(rows)
        return len(rows)

    async def run_until_empty(self) -> int:
        total = 0
        while sent := await self.run_once():
            total += sent
        return total

    def _send(self, messages: list[dramatiq.Message[object]]) -> None:
        for message in messages:
            self.broker.enqueue(message)

    def send_jobs(self, envelopes: list[Envelope]) -> None:
        """Send jobs that need no outbox row (blocking): what a job's transaction asked for
        with :func:`core.jobs.service.enqueue_after_commit`, once it committed."""
        self._send([_message(self.registry.jobs[e.name].actor_name, e.to_kwargs()) for e in envelopes])

    async def _audiences(
        self, session: AsyncSession, rows: Sequence[OutboxMessage]
    ) -> set[tuple[uuid.UUID, str]]:
        """The (tenant, audience) pairs admitted for this batch's events: one query for the
        batch, and none when no handler has an audience."""
        if not self.registry.audience_filters or not any(h.audience for h in self.registry.handlers.values()):
            return set()
        tenants = {row.tenant_ref for row in rows if row.kind == OutboxKind.EVENT and row.tenant_ref}
        return await self.registry.admitted(session, tenants) if tenants else set()

    def _messages(self, targets: list[tuple[str, Envelope]]) -> list[dramatiq.Message[object]]:
        """A message per target, or, batching, per handler and tenant (in the rows' order)."""
        if not self.batch_handlers:
            return [_message(actor, envelope.to_kwargs()) for actor, envelope in targets]
        messages: list[dramatiq.Message[object]] = []
        batches: dict[tuple[str, uuid.UUID | None], list[Envelope]] = {}
        for actor, envelope in targets:
            if not actor.startswith("handler:"):
                messages.append(_message(actor, envelope.to_kwargs()))
                continue
            batches.setdefault((actor, envelope.tenant_id), []).append(envelope)
        for (actor, _), envelopes in batches.items():
            for start in range(0, len(envelopes), HANDLER_BATCH_SIZE):
                chunk = envelopes[start : start + HANDLER_BATCH_SIZE]
                kwargs = chunk[0].to_kwargs() if len(chunk) == 1 else batch_kwargs(chunk)
                messages.append(_message(actor, kwargs))
        return messages

    def _targets(
        self, row: OutboxMessage, session: AsyncSession, admitted: set[tuple[uuid.UUID, str]]
    ) -> list[tuple[str, Envelope]]:
        envelope = Envelope(
            kind=row.kind,
            name=row.name,
            message_id=row.message_id,
            tenant_id=row.tenant_ref,
            payload=row.payload,
            version=row.version,
        )
        if row.kind == OutboxKind.EVENT:
            actors = [
                h.actor_name
                for h in self.registry.handlers_for(row.name)
                if (row.only_handler is None or h.actor_name == row.only_handler)
                and (h.audience is None or (row.tenant_ref, h.audience) in admitted)
            ]
        elif row.name in self.registry.jobs:
            actors = [self.registry.jobs[row.name].actor_name]
        else:
            log.error("outbox names an unknown job", extra={"job": row.name})
            session.add(
                DeadLetter(
                    tenant_ref=row.tenant_ref,
                    kind=row.kind,
                    name=row.name,
                    actor="job:" + row.name,
                    message_id=row.message_id,
                    version=row.version,
                    payload=row.payload,
                    error=f"refused: no job {row.name!r} in this process",
                    attempts=0,
                )
            )
            actors = []
        return [(name, envelope) for name in actors]


def _message(actor_name: str, kwargs: dict[str, Any]) -> dramatiq.Message[object]:
    return dramatiq.Message(queue_name=QUEUE, actor_name=actor_name, args=(), kwargs=kwargs, options={})
