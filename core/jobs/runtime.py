"""The job runtime of one process: broker, actors, dramatiq worker, relay and scheduler.

Which parts run where:

* ``huike serve`` / ``huike demo`` with no ``HUIKE_REDIS_URL``: everything, in the web
  process (an in-process dramatiq ``Worker`` on a ``StubBroker``), started by the app's
  lifespan.
* ``huike serve`` with Redis: the relay and the scheduler only (``HUIKE_WEB_RELAY``);
  ``huike worker`` processes run the dramatiq workers (and, by default, relay and schedule
  too); ``huike relay`` runs the relay and the scheduler alone. Every one of them may run
  in several processes at once.

Jobs are ``async``; dramatiq's worker threads run them on this runtime's event loop (the
web server's in the embedded case), with the same database engine, and wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from core.jobs.broker import QUEUE, build_broker, declare_actors
from core.jobs.registry import JobRegistry
from core.jobs.relay import Relay
from core.jobs.runner import JobRunner, envelopes_from_kwargs
from core.jobs.scheduler import Scheduler
from core.jobs.wakeup import RelayWakeup
from core.kernel.database import Database
from core.kernel.http_clients import close_http_clients
from core.kernel.settings import Settings
from core.mail import Mailer
from core.sms import NoTextMessenger, TextMessenger

__all__ = ["JobRuntime", "every"]

log = logging.getLogger("huike.jobs")

#: How often the scheduler looks for due periodic jobs (their schedules are in minutes).
SCHEDULER_INTERVAL_SECONDS = 10.0
#: The longest an idle dramatiq consumer sleeps between two looks at the broker (it backs
#: off up to this from a few milliseconds): the wait of a message that reaches an idle
#: worker. An idle consumer then asks Redis about 20 times a second.
WORKER_IDLE_POLL_MS = 50
#: How long stopping waits for the relay and the scheduler to finish their current step.
STOP_GRACE_SECONDS = 10.0


class JobRuntime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: JobRegistry,
        mailer: Mailer,
        *,
        texter: TextMessenger | None = None,
        broker: dramatiq.Broker | None = None,
    ) -> None:
        """``texter`` defaults to the core's :class:`core.sms.NoTextMessenger` (nothing is
        texted); the application passes the tenant's SMS providers."""
        self.settings = settings
        self.broker = broker or build_broker(settings)
        self.relay = Relay(db, registry, self.broker, settings.relay_batch_size)
        self.runner = JobRunner(
            settings, db, registry, mailer, texter or NoTextMessenger(), send_jobs=self.relay.send_jobs
        )
        self.wakeup = RelayWakeup(db)
        self.scheduler = Scheduler(db, registry, holder=f"{socket.gethostname()}:{os.getpid()}:{id(self)}")
        self.actors = declare_actors(self.broker, registry, self._invoke)
        self.worker: dramatiq.Worker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    @property
    def embedded(self) -> bool:
        return not self.settings.redis_url

    async def start(self, *, worker: bool, relay: bool, scheduler: bool) -> None:
        """Start the chosen parts on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if worker:
            self.worker = dramatiq.Worker(
                self.broker, worker_threads=self.settings.worker_threads, worker_timeout=WORKER_IDLE_POLL_MS
            )
            self.worker.start()
        interval = self.settings.relay_interval_ms / 1000
        if relay:
            await self.wakeup.start()
            # Batching, a stream of events is gathered into fewer passes, each a batch per handler.
            gap = self.settings.relay_gather_ms / 1000 if self.relay.batch_handlers else 0.0
            self._tasks.append(
                asyncio.create_task(
                    every(
                        interval, self.relay.run_until_empty, self._stopping, wakeup=self.wakeup, min_gap=gap
                    )
                )
            )
        if scheduler:
            self._tasks.append(
                asyncio.create_task(every(SCHEDULER_INTERVAL_SECONDS, self.scheduler.tick, self._stopping))
            )

    async def stop(self) -> None:
        # Let the relay and the scheduler finish the step they are in: cancelling one inside its
        # transaction would leave that connection (on SQLite, the write lock) to the garbage
        # collector, and every job still running would wait for the lock until it timed out.
        self._stopping.set()
        _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS) if self._tasks else ((), ())
        for task in late:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.wakeup.stop()
        if self.worker is not None:
            # Worker threads may be waiting on this loop: stop them from another thread.
            await asyncio.to_thread(self.worker.stop)
            self.worker = None
        await asyncio.to_thread(self.broker.close)
        await close_http_clients()

    async def drain(self) -> None:
        """Relay everything committed and wait until the worker has run it all, retries
        included (tests, and ``huike worker --burst``)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        while True:
            # The background relay (woken by every commit) may send rows while this waits: a
            # round is the last only if nobody relayed anything during it.
            before = self.relay.relayed
            await self.relay.run_until_empty()
            await asyncio.to_thread(self._join)
            await self.relay.run_once()
            if self.relay.relayed == before:
                return

    def _join(self) -> None:
        self.broker.join(QUEUE)
        if self.worker is not None:
            self.worker.join()

    def _invoke(self, actor_name: str, kwargs: dict[str, Any]) -> None:
        """Called by a dramatiq worker thread: run the job on the runtime's loop and wait."""
        if self._loop is None:
            raise RuntimeError("the job runtime was not started")
        message = CurrentMessage.get_current_message()
        attempt = int(message.options.get("retries", 0)) + 1 if message is not None else 1
        work = self.runner.run_batch(actor_name, envelopes_from_kwargs(kwargs), attempt)
        asyncio.run_coroutine_threadsafe(work, self._loop).result()


async def every(
    seconds: float,
    step: Callable[[], Awaitable[object]],
    stopping: asyncio.Event,
    *,
    wakeup: RelayWakeup | None = None,
    min_gap: float = 0.0,
) -> None:
    """Run ``step`` every ``seconds`` (or sooner when ``wakeup`` says so, but no sooner than
    ``min_gap`` after the last step began) until ``stopping`` is set; a step in progress
    finishes."""
    while not stopping.is_set():
        began = time.monotonic()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Broker or database down: keep trying; the outbox keeps what was committed.
            log.warning("background step failed; retrying", exc_info=True)
        if wakeup is not None:
            await wakeup.wait(seconds, stopping)
            rest = began + min_gap - time.monotonic()
            if rest > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), rest)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
