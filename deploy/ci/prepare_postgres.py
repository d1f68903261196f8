"""Create the test database and the application role for the PostgreSQL test run.

The role owns no table and lacks BYPASSRLS, so row-level security applies to it; the
migrations run as the owner (``postgres``). Exits non-zero if PostgreSQL is unreachable.

Usage: python deploy/ci/prepare_postgres.py OWNER_URL DATABASE APP_ROLE
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg


async def main(owner_url: str, database: str, role: str) -> None:
    conn = await asyncpg.connect(owner_url, timeout=10)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role) is None:
            await conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE')
        else:
            await conn.execute(f'ALTER ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


if __name__ == "__main__":
    try:
        asyncio.run(main(*sys.argv[1:4]))
    except (OSError, asyncpg.PostgresError) as exc:
        sys.exit(f"PostgreSQL is not usable at {sys.argv[1]}: {exc}")
