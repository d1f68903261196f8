"""Running one delivered message: in its tenant's context, once per message id, with dead
letters for what keeps failing.

The message's effect and the ``processed_messages`` row commit in one transaction, so a
redelivered message (the relay crashed after sending, or Redis redelivered an unacked one)
is skipped, and of two copies running at once only one commits. A failure rolls both back
and raises, so the broker retries with backoff; the last allowed attempt writes a dead
letter instead.

A handler's message may carry a batch of one tenant's events (:func:`batch_kwargs`, sent by
the relay on PostgreSQL): they run in one transaction. Events nearly always succeed, so the
batch first runs without savepoints; if an event fails, that transaction is rolled back and
the batch runs again with each event in a savepoint of its own, so the failing event rolls
back only its own effect (it is not run again in that attempt; the others are, so their
effects outside the database may happen twice, as any handler's may). The batch is retried
while some of its events fail; a retry runs only those, since the others are recorded as
processed, and the last attempt dead-letters each of them on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
from sqlalchemy import Insert, Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.context import ActorType, audit_context
from core.events.models import OutboxKind
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.registry import Handler, Job, JobRegistry
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.kernel.upsert import dialect_insert, insert_for
from core.mail import Mailer
from core.sms import NoTextMessenger, TextMessenger

__all__ = [
    "AfterCommit",
    "BatchFailed",
    "Envelope",
    "JobRunner",
    "Refused",
    "after_commit_of",
    "batch_kwargs",
    "envelopes_from_kwargs",
    "merged",
]

log = logging.getLogger("huike.jobs")


class Refused(Exception):
    """The message can never run (no tenant for a tenant job, unknown target): it goes to
    the dead letters at once, without retries."""


class _Duplicate(Exception):
    """Raised inside the transaction to roll back a duplicate's work."""


class _EventFailed(Exception):
    """An event of a batch run without savepoints failed: the batch's transaction rolls back."""

    def __init__(self, envelope: Envelope, error: str) -> None:
        super().__init__(error)
        self.envelope = envelope
        self.error = error


class BatchFailed(Exception):
    """Some events of a batch failed (their effects rolled back, the others' committed): the
    broker retries the batch, which then runs only the failed ones."""


class Envelope(msgspec.Struct, frozen=True):
    """What a broker message carries (as its keyword arguments)."""

    kind: str
    name: str
    message_id: uuid.UUID
    tenant_id: uuid.UUID | None
    payload: dict[str, Any]
    version: int = 1

    def to_kwargs(self) -> dict[str, Any]:
        return {"envelope": msgspec.to_builtins(self)}

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Envelope:
        return msgspec.convert(kwargs["envelope"], cls)


def batch_kwargs(envelopes: list[Envelope]) -> dict[str, Any]:
    """What a broker message carries for a batch of events (see :meth:`JobRunner.run_batch`)."""
    return {"envelopes": msgspec.to_builtins(envelopes)}


def envelopes_from_kwargs(kwargs: dict[str, Any]) -> list[Envelope]:
    """The envelopes of a message: a batch's, or the one of a single message."""
    if "envelopes" in kwargs:
        return msgspec.convert(kwargs["envelopes"], list[Envelope])
    return [Envelope.from_kwargs(kwargs)]


#: ``session.info`` key of the :class:`AfterCommit` of a job's transaction.
_AFTER_COMMIT = "huike.jobs.after_commit"


@dataclass
class AfterCommit:
    """The jobs a job's transaction asked for with :func:`core.jobs.service.enqueue_after_commit`:
    the runner sends them to the broker once that transaction has committed; a rollback
    drops them with it."""

    #: The jobs this process's broker can take (others go through the outbox).
    known: Collection[str]
    envelopes: list[Envelope] = field(default_factory=list)


def after_commit_of(session: AsyncSession) -> AfterCommit | None:
    """What ``session``'s commit will send, when it is a job's transaction in a process that
    sends jobs itself; else None."""
    collected = session.info.get(_AFTER_COMMIT)
    return collected if isinstance(collected, AfterCommit) else None


def merged(jobs: Mapping[str, Job[Any]], envelopes: list[Envelope]) -> list[Envelope]:
    """``envelopes`` grouped by job and tenant, each group of a job that declares ``merge``
    combined into fewer. The merged envelopes keep the ids of the group's first envelopes."""
    groups: dict[tuple[str, uuid.UUID | None], list[Envelope]] = {}
    for envelope in envelopes:
        groups.setdefault((envelope.name, envelope.tenant_id), []).append(envelope)
    result: list[Envelope] = []
    for (name, _), group in groups.items():
        job = jobs.get(name)
        if job is None or job.merge is None or len(group) == 1:
            result.extend(group)
            continue
        payloads = job.merge([msgspec.convert(e.payload, job.payload_type) for e in group])
        if len(payloads) > len(group):
            raise ValueError(f"merging {len(group)} {name!r} jobs gave {len(payloads)}")
        result.extend(
            msgspec.structs.replace(e, payload=msgspec.to_builtins(p))
            for e, p in zip(group, payloads, strict=False)
        )
    return result


@dataclass
class JobRunner:
    settings: Settings
    db: Database
    registry: JobRegistry
    mailer: Mailer
    texter: TextMessenger = field(default_factory=NoTextMessenger)
    #: Sends jobs to the broker (blocking; run in a thread): with it, what a job enqueues with
    #: :func:`core.jobs.service.enqueue_after_commit` is sent as soon as the job commits.
    send_jobs: Callable[[list[Envelope]], None] | None = None

    async def run(self, actor_name: str, envelope: Envelope, attempt: int) -> None:
        """Run the message for ``actor_name``. Raises on a failure that should be retried."""
        last_attempt = attempt > self.settings.job_max_retries
        target: Job[Any] | Handler[Any] | None = None
        try:
            target, argument = self._resolve(actor_name, envelope)
            # What a job changes is audited as the job's doing (``system``, ``job:<name>``).
            with (
                tenant_context(envelope.tenant_id),
                audit_context(ActorType.SYSTEM, actor_name, request_id=str(envelope.message_id)),
            ):
                if isinstance(target, Job) and target.idempotent:
                    await self._run_unrecorded(target, argument, envelope, attempt)
                else:
                    await self._run_once(actor_name, target, argument, envelope, attempt)
        except _Duplicate:
            # Already processed (or a concurrent copy committed first): this copy's work is
            # rolled back with its transaction.
            log.info("duplicate message skipped", extra={"actor": actor_name})
        except Refused as exc:
            await self._dead_letter(actor_name, envelope, f"refused: {exc}", attempt)
        except Exception as exc:
            log.warning(
                "job failed",
                exc_info=True,
                extra={"actor": actor_name, "attempt": attempt, "message_id": str(envelope.message_id)},
            )
            if not last_attempt:
                raise
            error = f"{type(exc).__name__}: {exc}"
            await self._dead_letter(actor_name, envelope, error, attempt)
            if isinstance(target, Handler) and target.on_dead_letter and envelope.tenant_id:
                with tenant_context(envelope.tenant_id):
                    await target.on_dead_letter(self.db, envelope.tenant_id, error)

    async def run_batch(self, actor_name: str, envelopes: list[Envelope], attempt: int) -> None:
        """Run a handler's batch of events (one message). Raises :class:`BatchFailed` while some
        of them fail and attempts are left; each event is recorded, retried and dead-lettered
        on its own, as if it had come alone."""
        if len(envelopes) == 1:
            await self.run(actor_name, envelopes[0], attempt)
            return
        try:
            handler = self._handler(actor_name)
        except Refused as exc:
            for envelope in envelopes:
                await self._dead_letter(actor_name, envelope, f"refused: {exc}", attempt)
            return
        by_tenant: dict[uuid.UUID, list[tuple[Envelope, Any]]] = {}
        for envelope in envelopes:
            try:
                event = self._event(handler, envelope)
            except Refused as exc:
                await self._dead_letter(actor_name, envelope, f"refused: {exc}", attempt)
                continue
            by_tenant.setdefault(cast("uuid.UUID", envelope.tenant_id), []).append((envelope, event))
        failed: list[tuple[Envelope, str]] = []
        for tenant_id, events in by_tenant.items():
            failed += await self._run_many(actor_name, handler, tenant_id, events, attempt)
        if not failed:
            return
        if attempt <= self.settings.job_max_retries:
            raise BatchFailed(f"{len(failed)} of {len(envelopes)} events failed; first: {failed[0][1]}")
        for envelope, error in failed:
            await self._dead_letter(actor_name, envelope, error, attempt)
            if handler.on_dead_letter and envelope.tenant_id:
                with tenant_context(envelope.tenant_id):
                    await handler.on_dead_letter(self.db, envelope.tenant_id, error)

    async def _run_many(
        self,
        actor_name: str,
        handler: Handler[Any],
        tenant_id: uuid.UUID,
        events: list[tuple[Envelope, Any]],
        attempt: int,
    ) -> list[tuple[Envelope, str]]:
        """One tenant's events in one transaction, first without savepoints (two statements
        fewer per event); when one fails, again with a savepoint for each. Returns the events
        that failed, with their errors; their claims are given back."""
        try:
            return await self._run_together(actor_name, handler, tenant_id, events, attempt)
        except _EventFailed as failure:
            log.info(
                "an event of a batch failed: its other events run again, each in a savepoint",
                extra={"actor": actor_name, "message_id": str(failure.envelope.message_id)},
            )
            return await self._run_together(
                actor_name, handler, tenant_id, events, attempt, failed_before=failure
            )

    async def _run_together(
        self,
        actor_name: str,
        handler: Handler[Any],
        tenant_id: uuid.UUID,
        events: list[tuple[Envelope, Any]],
        attempt: int,
        *,
        failed_before: _EventFailed | None = None,
    ) -> list[tuple[Envelope, str]]:
        """The events in one transaction. The processed rows are claimed first, in one
        statement (a concurrent copy waits for this one, then finds them taken), so the
        transaction is open before the first savepoint on SQLite too.

        Without ``failed_before`` an event that fails raises :class:`_EventFailed`, rolling
        everything back. With it (the event that failed so) each event runs in a savepoint,
        one that fails rolls back alone, and the one that failed before is not run again."""
        isolated = failed_before is not None
        failed: list[tuple[Envelope, str]] = []
        after_commit: AfterCommit | None = None
        with tenant_context(tenant_id):
            async with self.db.transaction() as session:
                if self.send_jobs is not None:
                    after_commit = AfterCommit(known=self.registry.jobs)
                    session.info[_AFTER_COMMIT] = after_commit
                claimed = await self._claim_many(session, actor_name, tenant_id, [e for e, _ in events])
                for envelope, event in events:
                    if envelope.message_id not in claimed:
                        continue  # processed before
                    if failed_before is not None and envelope is failed_before.envelope:
                        failed.append((envelope, failed_before.error))
                        continue
                    sent_before = len(after_commit.envelopes) if after_commit is not None else 0
                    try:
                        await self._run_event(
                            session, handler, actor_name, envelope, event, attempt, isolated=isolated
                        )
                    except Exception as exc:
                        log.warning(
                            "job failed",
                            exc_info=True,
                            extra={
                                "actor": actor_name,
                                "attempt": attempt,
                                "message_id": str(envelope.message_id),
                            },
                        )
                        error = f"{type(exc).__name__}: {exc}"
                        if not isolated:
                            raise _EventFailed(envelope, error) from exc
                        if after_commit is not None:
                            del after_commit.envelopes[sent_before:]
                        failed.append((envelope, error))
                if failed:
                    await session.execute(
                        delete(ProcessedMessage).where(
                            ProcessedMessage.handler == actor_name,
                            ProcessedMessage.message_id.in_([e.message_id for e, _ in failed]),
                        )
                    )
        if after_commit is not None and after_commit.envelopes:
            await self._send_after_commit(after_commit.envelopes)
        return failed

    async def _run_event(
        self,
        session: AsyncSession,
        handler: Handler[Any],
        actor_name: str,
        envelope: Envelope,
        event: Any,
        attempt: int,
        *,
        isolated: bool,
    ) -> None:
        """One event of a batch, its changes flushed under its own audit context (the next
        event's would otherwise carry them); in a savepoint when ``isolated``."""
        with audit_context(ActorType.SYSTEM, actor_name, request_id=str(envelope.message_id)):
            async with session.begin_nested() if isolated else contextlib.nullcontext():
                await handler.fn(self._context(session, envelope, attempt), event)
                if not isolated:
                    await session.flush()

    async def _run_once(
        self,
        actor_name: str,
        target: Job[Any] | Handler[Any],
        argument: Any,
        envelope: Envelope,
        attempt: int,
    ) -> None:
        """In one transaction with the record that the message was processed (``_Duplicate``
        when it already was)."""
        after_commit: AfterCommit | None = None
        async with self.db.transaction() as session:
            if self.send_jobs is not None:
                after_commit = AfterCommit(known=self.registry.jobs)
                session.info[_AFTER_COMMIT] = after_commit
            if await self._processed(session, actor_name, envelope):
                raise _Duplicate
            await target.fn(self._context(session, envelope, attempt), argument)
            if not await self._claim(session, actor_name, envelope):
                raise _Duplicate
        if after_commit is not None and after_commit.envelopes:
            await self._send_after_commit(after_commit.envelopes)

    async def _run_unrecorded(
        self, target: Job[Any], argument: Any, envelope: Envelope, attempt: int
    ) -> None:
        """An idempotent job: no record of the message, and a session that begins a transaction
        only if the job uses it (committed when the job returns)."""
        async with self.db.sessions() as session:
            await target.fn(self._context(session, envelope, attempt), argument)
            if session.in_transaction():
                await session.commit()

    def _context(self, session: AsyncSession, envelope: Envelope, attempt: int) -> JobContext:
        return JobContext(
            session=session,
            db=self.db,
            settings=self.settings,
            mailer=self.mailer,
            texter=self.texter,
            tenant_id=envelope.tenant_id,
            message_id=envelope.message_id,
            attempt=attempt,
        )

    async def _send_after_commit(self, envelopes: list[Envelope]) -> None:
        """The job committed: a failure here must not run it again. What is not sent is
        brought back by its own state (see :func:`core.jobs.service.enqueue_after_commit`).
        Jobs that declare ``merge`` go as fewer messages (:func:`merged`)."""
        if self.send_jobs is None:
            return
        try:
            envelopes = merged(self.registry.jobs, envelopes)
            await asyncio.to_thread(self.send_jobs, envelopes)
        except Exception:
            log.warning(
                "jobs to send after commit were not sent", exc_info=True, extra={"jobs": len(envelopes)}
            )

    def _resolve(self, actor_name: str, envelope: Envelope) -> tuple[Job[Any] | Handler[Any], Any]:
        kind, _, name = actor_name.partition(":")
        if kind == "handler" and envelope.kind == OutboxKind.EVENT:
            handler = self._handler(actor_name)
            return handler, self._event(handler, envelope)
        job = self.registry.jobs.get(name) if kind == "job" else None
        if job is None:
            raise Refused(f"no job {name!r} in this process")
        if envelope.tenant_id is None and not job.platform:
            raise Refused(f"job {name!r} is not a platform job and came without a tenant")
        if job.platform and envelope.tenant_id is not None:
            raise Refused(f"platform job {name!r} came with a tenant")
        try:
            return job, msgspec.convert(envelope.payload, job.payload_type)
        except msgspec.ValidationError as exc:
            raise Refused(f"invalid payload for job {name!r}: {exc}") from exc

    def _handler(self, actor_name: str) -> Handler[Any]:
        name = actor_name.removeprefix("handler:")
        handler = self.registry.handlers.get(name)
        if handler is None:
            raise Refused(f"no handler {name!r} in this process")
        return handler

    def _event(self, handler: Handler[Any], envelope: Envelope) -> Any:
        if envelope.tenant_id is None:
            raise Refused(f"event {envelope.name!r} carries no tenant")
        try:
            return handler.event_type.decode(envelope.version, envelope.payload)
        except (msgspec.ValidationError, ValueError) as exc:
            raise Refused(f"undecodable {envelope.name!r} payload: {exc}") from exc

    async def _processed(self, session: AsyncSession, actor_name: str, envelope: Envelope) -> bool:
        key = (actor_name, envelope.message_id)
        return await session.get(ProcessedMessage, key) is not None

    async def _claim(self, session: AsyncSession, actor_name: str, envelope: Envelope) -> bool:
        """Insert the processed row last, so the transaction writes nothing before the job
        does. A concurrent copy's insert waits for the first to commit (PostgreSQL) or for
        the write lock (SQLite), then inserts nothing and rolls its work back."""
        claim = (
            insert_for(session, ProcessedMessage)
            .values(handler=actor_name, message_id=envelope.message_id, tenant_ref=envelope.tenant_id)
            .on_conflict_do_nothing(index_elements=["handler", "message_id"])
            .returning(ProcessedMessage.message_id)
        )
        return (await session.execute(claim)).scalar_one_or_none() is not None

    async def _claim_many(
        self, session: AsyncSession, actor_name: str, tenant_id: uuid.UUID, envelopes: list[Envelope]
    ) -> set[uuid.UUID]:
        """The message ids of ``envelopes`` not processed before, now claimed; in id order,
        so two overlapping batches wait for each other instead of deadlocking."""
        ids = sorted({e.message_id for e in envelopes})
        connection = await session.connection()
        rows = [{"handler": actor_name, "message_id": i, "tenant_ref": tenant_id} for i in ids]
        # One statement built once, its rows sent as one multi-row INSERT (insertmanyvalues).
        return set((await connection.execute(_claim_statement(connection.dialect.name), rows)).scalars())

    async def _dead_letter(self, actor_name: str, envelope: Envelope, error: str, attempts: int) -> None:
        log.error(
            "message dead-lettered", extra={"actor": actor_name, "message_id": str(envelope.message_id)}
        )
        with tenant_context(None):
            async with self.db.transaction() as session:
                session.add(
                    DeadLetter(
                        tenant_ref=envelope.tenant_id,
                        kind=envelope.kind,
                        name=envelope.name,
                        actor=actor_name,
                        message_id=envelope.message_id,
                        version=envelope.version,
                        payload=envelope.payload,
                        error=error[:4000],
                        attempts=attempts,
                    )
                )


@functools.cache
def _claim_statement(dialect: str) -> Insert:
    processed = cast(Table, ProcessedMessage.__table__)
    return (
        dialect_insert(dialect, processed)
        .on_conflict_do_nothing(index_elements=["handler", "message_id"])
        .returning(processed.c.message_id)
    )
