"""Benchmarks: `make bench` (or `python -m tests.benchmarks`).

Each figure is a ratio to a baseline measured in the same run, on the same machine, so the
numbers compare across machines. Set HUIKE_BENCH_DATABASE_URL (application role) and
HUIKE_BENCH_MIGRATION_DATABASE_URL (owner) to measure on PostgreSQL; the default is SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from litestar.testing import AsyncTestClient
from sqlalchemy import Uuid, bindparam, select, text

from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.models import Team
from frontend_api.app import create_app

ROUNDS = int(os.environ.get("HUIKE_BENCH_ROUNDS", "2000"))


async def _timed(label: str, rounds: int, work: Callable[[], Awaitable[object]]) -> float:
    for _ in range(min(50, rounds)):
        await work()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    median = statistics.median(samples)
    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    print(f"  {label:<44} p50 {median * 1e6:9.1f} µs   p99 {p99 * 1e6:9.1f} µs")
    return median


async def bench_tenant_filter(db: Database) -> None:
    """The ORM wall's cost: a filtered ORM query against the same SQL through the driver."""
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Bench", slug=f"bench-{tenant_id.hex[:8]}"))
            await session.flush()
            session.add_all(Team(name=f"team {i}") for i in range(100))
    print("ORM tenant filter (one indexed lookup in a 100-row tenant)")
    raw_sql = text(
        "SELECT tenant_id, id, name, manager_membership_id, created_at FROM teams "
        "WHERE tenant_id = :t AND name = :n"
    ).bindparams(bindparam("t", type_=Uuid()))
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(tenant_id)})

        async def raw() -> object:
            return (await conn.execute(raw_sql, {"t": tenant_id, "n": "team 42"})).all()

        baseline = await _timed("baseline: same SQL, Core, one connection", ROUNDS, raw)
    with tenant_context(tenant_id):
        async with db.transaction() as session:

            async def orm() -> object:
                return (await session.scalars(select(Team).where(Team.name == "team 42"))).all()

            filtered = await _timed("ORM with the tenant filter", ROUNDS, orm)
    print(f"  ratio ORM/baseline: {filtered / baseline:.2f}x\n")


async def bench_authenticated_request(settings: Settings) -> None:
    """The cost of authenticating and authorizing a request: GET /api/v1/me vs /healthz."""
    print("HTTP request through the ASGI app (no network)")
    async with AsyncTestClient(create_app(settings)) as client:
        email = f"bench-{new_id().hex[:8]}@example.com"
        signup = await client.post(
            "/api/v1/signup",
            json={
                "company_name": "Bench",
                "owner_name": "B",
                "email": email,
                "password": "benchmark password",
            },
        )
        headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        rounds = max(ROUNDS // 4, 50)

        async def health() -> object:
            return await client.get("/healthz")

        async def me() -> object:
            return await client.get("/api/v1/me", headers=headers)

        baseline = await _timed("baseline: GET /healthz (public)", rounds, health)
        authed = await _timed("GET /api/v1/me (token, membership, roles)", rounds, me)
    print(f"  ratio /me over /healthz: {authed / baseline:.2f}x\n")


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    url = os.environ.get("HUIKE_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url=url or f"sqlite+aiosqlite:///{data_dir}/bench.db",
            migration_database_url=os.environ.get("HUIKE_BENCH_MIGRATION_DATABASE_URL", ""),
            data_dir=data_dir,
            secret_key="benchmark-secret-key-of-enough-length",
            log_level="WARNING",
            log_json=False,
            mail_backend="memory",
            background_jobs=False,
            # Counted (so their cost is in the figures) but never reached by the rounds.
            rate_limit_per_credential="1000000/minute",
            rate_limit_per_tenant="1000000/minute",
            rate_limit_per_ip="1000000/minute",
        )
        await asyncio.to_thread(upgrade, settings)
        print(f"database: {settings.database_url.split('://')[0]}, rounds: {ROUNDS}\n")
        db = Database(settings.database_url)
        try:
            await bench_tenant_filter(db)
        finally:
            await db.dispose()
        await bench_authenticated_request(settings)


if __name__ == "__main__":
    asyncio.run(main())
