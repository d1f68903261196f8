"""Plugin hook dispatch: `make bench-plugins` (or `python -m tests.benchmarks.plugins`).

What a tenant's enabled plugins cost per plugin, for 0, 1 and 10 enabled plugins that do
nothing, as ratios to a baseline measured in the same run:

* event dispatch (the part of an ``on_event`` handler that is ours): resolving the tenant's
  implementations (cached per enabled set), building each ``HookContext`` and calling it,
  against awaiting the same no-op functions directly;
* a check at a checkpoint (``before_customer_create``), including the one query per
  transaction that reads the tenant's enabled plugins, against that query alone.

Target (issue 5): dispatch under 50 µs per plugin. SQLite by default; set
HUIKE_BENCH_DATABASE_URL / HUIKE_BENCH_MIGRATION_DATABASE_URL for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from core.crypto.keyring import open_database
from core.crypto.service import provision_tenant_keys
from core.customers.events import CustomerCreated
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from plugins.dispatch import PluginChecker, TenantDispatch, call
from plugins.manager import PluginHost
from plugins.models import TenantPlugin
from plugins.sdk import HookContext, PluginInfo, hookimpl

ROUNDS = int(os.environ.get("HUIKE_BENCH_ROUNDS", "2000"))
COUNTS = (0, 1, 10)


class Noop:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, title=self.name)

    @hookimpl
    async def on_event(self, ctx: HookContext, event: Any) -> None:
        return None

    @hookimpl
    def before_customer_create(self, ctx: HookContext, customer: Any) -> None:
        return None


async def _median(rounds: int, work: Callable[[], Awaitable[object]]) -> float:
    for _ in range(min(50, rounds)):
        await work()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def _tenant_with(db: Database, count: int) -> uuid.UUID:
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name=f"Bench {count}", slug=f"bench-{tenant_id.hex[-12:]}"))
            await session.flush()
            await provision_tenant_keys(session)
            session.add_all(
                TenantPlugin(name=f"noop{i}", config={}, enabled=True, consecutive_failures=0)
                for i in range(count)
            )
    return tenant_id


async def _dispatch_rounds(dispatch: TenantDispatch, event: CustomerCreated) -> tuple[float, float]:
    """(direct calls, our dispatch) medians for the tenant's enabled plugins."""
    host = dispatch.host
    plain = [impl.function for impl in dispatch.implementations("on_event")]
    context = dispatch.context(next(iter(dispatch.enabled))) if dispatch.enabled else None

    async def direct() -> None:
        for function in plain:
            await function(context, event)

    async def dispatched() -> None:
        for impl in dispatch.implementations("on_event"):
            await call(host, impl, "on_event", dispatch.context(impl.plugin_name), {"event": event})

    return await _median(ROUNDS, direct), await _median(ROUNDS, dispatched)


async def bench_event_dispatch(db: Database, host: PluginHost, tenants: dict[int, uuid.UUID]) -> None:
    print("event dispatch: ours around on_event, per plugin (no-op plugins)")
    event = CustomerCreated(customer_id=new_id(), owner_id=new_id())
    for count in COUNTS:
        with tenant_context(tenants[count]):
            async with db.transaction() as session:
                dispatch = await TenantDispatch.open(host, session, event_id=new_id())
                base, ours = await _dispatch_rounds(dispatch, event)
        per_plugin = (ours - base) / count if count else ours - base
        print(
            f"  {count:>2} enabled   dispatch {ours * 1e6:8.1f} µs   direct calls {base * 1e6:8.1f} µs   "
            f"overhead {per_plugin * 1e6:6.1f} µs{' per plugin' if count else ''}   "
            f"ratio {ours / base if base else float('nan'):5.1f}x"
        )


async def _check_rounds(db: Database, checker: PluginChecker) -> tuple[float, float]:
    async def query_only() -> None:
        async with db.transaction() as session:
            (await session.scalars(select(TenantPlugin))).all()

    async def checked() -> None:
        async with db.transaction() as session:
            await checker(session, "before_customer_create", customer=None)

    return await _median(ROUNDS // 4, query_only), await _median(ROUNDS // 4, checked)


async def bench_check(db: Database, host: PluginHost, tenants: dict[int, uuid.UUID]) -> None:
    print("a checkpoint (before_customer_create) in a fresh transaction, per plugin")
    checker = PluginChecker(host)
    for count in COUNTS:
        with tenant_context(tenants[count]):
            base, ours = await _check_rounds(db, checker)
        per_plugin = (ours - base) / count if count else ours - base
        print(
            f"  {count:>2} enabled   check {ours * 1e6:8.1f} µs   the query alone {base * 1e6:8.1f} µs   "
            f"overhead {per_plugin * 1e6:6.1f} µs{' per plugin' if count else ''}   ratio {ours / base:4.2f}x"
        )


async def main() -> None:
    url = os.environ.get("HUIKE_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url=url or f"sqlite+aiosqlite:///{data_dir}/bench.db",
            migration_database_url=os.environ.get("HUIKE_BENCH_MIGRATION_DATABASE_URL", ""),
            data_dir=data_dir,
            secret_key="benchmark-secret-key-of-enough-length",
            log_level="WARNING",
            log_json=False,
            background_jobs=False,
        )
        await asyncio.to_thread(upgrade, settings)
        host = PluginHost.load([Noop(f"noop{i}") for i in range(max(COUNTS))], entry_points=False)
        db = open_database(settings)
        try:
            tenants = {count: await _tenant_with(db, count) for count in COUNTS}
            print(f"database: {settings.database_url.split('://')[0]}, rounds: {ROUNDS}\n")
            await bench_event_dispatch(db, host, tenants)
            await bench_check(db, host, tenants)
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
