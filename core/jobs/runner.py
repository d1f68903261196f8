"""Running one delivered message: in its tenant's context, once per message id, with dead
letters for what keeps failing.

The message's effect and the ``processed_messages`` row commit in one transaction, so a
redelivered message (the relay crashed after sending, or Redis redelivered an unacked one)
is skipped, and of two copies running at once only one commits. A failure rolls both back
and raises, so the broker retries with backoff; the last allowed attempt writes a dead
letter instead.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.context import ActorType, audit_context
from core.events.models import OutboxKind
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.registry import Handler, Job, JobRegistry
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.kernel.upsert import insert_for
from core.mail import Mailer
from core.sms import NoTextMessenger, TextMessenger

__all__ = ["AfterCommit", "Envelope", "JobRunner", "Refused", "after_commit_of"]

log = logging.getLogger("huike.jobs")


class Refused(Exception):
    """The message can never run (no tenant for a tenant job, unknown target): it goes to
    the dead letters at once, without retries."""


class _Duplicate(Exception):
    """Raised inside the transaction to roll back a duplicate's work."""


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
        brought back by its own state (see :func:`core.jobs.service.enqueue_after_commit`)."""
        if self.send_jobs is None:
            return
        try:
            await asyncio.to_thread(self.send_jobs, envelopes)
        except Exception:
            log.warning(
                "jobs to send after commit were not sent", exc_info=True, extra={"jobs": len(envelopes)}
            )

    def _resolve(self, actor_name: str, envelope: Envelope) -> tuple[Job[Any] | Handler[Any], Any]:
        kind, _, name = actor_name.partition(":")
        if kind == "handler" and envelope.kind == OutboxKind.EVENT:
            handler = self.registry.handlers.get(name)
            if handler is None:
                raise Refused(f"no handler {name!r} in this process")
            if envelope.tenant_id is None:
                raise Refused(f"event {envelope.name!r} carries no tenant")
            try:
                return handler, handler.event_type.decode(envelope.version, envelope.payload)
            except (msgspec.ValidationError, ValueError) as exc:
                raise Refused(f"undecodable {envelope.name!r} payload: {exc}") from exc
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
