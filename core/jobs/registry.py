"""Declaring jobs, event handlers and periodic jobs, and the registry that holds them.

Declaring registers nothing: :func:`job` and :func:`handler` return plain definitions that a
package lists (``JOBS``, ``HANDLERS``, ``PERIODIC`` in its ``jobs.py``) and the composition
root adds to one :class:`JobRegistry`, as it does for permissions. So nothing happens at
import time, and a test builds the registry it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from croniter import croniter

from core.events.schemas import DomainEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from core.jobs.context import JobContext
    from core.kernel.database import Database

#: Which (tenant, audience) pairs among ``tenant_ids`` are admitted, read in the relay's
#: transaction.
AudienceFilter = Callable[["AsyncSession", set[uuid.UUID]], Awaitable[set[tuple[uuid.UUID, str]]]]

__all__ = ["AudienceFilter", "Handler", "Job", "JobRegistry", "Periodic", "handler", "job"]

E = TypeVar("E", bound=DomainEvent)
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Job(Generic[P]):
    """A unit of background work. ``payload_type`` is a msgspec Struct (or ``dict``)."""

    name: str
    fn: Callable[[JobContext, P], Awaitable[None]]
    payload_type: type[P]
    #: A platform job runs with no tenant in context; every other job needs one.
    platform: bool = False
    #: The job makes a repeat of itself harmless on its own (``webhooks.deliver`` claims its
    #: delivery with a conditional UPDATE): the runner keeps no record of its messages and
    #: holds no transaction around it, and its ``ctx.session`` begins one only if used.
    idempotent: bool = False
    #: Combines the payloads of several messages of this job for one tenant into fewer (and
    #: never more): what one job's transaction asked for with
    #: :func:`core.jobs.service.enqueue_after_commit` is merged before it is sent
    #: (``webhooks.deliver`` attempts up to ten deliveries per message). Jobs enqueued through
    #: the outbox stay one message per row.
    merge: Callable[[list[P]], list[P]] | None = None

    @property
    def actor_name(self) -> str:
        return "job:" + self.name


@dataclass(frozen=True, slots=True)
class Handler(Generic[E]):
    """Reacts to one event type, after commit, once per event id (idempotent), in the
    event's tenant."""

    name: str
    event_type: type[E]
    fn: Callable[[JobContext, E], Awaitable[None]]
    #: Set for a handler that only some tenants receive (a plugin's): the relay sends it an
    #: event only when the registry's audience filter admits the event's tenant.
    audience: str | None = None
    #: Called, in a transaction of its own, after one of its events went to the dead letters.
    on_dead_letter: Callable[[Database, uuid.UUID, str], Awaitable[None]] | None = None

    @property
    def actor_name(self) -> str:
        return "handler:" + self.name


def job(
    name: str,
    payload_type: type[P],
    *,
    platform: bool = False,
    idempotent: bool = False,
    merge: Callable[[list[P]], list[P]] | None = None,
) -> Callable[[Callable[[JobContext, P], Awaitable[None]]], Job[P]]:
    """Declare a job::

    @job("mail.send_invitation", SendInvitation)
    async def send_invitation(ctx: JobContext, payload: SendInvitation) -> None: ...
    """

    def declare(fn: Callable[[JobContext, P], Awaitable[None]]) -> Job[P]:
        return Job(
            name=name,
            fn=fn,
            payload_type=payload_type,
            platform=platform,
            idempotent=idempotent,
            merge=merge,
        )

    return declare


def handler(
    event_type: type[E], name: str | None = None
) -> Callable[[Callable[[JobContext, E], Awaitable[None]]], Handler[E]]:
    """Declare a handler of ``event_type``. Its name (default ``module.function``) keys its
    processed events and dead letters, so keep it stable."""

    def declare(fn: Callable[[JobContext, E], Awaitable[None]]) -> Handler[E]:
        return Handler(name=name or f"{fn.__module__}.{fn.__qualname__}", event_type=event_type, fn=fn)

    return declare


@dataclass(frozen=True, slots=True)
class Periodic:
    """Run platform ``job`` on a cron expression (``cron="*/15 * * * *"``, UTC) or at a fixed
    interval (``every=timedelta(hours=1)``)."""

    job: Job[Any]
    cron: str | None = None
    every: timedelta | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValueError(f"{self.job.name}: give exactly one of cron or every")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"{self.job.name}: invalid cron expression {self.cron!r}")
        if not self.job.platform:
            raise ValueError(f"{self.job.name}: periodic jobs are platform jobs")

    @property
    def name(self) -> str:
        return self.job.name

    def next_after(self, moment: datetime) -> datetime:
        if self.every is not None:
            return moment + self.every
        following: datetime = croniter(self.cron, moment).get_next(datetime)
        return following


class JobRegistry:
    """Every job, handler and periodic job of this process."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job[Any]] = {}
        self.handlers: dict[str, Handler[Any]] = {}
        self.periodic: dict[str, Periodic] = {}
        self._by_event: dict[str, list[Handler[Any]]] = {}
        #: Admit the tenants of handlers with an ``audience`` (each filter answers for its
        #: own audiences); an audience no filter admits is sent nothing.
        self.audience_filters: list[AudienceFilter] = []

    def add_jobs(self, jobs: Iterable[Job[Any]]) -> None:
        for item in jobs:
            if item.name in self.jobs:
                raise ValueError(f"job {item.name!r} is declared twice")
            self.jobs[item.name] = item

    def add_handlers(self, handlers: Iterable[Handler[Any]]) -> None:
        for item in handlers:
            if item.name in self.handlers:
                raise ValueError(f"handler {item.name!r} is declared twice")
            self.handlers[item.name] = item
            self._by_event.setdefault(item.event_type.name, []).append(item)

    def add_periodic(self, periodic: Iterable[Periodic]) -> None:
        for item in periodic:
            if item.name in self.periodic:
                raise ValueError(f"periodic job {item.name!r} is declared twice")
            if self.jobs.get(item.name) is not item.job:
                self.add_jobs([item.job])
            self.periodic[item.name] = item

    def add_audience_filter(self, admit: AudienceFilter) -> None:
        self.audience_filters.append(admit)

    async def admitted(self, session: AsyncSession, tenant_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
        """The (tenant, audience) pairs every filter admits among ``tenant_ids``."""
        pairs: set[tuple[uuid.UUID, str]] = set()
        for admit in self.audience_filters:
            pairs |= await admit(session, tenant_ids)
        return pairs

    def handlers_for(self, event_name: str) -> list[Handler[Any]]:
        # Indexed: the relay asks for every outbox row, and plugins add a handler per event.
        return list(self._by_event.get(event_name, ()))
