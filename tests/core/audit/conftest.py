"""Fixtures of the audit tests: a tenant made through signup, and raw access to its rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from core.audit.models import AuditEntry
from core.kernel.settings import Settings
from tests.helpers import signup


@pytest.fixture
def tenant(client: TestClient[Any]) -> dict[str, Any]:
    """A business signed up through the API (its log already holds the signup)."""
    return signup(client, "Acme")


def owner_sql(settings: Settings, *statements: Any) -> list[Any]:
    """Run statements as the table owner, outside the application (a tamperer with database
    access; on PostgreSQL the application role may not edit the log at all)."""

    async def run() -> list[Any]:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.begin() as conn:
                results = []
                for statement in statements:
                    result = await conn.execute(statement)
                    results.append(result.all() if result.returns_rows else None)
                return results
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def entries(settings: Settings) -> Callable[[str], list[Any]]:
    """The rows of a tenant's log, in chain order, read as the owner."""

    def read(tenant_id: str) -> list[Any]:
        table = AuditEntry.__table__
        [rows] = owner_sql(
            settings, select(table).where(table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)
        )
        return list(rows)

    return read
