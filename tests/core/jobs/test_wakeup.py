"""The relay looks at the outbox as soon as rows commit, not only at its interval: woken in
its own process by the outbox's commit signal, and from other processes by PostgreSQL's
``NOTIFY`` (the outbox table's trigger)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from core.crypto.keyring import open_database
from core.events.service import record_event
from core.jobs import wakeup
from core.jobs.runtime import JobRuntime, every
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from tests.core.jobs.conftest import RuntimeFactory, TeamWanted, new_tenant, team_names

pytestmark = pytest.mark.anyio

#: Far longer than any wait below: only a wake-up can bring the relay in time.
RELAY_INTERVAL_MS = 120_000


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s")
        await asyncio.sleep(0.02)


async def _relaying(runtimes: RuntimeFactory, db: Database) -> JobRuntime:
    """A runtime whose relay made its first passes and now waits for its (long) interval."""
    runtime = runtimes(relay_interval_ms=RELAY_INTERVAL_MS)
    await runtime.start(worker=True, relay=True, scheduler=False)
    if db.dialect == "postgresql":
        await asyncio.wait_for(runtime.wakeup.listening.wait(), 10)
    await asyncio.sleep(0.2)
    return runtime


async def _emit(db: Database, tenant_id: uuid.UUID, label: str) -> None:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            await record_event(session, TeamWanted(label=label))


async def test_a_committed_event_is_relayed_at_once_not_at_the_relays_next_poll(
    db: Database, runtimes: RuntimeFactory
) -> None:
    tenant = await new_tenant(db)
    await _relaying(runtimes, db)

    await _emit(db, tenant, "Right away")

    await _eventually(lambda: _has_team(db, tenant, "Right away"))


@pytest.mark.postgres
async def test_an_event_committed_by_another_process_wakes_the_relay(
    db: Database, runtimes: RuntimeFactory, settings: Settings
) -> None:
    tenant = await new_tenant(db)
    await _relaying(runtimes, db)
    web = open_database(settings)  # its own engine, as a web process has: only NOTIFY reaches the relay
    try:
        await _emit(web, tenant, "From the web")
    finally:
        await web.dispose()

    await _eventually(lambda: _has_team(db, tenant, "From the web"))


@pytest.mark.postgres
async def test_the_relay_listens_again_after_losing_its_connection(
    db: Database,
    runtimes: RuntimeFactory,
    settings: Settings,
    rls_free_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wakeup, "RECONNECT_SECONDS", 0.05)
    tenant = await new_tenant(db)
    runtime = await _relaying(runtimes, db)
    async with rls_free_db.engine.begin() as conn:
        killed = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND query ILIKE '%huike_outbox%'"
                )
            )
        ).scalar_one()
    assert killed == 1
    await asyncio.sleep(0.5)  # the loss is noticed at once; the new LISTEN follows
    await asyncio.wait_for(runtime.wakeup.listening.wait(), 10)
    await asyncio.sleep(0.2)
    web = open_database(settings)
    try:
        await _emit(web, tenant, "After the reconnect")
    finally:
        await web.dispose()

    await _eventually(lambda: _has_team(db, tenant, "After the reconnect"))


async def _has_team(db: Database, tenant: uuid.UUID, name: str) -> bool:
    return name in await team_names(db, tenant)


async def test_a_gathering_relay_passes_at_once_after_a_quiet_spell_then_no_sooner_than_its_gap(
    db: Database,
) -> None:
    """``every(..., min_gap=...)``: what the batching relay does with a stream of wake-ups."""
    passes: list[float] = []

    async def step() -> None:
        passes.append(time.monotonic())

    signal = wakeup.RelayWakeup(db)
    await signal.start()
    stopping = asyncio.Event()
    loop = asyncio.create_task(every(RELAY_INTERVAL_MS / 1000, step, stopping, wakeup=signal, min_gap=0.3))
    try:
        await _eventually(lambda: _async(len(passes) == 1))
        await asyncio.sleep(0.5)  # quiet for longer than the gap
        woken = time.monotonic()
        signal.wake()
        await _eventually(lambda: _async(len(passes) == 2))
        assert passes[1] - woken < 0.2  # at once
        for _ in range(5):  # a stream of wake-ups
            signal.wake()
            await asyncio.sleep(0.05)
        await _eventually(lambda: _async(len(passes) == 3))
        assert passes[2] - passes[1] >= 0.3
    finally:
        stopping.set()
        await loop
        await signal.stop()


async def _async(value: bool) -> bool:
    return value
