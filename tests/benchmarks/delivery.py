"""Event-to-webhook delivery latency: `make bench-delivery` (or
`python -m tests.benchmarks.delivery`).

A business with the ``webhooks`` plugin enabled and one endpoint (a local HTTP receiver)
records ``customers.created`` events at a steady rate; each event travels the real path:
outbox → relay → the plugin's handler (a job) → a delivery and its job → the signed POST.
Latency is from the event's commit to its arrival at the receiver, and the run prints where
it went, stage by stage, from the timestamps the path leaves in the database. The baseline,
measured in the same run, is the receiver's round trip for a POST of the same size straight
from this process. Issue 5's target: p99 under 1 s at 200 events/s on PostgreSQL + Redis.

With a broker (HUIKE_BENCH_REDIS_URL) this process only produces the events and receives the
webhooks, like a web process and a customer's server; HUIKE_BENCH_WORKERS (2) ``huike worker``
processes relay and run the jobs, as in production. Without one, one process does it all, as
the embedded default does.

Set HUIKE_BENCH_DATABASE_URL / HUIKE_BENCH_MIGRATION_DATABASE_URL (PostgreSQL) and
HUIKE_BENCH_REDIS_URL (the broker; without it the in-process stub broker is used).
HUIKE_BENCH_EVENTS_PER_SECOND (200) and HUIKE_BENCH_SECONDS (10) shape the stream;
HUIKE_RELAY_INTERVAL_MS and HUIKE_WORKER_THREADS are honoured like in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
from sqlalchemy import select, text

from core.customers.events import CustomerCreated
from core.events.models import OutboxMessage
from core.events.service import record_event
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks import service as webhooks
from core.webhooks.models import WebhookAttempt, WebhookDelivery
from core.webhooks.schemas import EndpointCreate
from frontend_api.services import Services, build_services, load_plugins
from tenants import plugins as tenant_plugins
from tenants.plugins import AllowEveryPlugin, PluginEnable
from tenants.schemas import SignupCommand
from tenants.service import create_tenant_with_owner
from tests.http_server import HTTPServer, running

RATE = int(os.environ.get("HUIKE_BENCH_EVENTS_PER_SECOND", "200"))
SECONDS = int(os.environ.get("HUIKE_BENCH_SECONDS", "10"))
WORKERS = int(os.environ.get("HUIKE_BENCH_WORKERS", "2"))
PASSWORD = "benchmark password"
#: How long to wait for the last deliveries after the stream ends.
DRAIN_SECONDS = 60
#: PostgreSQL backends report their statistics within a second of going idle.
STATS_FLUSH_SECONDS = 1.5


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def _baseline(server: HTTPServer, rounds: int = 200) -> float:
    body = json.dumps({"event": "customers.created", "data": {"customer_id": str(new_id())}}).encode()
    samples = []
    async with httpx.AsyncClient() as client:
        for _ in range(rounds):
            started = time.monotonic()
            await client.post(server.url("/baseline"), content=body)
            samples.append(time.monotonic() - started)
    return statistics.median(samples)


async def _statement_cpu(db: Database, rounds: int = 2000) -> float:
    """This process's CPU time for one trivial statement through our database layer
    (SQLAlchemy, the driver, the round trip): the unit the jobs' CPU per event is given in,
    so runs on a machine whose speed varies can be compared."""
    async with db.engine.connect() as conn:
        statement = text("SELECT 1")
        for _ in range(50):
            await conn.execute(statement)
        started = time.process_time()
        for _ in range(rounds):
            await conn.execute(statement)
        return (time.process_time() - started) / rounds


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes used so far, from /proc (Linux)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _service_pids(names: tuple[str, ...] = ("postgres", "redis-server")) -> dict[str, list[int]]:
    """The local PostgreSQL and Redis processes (this machine's services), by name: their CPU
    per event completes the machine's budget. Empty where they run elsewhere or are not
    readable."""
    found: dict[str, list[int]] = {name: [] for name in names}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if name in found:
            found[name].append(int(entry))
    return found


def _cpu_of_living(pids: list[int]) -> dict[int, float]:
    """Each process's CPU so far; a process that ended meanwhile is left out."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            seconds[pid] = _cpu_seconds([pid])
    return seconds


def _spent_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU the processes used since ``before`` (a process born since counts from zero)."""
    now = _cpu_of_living(pids)
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def _services_cpu(settings: Settings) -> dict[str, dict[int, float]]:
    """The local services' CPU so far, by name and process; none for a remote database."""
    if not settings.database_url.split("@")[-1].startswith(("127.0.0.1", "localhost")):
        return {}
    return {name: _cpu_of_living(pids) for name, pids in _service_pids().items()}


def _services_spent(before: dict[str, dict[int, float]]) -> dict[str, float]:
    # Connections opened during the run are processes of their own: look for them again.
    now = _service_pids() if before else {}
    return {name: _spent_since(before[name], now[name]) for name in before}


def _worker_env(settings: Settings) -> dict[str, str]:
    """What a ``huike worker`` needs to share this run's database, broker and keys."""
    return {
        **os.environ,
        "HUIKE_DATABASE_URL": settings.database_url,
        "HUIKE_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "HUIKE_REDIS_URL": settings.redis_url,
        "HUIKE_DATA_DIR": settings.data_dir,
        "HUIKE_SECRET_KEY": settings.secret_key,
        "HUIKE_LOG_LEVEL": "WARNING",
        "HUIKE_LOG_JSON": "false",
        "HUIKE_MAIL_BACKEND": "console",
        "HUIKE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "HUIKE_RATE_LIMIT_ENABLED": "false",
    }


@contextlib.contextmanager
def _workers(settings: Settings, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` ``huike worker`` processes, each running once it has said so."""
    command = [sys.executable, "-c", "from frontend_api.cli import main; main()", "worker"]
    started = [
        subprocess.Popen(command, env=_worker_env(settings), stdout=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(count)
    ]
    try:
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "running" not in line:
                raise RuntimeError(f"huike worker did not start (exit {process.poll()}): {line!r}")
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)


@contextlib.asynccontextmanager
async def _in_process_jobs(settings: Settings, services: Services) -> AsyncIterator[None]:
    runtime = JobRuntime(
        settings, services.db, services.jobs, services.job_mailer(), texter=services.job_texter()
    )
    await runtime.start(worker=True, relay=True, scheduler=True)
    try:
        yield
    finally:
        await runtime.stop()


async def _business(settings: Settings, services: Services, receiver: HTTPServer) -> uuid.UUID:
    db = services.db
    tenant, _ = await create_tenant_with_owner(
        db,
        services.registry,
        SignupCommand(
            company_name="Bench", owner_name="B", email=f"b-{new_id().hex[:8]}@example.com", password=PASSWORD
        ),
        min_password_length=settings.password_min_length,
    )
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            await tenant_plugins.enable(
                session, services.plugins, AllowEveryPlugin(), "webhooks", PluginEnable()
            )
            endpoint = EndpointCreate(url=receiver.url("/hooks"), events=["customers.created"])
            await webhooks.create_endpoint(session, settings, endpoint)
    return tenant.id


async def _produce(db: Database, tenant_id: uuid.UUID) -> tuple[dict[uuid.UUID, float], float]:
    """Record RATE events a second for SECONDS; returns each event's commit time (wall clock)
    and the rate achieved."""
    committed: dict[uuid.UUID, float] = {}
    total = RATE * SECONDS
    started = time.monotonic()
    for n in range(total):
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                event_id = await record_event(
                    session, CustomerCreated(customer_id=new_id(), owner_id=new_id())
                )
        committed[event_id] = time.time()
        await asyncio.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
    return committed, total / (time.monotonic() - started)


async def _transactions(db: Database) -> int | None:
    """Transactions PostgreSQL counted in this database so far (every process's; None on
    SQLite): a figure of the work per event that the machine's speed does not change."""
    if db.dialect != "postgresql":
        return None
    with tenant_context(None):
        async with db.transaction() as session:
            query = text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
            return int((await session.execute(query)).scalar_one())


async def _stages(
    db: Database, tenant_id: uuid.UUID, committed: dict[uuid.UUID, float], arrived: dict[uuid.UUID, float]
) -> list[tuple[str, list[float]]]:
    """Each event's time in each stage, from the timestamps its rows carry."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            outbox = (
                await session.execute(
                    select(
                        OutboxMessage.message_id,
                        OutboxMessage.name,
                        OutboxMessage.payload,
                        OutboxMessage.dispatched_at,
                    ).where(OutboxMessage.tenant_ref == tenant_id)
                )
            ).all()
            deliveries = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.created_at)
                )
            ).all()
            attempts = dict(
                (await session.execute(select(WebhookAttempt.delivery_id, WebhookAttempt.started_at))).all()
            )
    event_sent = {m: d.timestamp() for m, name, _, d in outbox if d is not None and m in committed}
    columns: dict[str, list[float]] = {
        "commit → relay sent the event": [],
        "→ handler made the delivery": [],
        "→ its job started the attempt": [],
        "→ POST received": [],
    }
    for delivery_id, event_id, created_at in deliveries:
        points = [
            committed.get(event_id),
            event_sent.get(event_id),
            created_at.timestamp(),
            attempts[delivery_id].timestamp() if delivery_id in attempts else None,
            arrived.get(event_id),
        ]
        if any(p is None for p in points):
            continue
        for column, (before, after) in zip(columns.values(), itertools.pairwise(points), strict=False):
            column.append(after - before)  # type: ignore[operator]
    return list(columns.items())


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("dramatiq").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as data_dir, running() as receiver:
        base = Settings.from_env()
        settings = dataclasses.replace(
            base,
            database_url=os.environ.get("HUIKE_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir}/b.db",
            migration_database_url=os.environ.get("HUIKE_BENCH_MIGRATION_DATABASE_URL", ""),
            redis_url=os.environ.get("HUIKE_BENCH_REDIS_URL", ""),
            data_dir=data_dir,
            secret_key="benchmark-secret-key-of-enough-length",
            log_level="WARNING",
            log_json=False,
            mail_backend="memory",
            webhook_allow_private_urls=True,
            rate_limit_enabled=False,
        )
        plugins = load_plugins(settings)
        await asyncio.to_thread(upgrade, settings, "heads", plugins.migration_locations())
        services = build_services(settings, plugins=plugins)
        db = services.db
        try:
            # The business first: its data key is on disk before any worker starts.
            tenant_id = await _business(settings, services, receiver)
            baseline = await _baseline(receiver)
            statement_cpu = await _statement_cpu(db)
            with contextlib.ExitStack() as stack:
                me = [os.getpid()]
                if settings.redis_url:
                    workers = [p.pid for p in stack.enter_context(_workers(settings, WORKERS))]
                    jobs: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
                else:
                    workers = []
                    jobs = _in_process_jobs(settings, services)
                async with jobs:
                    transactions_before = await _transactions(db)
                    before = _cpu_seconds(workers), _cpu_seconds(me)
                    services_before = _services_cpu(settings)
                    wall_started = time.monotonic()
                    committed, achieved = await _produce(db, tenant_id)
                    deadline = time.monotonic() + DRAIN_SECONDS
                    # The receiver runs in a thread of its own: poll what it has.
                    while len(receiver.requests_to("/hooks")) < len(committed):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.2)
                    # Embedded, the jobs' CPU is this process's: it is counted as theirs.
                    spent = _cpu_seconds(workers) - before[0], _cpu_seconds(me) - before[1]
                    wall_spent = time.monotonic() - wall_started
                    service_cpu = _services_spent(services_before)
                    cpu = (
                        {"jobs": spent[0], "producer": spent[1]}
                        if workers
                        else {"jobs": spent[1], "producer": 0.0}
                    )
                    await asyncio.sleep(STATS_FLUSH_SECONDS)  # backends report their counts
                    transactions_after = await _transactions(db)
            wall = time.time() - time.monotonic()
            arrived = {
                uuid.UUID(json.loads(r.body)["id"]): r.at + wall for r in receiver.requests_to("/hooks")
            }
            stages = await _stages(db, tenant_id, committed, arrived)
        finally:
            await db.dispose()
        latencies = [arrived[e] - t for e, t in committed.items() if e in arrived]
        span = max(arrived.values()) - min(committed.values())
        broker = f"Redis, {WORKERS} huike worker processes" if settings.redis_url else "in-process stub"
        lines = [
            f"database: {settings.database_url.split('://')[0]}, broker: {broker}, "
            f"relay interval {settings.relay_interval_ms} ms, {settings.worker_threads} worker threads",
            f"events: {len(committed)} at {achieved:.0f}/s (asked {RATE}/s); delivered {len(latencies)}",
            f"  event commit → signed POST received   p50 {_percentile(latencies, 0.5) * 1000:7.1f} ms"
            f"   p99 {_percentile(latencies, 0.99) * 1000:7.1f} ms   max {max(latencies) * 1000:7.1f} ms",
            f"  baseline: the same POST from here      p50 {baseline * 1000:7.1f} ms",
            f"  ratio p50 / baseline: {_percentile(latencies, 0.5) / baseline:.0f}x",
            f"  delivered {len(latencies) / span:.0f}/s (first commit to last arrival)",
            f"  CPU per event: jobs {cpu['jobs'] / len(committed) * 1000:.1f} ms, "
            f"producer and receiver {cpu['producer'] / len(committed) * 1000:.1f} ms",
            f"  jobs' CPU per event / one trivial statement's CPU here ({statement_cpu * 1000:.2f} ms): "
            f"{cpu['jobs'] / len(committed) / statement_cpu:.0f}x",
        ]
        if service_cpu:
            total = sum(cpu.values()) + sum(service_cpu.values())
            service_ms = {name: spent / len(committed) * 1000 for name, spent in service_cpu.items()}
            each = ", ".join(f"{name} {ms:.1f} ms" for name, ms in service_ms.items())
            lines.append(
                f"  CPU per event of the services here: {each}; "
                f"the run used {total / wall_spent:.2f} of {os.cpu_count()} cores over {wall_spent:.1f} s"
            )
        if transactions_before is not None and transactions_after is not None:
            # Less the first count's own transaction; the producer's one per event included.
            per_event = (transactions_after - transactions_before - 1) / len(committed)
            lines.append(f"  PostgreSQL transactions per event: {per_event:.2f} (the producer's 1 included)")
        lines += ["  stages (p50 / p99 ms):"]
        lines += [
            f"    {name:<32} {_percentile(v, 0.5) * 1000:7.1f} / {_percentile(v, 0.99) * 1000:7.1f}"
            for name, v in stages
            if v
        ]
        print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
