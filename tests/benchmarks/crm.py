"""The CRM at scale: 100 tenants, one of them with 1,000,000 customers.

Measures the customer list with a filter and the search by phone, through the whole API
(ASGI in-process: token, scope, query, decryption, masking, JSON) for the big tenant and a
small one, against a baseline measured in the same run: the very SQL the API issued, captured
from the engine and replayed directly through the driver on one connection (asyncpg on
PostgreSQL, with the tenant set for RLS like the API's): the list's own statement, and every
statement of the request in its transactions. ``GET /healthz`` through the same client shows
what the HTTP stack alone costs (no credential, no database).

`make bench-crm` (PostgreSQL: set HUIKE_BENCH_DATABASE_URL and HUIKE_BENCH_MIGRATION_DATABASE_URL;
on SQLite the big tenant defaults to 20,000 customers). HUIKE_BENCH_BIG_TENANT,
HUIKE_BENCH_SMALL_TENANT and HUIKE_BENCH_TENANTS change the sizes; HUIKE_BENCH_ROUNDS the
rounds (default 500). Seeding writes rows through COPY with the tenant's real keys (the
ciphertext and blind indexes the app would write), not through the API: seeding is not what is
measured, and a million audited inserts would take an hour.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, insert

from core.crypto.codec import Place, blind_index, encrypt
from core.crypto.keyring import KeyPair, open_database, session_keys
from core.customers.models import Customer
from core.kernel.database import Database
from core.kernel.heap import freeze_startup_objects
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.app import create_app

PG_URL = os.environ.get("HUIKE_BENCH_DATABASE_URL", "")
ON_PG = bool(PG_URL)
BIG = int(os.environ.get("HUIKE_BENCH_BIG_TENANT", "1000000" if ON_PG else "20000"))
SMALL = int(os.environ.get("HUIKE_BENCH_SMALL_TENANT", "1000"))
TENANTS = int(os.environ.get("HUIKE_BENCH_TENANTS", "100"))
ROUNDS = int(os.environ.get("HUIKE_BENCH_ROUNDS", "500"))
CHUNK = 20000
LEVELS = ("A", "B", "C")
COLUMNS = (
    "tenant_id",
    "id",
    "kind",
    "name",
    "level",
    "source",
    "industry",
    "stage",
    "tags",
    "owner_id",
    "team_id",
    "phone",
    "phone_bidx",
    "email",
    "email_bidx",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
)


@dataclass
class Figures:
    p50: float
    p99: float
    rps: float

    def line(self, label: str) -> str:
        latency = f"p50 {self.p50 * 1e3:7.2f} ms   p99 {self.p99 * 1e3:7.2f} ms"
        return f"  {label:<52} {latency}   {self.rps:8.1f} req/s"


async def _measure(rounds: int, work: Callable[[], Awaitable[object]]) -> Figures:
    for _ in range(min(30, rounds)):
        await work()
    samples = []
    started = time.perf_counter()
    for _ in range(rounds):
        began = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - began)
    total = time.perf_counter() - started
    ordered = sorted(samples)
    return Figures(statistics.median(samples), ordered[max(0, int(len(ordered) * 0.99) - 1)], rounds / total)


def _phone(tenant_index: int, i: int) -> str:
    return f"+861{3 + tenant_index % 6}{i:09d}"


def _rows(
    tenant_id: uuid.UUID,
    owner_id: uuid.UUID,
    version: int,
    pair: KeyPair,
    start: int,
    count: int,
    tenant_index: int,
) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    for i in range(start, start + count):
        row_id = new_id()
        phone, email = _phone(tenant_index, i), f"customer{i}@example.com"
        yield (
            tenant_id,
            row_id,
            "company",
            f"Company {i:07d}",
            LEVELS[i % 3],
            "expo" if i % 2 else "web",
            "Retail",
            "prospect",
            "[]",
            owner_id,
            None,
            encrypt(pair.data, version, phone, Place(tenant_id, "customers", "phone", row_id)),
            blind_index(pair.index, "customers", "phone", phone),
            encrypt(pair.data, version, email, Place(tenant_id, "customers", "email", row_id)),
            blind_index(pair.index, "customers", "email", email),
            "{}",
            now - timedelta(seconds=i),
            now,
            1,
        )


async def _seed_customers(
    settings: Settings, db: Database, tenant_id: uuid.UUID, owner_id: uuid.UUID, count: int, tenant_index: int
) -> None:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            version, pair = await session.run_sync(
                lambda s: session_keys(s, s.connection(), tenant_id).for_writing()
            )
    if ON_PG:
        import asyncpg

        conn = await asyncpg.connect(settings.owner_database_url.replace("+asyncpg", ""))
        try:
            for start in range(0, count, CHUNK):
                records = list(
                    _rows(tenant_id, owner_id, version, pair, start, min(CHUNK, count - start), tenant_index)
                )
                await conn.copy_records_to_table("customers", records=records, columns=COLUMNS)
            await conn.execute("ANALYZE customers")
        finally:
            await conn.close()
        return
    owner = Database(settings.owner_database_url)
    try:
        async with owner.engine.begin() as conn:
            for start in range(0, count, CHUNK):
                rows = [
                    {**dict(zip(COLUMNS, r, strict=True)), "tags": [], "custom_fields": {}}
                    for r in _rows(
                        tenant_id, owner_id, version, pair, start, min(CHUNK, count - start), tenant_index
                    )
                ]
                await conn.execute(insert(Customer.__table__), rows)
    finally:
        await owner.dispose()


class _Captured:
    """What the API's engine sent: the last customer-list statement, and every statement of one
    request grouped by transaction (while ``recording``), to replay them through the driver."""

    def __init__(self, db: Database) -> None:
        self.statement = ""
        self.parameters: Any = ()
        self.recording = False
        self.transactions: list[list[tuple[str, tuple[Any, ...]]]] = []
        event.listen(db.engine.sync_engine, "begin", self._began)
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _began(self, conn: Any) -> None:
        if self.recording:
            self.transactions.append([])

    def _seen(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if "FROM customers" in statement and "ORDER BY" in statement:
            self.statement, self.parameters = statement, parameters
        if self.recording and self.transactions:
            self.transactions[-1].append((statement, tuple(parameters)))


async def _baseline(settings: Settings, tenant_id: uuid.UUID, captured: _Captured) -> Figures:
    statement, parameters = captured.statement, tuple(captured.parameters)
    if ON_PG:
        import asyncpg

        conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            await conn.execute("SELECT set_config('app.tenant_id', $1, false)", str(tenant_id))

            async def raw() -> object:
                return await conn.fetch(statement, *parameters)

            return await _measure(ROUNDS, raw)
        finally:
            await conn.close()
    import aiosqlite

    async with aiosqlite.connect(settings.database_url.split("///", 1)[1]) as conn:

        async def raw_sqlite() -> object:
            async with conn.execute(statement, parameters) as cursor:
                return await cursor.fetchall()

        return await _measure(ROUNDS, raw_sqlite)


async def _whole_request_baseline(settings: Settings, captured: _Captured) -> Figures | None:
    """Every statement of one API request (authentication, keys, the query), in its
    transactions, through the driver: the database's share of a request (PostgreSQL only)."""
    if not ON_PG:
        return None
    import asyncpg

    transactions = [list(t) for t in captured.transactions if t]
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:

        async def raw() -> object:
            for statements in transactions:
                async with conn.transaction():
                    for statement, parameters in statements:
                        await conn.fetch(statement, *parameters)
            return None

        return await _measure(ROUNDS, raw)
    finally:
        await conn.close()


async def _compare(
    label: str,
    settings: Settings,
    client: httpx.AsyncClient,
    captured: _Captured,
    tenant_id: uuid.UUID,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    first = await client.get("/api/v1/customers", headers=headers, params=params)
    assert first.status_code == 200, first.text
    assert first.json()["items"], f"{label}: the query found nothing"

    async def api() -> object:
        return await client.get("/api/v1/customers", headers=headers, params=params)

    through_api = await _measure(ROUNDS, api)
    captured.transactions, captured.recording = [], True
    await client.get("/api/v1/customers", headers=headers, params=params)  # capture this very request
    captured.recording = False
    bare = await _baseline(settings, tenant_id, captured)
    whole = await _whole_request_baseline(settings, captured)
    print(through_api.line(f"{label}: API"))
    print(bare.line(f"{label}: same SQL through the driver"))
    print(f"  {label}: API throughput / bare query throughput = {through_api.rps / bare.rps:.2f}")
    if whole is not None:
        count = sum(len(t) for t in captured.transactions)
        print(whole.line(f"{label}: the request's {count} statements, driver"))
        print(f"  {label}: API throughput / whole-request SQL throughput = {through_api.rps / whole.rps:.2f}")


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url=PG_URL or f"sqlite+aiosqlite:///{data_dir}/bench.db",
            migration_database_url=os.environ.get("HUIKE_BENCH_MIGRATION_DATABASE_URL", ""),
            data_dir=data_dir,
            secret_key="benchmark-secret-key-of-enough-length",
            log_level="WARNING",
            log_json=False,
            mail_backend="memory",
            background_jobs=False,
            rate_limit_enabled=False,
        )
        await asyncio.to_thread(upgrade, settings)
        sizes = f"{TENANTS} tenants, the big one with {BIG:,} customers, the others {SMALL:,}"
        print(f"database: {settings.database_url.split('://')[0]}; {sizes}; {ROUNDS} rounds\n")
        app = create_app(settings)
        db: Database = app.state.services.db
        captured = _Captured(db)
        seeder = open_database(settings)
        # In the same event loop as the app (no test-client thread between them).
        transport = httpx.ASGITransport(app=app)
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            tenants = []
            seeded = time.perf_counter()
            for index in range(TENANTS):
                signup = await client.post(
                    "/api/v1/signup",
                    json={
                        "company_name": f"Bench {index}",
                        "owner_name": "B",
                        "email": f"bench{index}-{new_id().hex[:6]}@example.com",
                        "password": "benchmark password",
                    },
                )
                assert signup.status_code == 201, signup.text
                headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
                me = (await client.get("/api/v1/me", headers=headers)).json()
                tenant_id, owner_id = uuid.UUID(signup.json()["tenant_id"]), uuid.UUID(me["user_id"])
                await _seed_customers(
                    settings, seeder, tenant_id, owner_id, BIG if index == 0 else SMALL, index
                )
                tenants.append((tenant_id, headers))
            print(f"seeded in {time.perf_counter() - seeded:.0f} s\n")
            freeze_startup_objects()  # as `huike serve` does before it serves
            floor = await _measure(ROUNDS, lambda: client.get("/healthz"))
            print(floor.line("GET /healthz (the in-process HTTP stack alone)") + "\n")
            for name, (tenant_id, headers), size in (("big", tenants[0], BIG), ("small", tenants[1], SMALL)):
                print(f"{name} tenant ({size:,} customers)")
                await _compare(
                    "list level=A",
                    settings,
                    client,
                    captured,
                    tenant_id,
                    headers,
                    {"level": "A", "limit": "50"},
                )
                await _compare(
                    "search by phone",
                    settings,
                    client,
                    captured,
                    tenant_id,
                    headers,
                    {"phone": _phone(0 if name == "big" else 1, size // 2)},
                )
                print()
        await seeder.dispose()


if __name__ == "__main__":
    asyncio.run(main())
