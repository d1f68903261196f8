"""Schema management: Alembic migrations are the only way the schema is made."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from core.kernel.database import _ensure_sqlite_folder
from core.kernel.settings import Settings

__all__ = ["alembic_config", "make_revision", "upgrade"]


def alembic_config(settings: Settings, version_locations: Sequence[str] = ()) -> Config:
    """The core's revisions, plus ``version_locations``: the folders of installed plugins'
    branches (``PluginHost.migration_locations()``)."""
    url = make_url(settings.owner_database_url)
    if url.get_backend_name() == "sqlite":
        _ensure_sqlite_folder(url.database)
    config = Config()
    config.set_main_option("script_location", "core:migrations")
    config.set_main_option("sqlalchemy.url", settings.owner_database_url.replace("%", "%%"))
    if version_locations:
        config.set_main_option("path_separator", "os")
        locations = [str(Path(__file__).parent.parent / "migrations" / "versions"), *version_locations]
        config.set_main_option("version_locations", os.pathsep.join(locations).replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "heads", version_locations: Sequence[str] = ()) -> None:
    """Upgrade the core and every plugin branch in ``version_locations`` as the table owner,
    then grant the application role its table rights (plugins' tables included)."""
    command.upgrade(alembic_config(settings, version_locations), revision)
    asyncio.run(_grant_application_role(settings))


def make_revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=True)


async def _grant_application_role(settings: Settings) -> None:
    app_url = make_url(settings.database_url)
    owner_url = make_url(settings.owner_database_url)
    if app_url.get_backend_name() != "postgresql" or app_url.username == owner_url.username:
        return
    role = app_url.username
    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote(role or "")
            await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            await conn.execute(
                text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
            )
            await conn.execute(text(f"REVOKE ALL ON alembic_version FROM {quoted}"))
            # The audit log is append-only for the application.
            await conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM {quoted}"))
    finally:
        await engine.dispose()
