"""The dramatiq broker, built from settings, and the actors declared on it.

dramatiq's ``@dramatiq.actor`` binds to a global broker at import time. Huike does not use
it: jobs and handlers are plain definitions (:mod:`core.jobs.registry`), and
:func:`declare_actors` creates a ``dramatiq.Actor`` for each of them on the broker that
:func:`build_broker` just built. So there is no global broker, and a test or a process can
hold several.

* ``HUIKE_REDIS_URL`` set: a ``RedisBroker`` (production; ``huike worker`` consumes it).
* empty: a ``StubBroker``, dramatiq's in-memory broker, consumed by a real dramatiq
  ``Worker`` inside the same process (the embedded default). Messages that were sent but
  not yet run are lost if that process stops; the outbox rows they came from are already
  marked sent, so this mode is for one process that is allowed to lose in-flight work.

dramatiq's ``TimeLimit`` middleware is left out: it interrupts the worker thread, not the
coroutine that thread waits for on the event loop, so it would retry a job still running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
)

from core.jobs.registry import JobRegistry
from core.kernel.settings import Settings

__all__ = ["QUEUE", "build_broker", "declare_actors"]

#: The one queue every Huike actor uses.
QUEUE = "huike"


def build_broker(settings: Settings, redis_url: str | None = None) -> dramatiq.Broker:
    """A new broker for ``settings`` (``redis_url`` overrides ``HUIKE_REDIS_URL``)."""
    url = settings.redis_url if redis_url is None else redis_url
    middleware: list[Middleware] = [
        AgeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=settings.job_max_retries,
            min_backoff=settings.job_min_backoff_ms,
            max_backoff=settings.job_max_backoff_ms,
        ),
        CurrentMessage(),
    ]
    broker: dramatiq.Broker
    if url:
        broker = RedisBroker(url=url, namespace="huike", middleware=middleware)  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker(middleware=middleware)
        # Dead letters are kept in our own table; the stub's list must not fail a join.
        broker.fail_fast_default = False
    broker.declare_queue(QUEUE)
    return broker


def declare_actors(
    broker: dramatiq.Broker, registry: JobRegistry, invoke: Callable[[str, dict[str, Any]], None]
) -> dict[str, dramatiq.Actor[..., Any]]:
    """Declare one actor per job and per handler; each calls ``invoke(actor_name, kwargs)``."""
    names = [j.actor_name for j in registry.jobs.values()]
    names += [h.actor_name for h in registry.handlers.values()]
    actors: dict[str, dramatiq.Actor[..., Any]] = {}
    for name in names:
        actors[name] = dramatiq.Actor(
            _bind(invoke, name), broker=broker, actor_name=name, queue_name=QUEUE, priority=0, options={}
        )
    return actors


def _bind(invoke: Callable[[str, dict[str, Any]], None], name: str) -> Callable[..., None]:
    def run(**kwargs: Any) -> None:
        invoke(name, kwargs)

    run.__name__ = name.replace(":", "_").replace(".", "_")
    return run
