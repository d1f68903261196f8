"""The migrations make exactly the schema the models describe: a column, index or constraint
added to a model without its migration (or the other way round) fails here, on SQLite and on
PostgreSQL, before it fails in production."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from core.kernel.settings import Settings
from core.migrations.metadata import target_metadata

pytestmark = pytest.mark.anyio


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, target_metadata))


async def test_the_migrated_schema_is_the_models_schema(settings: Settings) -> None:
    engine = create_async_engine(settings.owner_database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
