"""Which tenants the apps' webhook handlers hear: the platform mirror ``app_tenants`` of the
active installations, kept in step with every install, consent and uninstall (in the
installing tenant's transaction), and the relay's audience filter over it. A tenant with no
installed app that wants events costs the relay nothing more. The developer's list of the
businesses that installed their app reads the same mirror (:func:`core.apps.service.list_installers`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.models import App, AppStatus, AppTenant
from core.kernel.upsert import insert_for

__all__ = ["AUDIENCE", "app_audience", "mark_installed", "mark_uninstalled"]

#: The audience of the apps' webhook handlers (``Handler.audience``).
AUDIENCE = "apps"


async def mark_installed(
    session: AsyncSession,
    app_id: uuid.UUID,
    tenant_id: uuid.UUID,
    installed_at: datetime,
    granted_scopes: list[str],
) -> None:
    """Mirror an install or a consent: a re-consent replaces the scopes (and the time, which
    the installation keeps from its last install)."""
    insert = insert_for(session, AppTenant).values(
        app_id=app_id, tenant_ref=tenant_id, installed_at=installed_at, granted_scopes=granted_scopes
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["app_id", "tenant_ref"],
            set_={column: insert.excluded[column] for column in ("installed_at", "granted_scopes")},
        )
    )


async def mark_uninstalled(session: AsyncSession, app_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    await session.execute(
        delete(AppTenant).where(AppTenant.app_id == app_id, AppTenant.tenant_ref == tenant_id)
    )


async def app_audience(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
    """The relay's filter: the tenants among ``tenant_ids`` with an app installed that has a
    webhook URL and events."""
    rows = await session.scalars(
        select(AppTenant.tenant_ref)
        .join(App, App.id == AppTenant.app_id)
        .where(
            AppTenant.tenant_ref.in_(tenant_ids),
            App.webhook_url.is_not(None),
            App.status == AppStatus.ACTIVE,
        )
        .distinct()
    )
    return {(tenant, AUDIENCE) for tenant in rows}
