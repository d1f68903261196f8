"""When the relay looks at the outbox again: at once when outbox rows commit, else at its
interval (``HUIKE_RELAY_INTERVAL_MS``).

Two signals wake it, both sent only for a committed transaction:

* in this process, the outbox's commit signal (:data:`core.events.service.OUTBOX_COMMITTED`):
  a handler's job commits its deliveries' jobs, and this process's relay sends them next;
* on PostgreSQL, ``NOTIFY huike_outbox`` from the outbox table's trigger (migration
  ``0020_outbox_notify``), which every relay process ``LISTEN``\\ s to on a connection of its
  own: an event committed by a web process wakes the relays of the workers.

Neither is needed for correctness: the interval still polls, so a lost notification (the
listening connection dropped) only costs latency, and the listener reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from core.events.service import OUTBOX_COMMITTED
from core.kernel.database import Database

__all__ = ["CHANNEL", "RelayWakeup"]

log = logging.getLogger("huike.relay")

#: The channel of the outbox trigger's ``NOTIFY``.
CHANNEL = "huike_outbox"
#: How often an idle listening connection is checked, and the wait before reconnecting one.
KEEPALIVE_SECONDS = 30.0
RECONNECT_SECONDS = 5.0
#: Arguments of SQLAlchemy's asyncpg dialect that ``asyncpg.connect`` does not take.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback")


class RelayWakeup:
    """Waits for the relay's next pass; :meth:`start` and :meth:`stop` on the relay's loop."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._due = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unlisten: Callable[[], None] | None = None
        self._listener: asyncio.Task[None] | None = None
        #: Set while a PostgreSQL ``LISTEN`` is in place (tests wait for it).
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._due = asyncio.Event()
        self.listening = asyncio.Event()
        self._unlisten = self.db.commit_signals.listen(OUTBOX_COMMITTED, self.wake)
        if self.db.dialect == "postgresql":
            self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    def wake(self) -> None:
        """Make the next :meth:`wait` return at once (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                self._due.set()
                return
        except RuntimeError:
            pass  # not on a loop: a worker thread
        loop.call_soon_threadsafe(self._due.set)

    async def wait(self, seconds: float, stopping: asyncio.Event) -> None:
        """Until woken, ``stopping`` is set, or ``seconds`` have passed."""
        if not self._due.is_set():
            waiters = [asyncio.ensure_future(self._due.wait()), asyncio.ensure_future(stopping.wait())]
            try:
                await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        # Cleared before the pass, so a commit during the pass brings the next one at once.
        self._due.clear()

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox listener disconnected; polling until it is back", exc_info=True)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_once(self) -> None:
        """LISTEN on one connection until it is lost (then raise) or the task is cancelled."""
        connection = await self._connect()
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, lambda *_: self.wake())
            self.listening.set()
            self.wake()  # rows committed while nobody listened
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_SECONDS)
                if not lost.is_set():
                    await connection.execute("SELECT 1")
            raise ConnectionError("the listening connection was closed")
        finally:
            self.listening.clear()
            # Also on cancellation: the connection is this task's alone, never pooled.
            connection.terminate()

    async def _connect(self) -> Any:
        engine = self.db.engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        for key in _DIALECT_ONLY:
            kwargs.pop(key, None)
        return await asyncpg.connect(*args, **kwargs)
