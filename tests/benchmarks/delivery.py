"""Event-to-webhook delivery latency: `make bench-delivery` (or
`python -m tests.benchmarks.delivery`).

A business with the ``webhooks`` plugin enabled and one endpoint (a local HTTP receiver)
records ``customers.created`` events at a steady rate; each event travels the real path:
outbox → relay → the plugin's handler (a job) → a delivery and its job through the outbox →
relay → the signed POST. Latency is from the event's commit to its arrival at the receiver.
The baseline, measured in the same run, is the receiver's round trip for a POST of the same
size straight from this process. Issue 5's target: p99 under 1 s at 200 events/s on
PostgreSQL + Redis.

Set HUIKE_BENCH_DATABASE_URL / HUIKE_BENCH_MIGRATION_DATABASE_URL (PostgreSQL) and
HUIKE_BENCH_REDIS_URL (the broker; without it the in-process stub broker is used).
HUIKE_BENCH_EVENTS_PER_SECOND (200) and HUIKE_BENCH_SECONDS (10) shape the stream;
HUIKE_RELAY_INTERVAL_MS is honoured like in production (default 500 ms).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import statistics
import tempfile
import time

import httpx

from core.customers.events import CustomerCreated
from core.events.service import record_event
from core.jobs.runtime import JobRuntime
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks import service as webhooks
from core.webhooks.schemas import EndpointCreate
from frontend_api.services import build_services, load_plugins
from tenants import plugins as tenant_plugins
from tenants.plugins import AllowEveryPlugin, PluginEnable
from tenants.schemas import SignupCommand
from tenants.service import create_tenant_with_owner
from tests.http_server import HTTPServer, running

RATE = int(os.environ.get("HUIKE_BENCH_EVENTS_PER_SECOND", "200"))
SECONDS = int(os.environ.get("HUIKE_BENCH_SECONDS", "10"))
PASSWORD = "benchmark password"


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
        # Embedded (no Redis): one process does it all. With Redis this process relays and
        # runs a worker too, as `huike worker` does.
        runtime = JobRuntime(settings, db, services.jobs, services.job_mailer(), texter=services.job_texter())
        await runtime.start(worker=True, relay=True, scheduler=True)
        try:
            tenant, _ = await create_tenant_with_owner(
                db,
                services.registry,
                SignupCommand(
                    company_name="Bench",
                    owner_name="B",
                    email=f"b-{new_id().hex[:8]}@example.com",
                    password=PASSWORD,
                ),
                min_password_length=settings.password_min_length,
            )
            with tenant_context(tenant.id):
                async with db.transaction() as session:
                    await tenant_plugins.enable(
                        session, plugins, AllowEveryPlugin(), "webhooks", PluginEnable()
                    )
                    endpoint = EndpointCreate(url=receiver.url("/hooks"), events=["customers.created"])
                    await webhooks.create_endpoint(session, settings, endpoint)
            baseline = await _baseline(receiver)
            committed: dict[str, float] = {}
            total = RATE * SECONDS
            started = time.monotonic()
            for n in range(total):
                customer_id = new_id()
                with tenant_context(tenant.id):
                    async with db.transaction() as session:
                        await record_event(
                            session, CustomerCreated(customer_id=customer_id, owner_id=new_id())
                        )
                committed[str(customer_id)] = time.monotonic()
                await asyncio.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
            achieved = total / (time.monotonic() - started)
            deadline = time.monotonic() + 60
            # The receiver runs in a thread of its own: poll what it has.
            while len(receiver.requests_to("/hooks")) < total and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        finally:
            await runtime.stop()
            await db.dispose()
        arrived = {json.loads(r.body)["data"]["customer_id"]: r.at for r in receiver.requests_to("/hooks")}
        latencies = [arrived[c] - t for c, t in committed.items() if c in arrived]
        broker = "Redis" if settings.redis_url else "in-process stub"
        print(
            f"database: {settings.database_url.split('://')[0]}, broker: {broker}, "
            f"relay interval {settings.relay_interval_ms} ms\n"
            f"events: {total} at {achieved:.0f}/s (asked {RATE}/s); delivered {len(latencies)}\n"
            f"  event commit → signed POST received   p50 {_percentile(latencies, 0.5) * 1000:7.1f} ms"
            f"   p99 {_percentile(latencies, 0.99) * 1000:7.1f} ms   max {max(latencies) * 1000:7.1f} ms\n"
            f"  baseline: the same POST from here      p50 {baseline * 1000:7.1f} ms\n"
            f"  ratio p50 / baseline: {_percentile(latencies, 0.5) / baseline:.0f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
