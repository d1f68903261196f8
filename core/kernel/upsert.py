"""``INSERT ... ON CONFLICT`` for the dialect in use (PostgreSQL and SQLite share the API)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["dialect_insert", "insert_for"]


def insert_for(session: AsyncSession, table: Any) -> Any:
    """Return the dialect's ``insert(table)``, which has ``on_conflict_do_*``."""
    return dialect_insert(session.get_bind().dialect.name, table)


def dialect_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """``insert(table)`` of the dialect named ``dialect`` (for statements built once per dialect)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
