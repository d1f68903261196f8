"""Import throughput: rows per second of a real import job against a plain bulk INSERT of the
same rows, measured in the same run.

A CSV of HUIKE_BENCH_IMPORT_ROWS customers (default 20,000), each with its primary contact,
is uploaded through the API and imported by the job's own code (`run_import`: parsing,
validation, duplicate lookups, encryption, audit, events, import records, progress), then a
dry run of the same file. The baseline inserts the same customers and contacts with
precomputed ciphertexts and blind indexes through the driver, in batches of the same size,
with nothing else: what the database costs for the rows alone. The time spent in the audit
capture (snapshots, hash chain, inserts) is measured separately.

`make bench-crm` runs it after the CRM benchmark (PostgreSQL: HUIKE_BENCH_DATABASE_URL and
HUIKE_BENCH_MIGRATION_DATABASE_URL; give it a database of its own, the tables are truncated).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert, select, text

import core.audit.capture as capture
import core.imports.writes as writes
from core.crypto.codec import Place, blind_index, encrypt
from core.crypto.keyring import session_keys
from core.customers.models import Contact, Customer
from core.imports.models import ImportBatch
from core.imports.runner import run_import
from core.kernel.database import Database
from core.kernel.heap import freeze_startup_objects
from core.kernel.ids import new_id
from core.kernel.migrate import upgrade
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.migrations.metadata import target_metadata
from frontend_api.app import create_app

PG_URL = os.environ.get("HUIKE_BENCH_DATABASE_URL", "")
ON_PG = bool(PG_URL)
ROWS = int(os.environ.get("HUIKE_BENCH_IMPORT_ROWS", "20000"))
BATCH = int(os.environ.get("HUIKE_BENCH_IMPORT_BATCH", str(Settings().import_batch_rows)))


def _csv(rows: int, prefix: str, with_contacts: bool) -> bytes:
    lines = [
        "客户名称,手机,邮箱,地址,客户级别,来源,行业,标签"
        + (",联系人,联系人电话\n" if with_contacts else "\n")
    ]
    for i in range(rows):
        phone = f"+86{139 if with_contacts else 138}{i:08d}"
        line = f"{prefix}{i:07d}有限公司,{phone},{prefix}{i}@example.com,北京市朝阳区建国路{i}号,"
        line += f"{'ABC'[i % 3]},展会,制造,重点|华北"
        lines.append(line + (f",联系人{i},+86137{i:08d}\n" if with_contacts else "\n"))
    return "".join(lines).encode()


class _Timer:
    """Wall time spent inside the audit capture (building entries, hashing, inserting)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


async def _truncate(settings: Settings) -> None:
    owner = Database(settings.owner_database_url)
    try:
        async with owner.engine.begin() as conn:
            tables = [t.name for t in reversed(target_metadata.sorted_tables)]
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    finally:
        await owner.dispose()


async def _analyze(settings: Settings) -> None:
    owner = Database(settings.owner_database_url)
    try:
        async with owner.engine.begin() as conn:
            for table in ("customers", "contacts", "import_records", "audit_entries"):
                await conn.execute(
                    text(f"ANALYZE {table}" if conn.dialect.name == "postgresql" else "ANALYZE")
                )
    finally:
        await owner.dispose()


async def _bulk_insert(
    settings: Settings, db: Database, tenant_id: uuid.UUID, owner_id: uuid.UUID, *, with_contacts: bool = True
) -> float:
    """Seconds for a plain bulk INSERT of the same customers and contacts (ciphertexts and
    blind indexes computed beforehand, so only the database's work is timed)."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            version, pair = await session.run_sync(
                lambda s: session_keys(s, s.connection(), tenant_id).for_writing()
            )
    now = datetime.now(UTC)
    customers, contacts = [], []
    for i in range(ROWS):
        cid, kid = new_id(), new_id()
        phone, email, contact_phone = f"+86136{i:08d}", f"bulk{i}@example.com", f"+86135{i:08d}"
        customers.append(
            {
                "tenant_id": tenant_id,
                "id": cid,
                "kind": "company",
                "name": f"批量{i:07d}有限公司",
                "level": "ABC"[i % 3],
                "source": "展会",
                "industry": "制造",
                "stage": "lead",
                "tags": ["重点", "华北"],
                "owner_id": owner_id,
                "phone": encrypt(pair.data, version, phone, Place(tenant_id, "customers", "phone", cid)),
                "phone_bidx": blind_index(pair.index, "customers", "phone", phone),
                "email": encrypt(pair.data, version, email, Place(tenant_id, "customers", "email", cid)),
                "email_bidx": blind_index(pair.index, "customers", "email", email),
                "address": encrypt(
                    pair.data,
                    version,
                    f"北京市朝阳区建国路{i}号",
                    Place(tenant_id, "customers", "address", cid),
                ),
                "custom_fields": {},
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
        contacts.append(
            {
                "tenant_id": tenant_id,
                "id": kid,
                "customer_id": cid,
                "name": f"联系人{i}",
                "is_primary": True,
                "phone": encrypt(
                    pair.data, version, contact_phone, Place(tenant_id, "contacts", "phone", kid)
                ),
                "phone_bidx": blind_index(pair.index, "contacts", "phone", contact_phone),
                "custom_fields": {},
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    owner = Database(settings.owner_database_url)
    try:
        started = time.perf_counter()
        for start in range(0, ROWS, BATCH):
            async with owner.engine.begin() as conn:
                await conn.execute(insert(Customer.__table__), customers[start : start + BATCH])
                if with_contacts:
                    await conn.execute(insert(Contact.__table__), contacts[start : start + BATCH])
        return time.perf_counter() - started
    finally:
        await owner.dispose()


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, dry_run: bool
) -> uuid.UUID:
    response = await client.post(
        "/api/v1/imports",
        headers=headers,
        files={"file": ("customers.csv", content, "text/csv")},
        data={"entity": "customer", "dry_run": "true" if dry_run else "false"},
    )
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["id"])


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
            import_max_bytes=1 << 30,
        )
        await asyncio.to_thread(upgrade, settings)
        await _truncate(settings)
        app = create_app(settings)
        db: Database = app.state.services.db
        backend = settings.database_url.split("://")[0]
        print(f"database: {backend}; {ROWS:,} rows per import, {BATCH} per batch")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            signup = await client.post(
                "/api/v1/signup",
                json={
                    "company_name": "Bench",
                    "owner_name": "Owner",
                    "email": "o@bench.example",
                    "password": "benchmark password",
                },
            )
            assert signup.status_code == 201, signup.text
            body = signup.json()
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            tenant_id = uuid.UUID(body["tenant_id"])
            owner_id = uuid.UUID((await client.get("/api/v1/me", headers=headers)).json()["user_id"])
            # Every measure starts from tables that hold rows and have statistics (autovacuum's
            # ANALYZE in production; on a fresh table without them PostgreSQL checks each
            # contact's foreign key with a scan of the customers written so far).
            await _bulk_insert(settings, db, tenant_id, owner_id)
            await _analyze(settings)
            freeze_startup_objects()  # as `huike worker` does once it has started
            for label, prefix, with_contacts in (
                ("customer + its contact per row", "甲", True),
                ("customer only per row", "乙", False),
            ):
                content = _csv(ROWS, prefix, with_contacts)
                bulk = await _bulk_insert(settings, db, tenant_id, owner_id, with_contacts=with_contacts)
                await _measure(client, db, headers, tenant_id, content, label, bulk)
        await db.dispose()


async def _timed_run(db: Database, tenant_id: uuid.UUID, import_id: uuid.UUID) -> float:
    started = time.perf_counter()
    await run_import(db, tenant_id, import_id, batch_size=BATCH)
    return time.perf_counter() - started


async def _measure(
    client: httpx.AsyncClient,
    db: Database,
    headers: dict[str, str],
    tenant_id: uuid.UUID,
    content: bytes,
    label: str,
    bulk_seconds: float,
) -> None:
    dry_seconds = await _timed_run(db, tenant_id, await _upload(client, headers, content, dry_run=True))
    real = await _upload(client, headers, content, dry_run=False)
    timer = _Timer()
    # The audit capture of flushes, and the one of the batch writer (core/imports/writes.py).
    wrapped = [(capture, "append"), (capture, "_drafts"), (writes, "append"), (writes, "created_drafts")]
    originals = [getattr(module, name) for module, name in wrapped]
    for module, name in wrapped:
        setattr(module, name, timer.wrap(getattr(module, name)))
    try:
        seconds = await _timed_run(db, tenant_id, real)
    finally:
        for (module, name), original in zip(wrapped, originals, strict=True):
            setattr(module, name, original)
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            batch = await session.scalar(select(ImportBatch).where(ImportBatch.id == real))
            assert batch is not None
            assert batch.created_count == ROWS, (batch.status, batch.error, batch.skipped_count)
    rate, bulk_rate = ROWS / seconds, ROWS / bulk_seconds
    print(f"\n{label} ({len(content) / 1e6:.1f} MB CSV):")
    print(f"  import job: {seconds:.1f} s, {rate:,.0f} rows/s")
    print(f"    of which audit capture: {timer.seconds:.1f} s ({timer.seconds / seconds:.0%})")
    print(f"  dry run: {dry_seconds:.1f} s, {ROWS / dry_seconds:,.0f} rows/s")
    print(f"  plain bulk INSERT of the same rows: {bulk_seconds:.1f} s, {bulk_rate:,.0f} rows/s")
    print(f"  import throughput / bulk INSERT throughput = {rate / bulk_rate:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
