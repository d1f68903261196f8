"""Shared fixtures. The suite runs on SQLite by default; with HUIKE_TEST_DATABASE_URL (the
application role) and HUIKE_TEST_MIGRATION_DATABASE_URL (the owner) it runs on PostgreSQL,
and an unreachable PostgreSQL is then an error, never a skip."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.crypto.keyring import open_database
from core.kernel.database import Database
from core.kernel.migrate import upgrade
from core.kernel.settings import Settings
from core.migrations.metadata import target_metadata
from frontend_api.app import create_app
from frontend_api.services import load_plugins

PG_URL = os.environ.get("HUIKE_TEST_DATABASE_URL", "")
#: Redis for the tests that need it (the broker, shared rate limits). CI sets it on the
#: PostgreSQL run, where an unreachable Redis is an error; without it those tests skip.
REDIS_URL = os.environ.get("HUIKE_TEST_REDIS_URL", "")
PG_OWNER_URL = os.environ.get("HUIKE_TEST_MIGRATION_DATABASE_URL", PG_URL)
ON_POSTGRES = bool(PG_URL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES and REDIS_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only: set HUIKE_TEST_DATABASE_URL (CI runs it)")
    skip_redis = pytest.mark.skip(reason="Redis-only: set HUIKE_TEST_REDIS_URL (CI runs it)")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("var")
    if ON_POSTGRES:
        url, owner = PG_URL, PG_OWNER_URL
        asyncio.run(_reset_postgres(owner))
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
        owner = ""
    settings = Settings(
        database_url=url,
        migration_database_url=owner,
        data_dir=str(data_dir),
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        mail_backend="memory",
        log_level="WARNING",
        log_json=False,
        password_min_length=10,
        # The job runtime starts with an app only in the tests that ask for it.
        background_jobs=False,
    )
    # Installed plugins' branches too (the example plugin, through its entry point).
    upgrade(settings, version_locations=load_plugins(settings).migration_locations())
    return settings


async def _reset_postgres(owner_url: str) -> None:
    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as exc:  # connection refused: a failure, not a skip
        pytest.exit(f"PostgreSQL at {owner_url} is unreachable: {exc}", returncode=3)
    finally:
        await engine.dispose()


async def _truncate(settings: Settings) -> None:
    engine = create_async_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            tables = [table.name for table in reversed(target_metadata.sorted_tables)]
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
            else:
                await conn.execute(text("PRAGMA foreign_keys=OFF"))
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))
                await conn.execute(text("PRAGMA foreign_keys=ON"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    asyncio.run(_truncate(base_settings))
    return base_settings


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def redis_url() -> str:
    """A Redis database of its own for this test, flushed first (``@pytest.mark.redis``)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.exit(f"Redis at {REDIS_URL} is unreachable: {exc}", returncode=3)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The application's connection (on PostgreSQL: the non-owner role, under RLS)."""
    database = open_database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def rls_free_db(settings: Settings) -> AsyncIterator[Database]:
    """A connection that row-level security does not filter (on PostgreSQL the migration
    owner, a superuser in CI), so the ORM wall is tested on its own."""
    database = open_database(settings, settings.owner_database_url)
    if database.dialect == "postgresql":
        async with database.engine.connect() as conn:
            bypasses = (
                await conn.execute(
                    text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).scalar_one()
        assert bypasses, "HUIKE_TEST_MIGRATION_DATABASE_URL must be a role that bypasses RLS"
    yield database
    await database.dispose()
