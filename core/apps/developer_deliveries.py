"""The developer's view of their app's webhook deliveries, one installing business at a time.

The deliveries belong to the installing business (tenant-owned, under row-level security), so
the developer's request cannot read them in its own transaction. It checks that the app is
the developer's and that the business has it installed (``app_tenants``, the platform mirror
of active installations), then opens a transaction of its own in that business and reads
there only the deliveries of that app's installation: what was sent to the app anyway. What
the developer does there (a replay) is done as the app (``ActorType.APP``).

A business that uninstalled the app is not found: its log stays the business's own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.models import App, AppInstallation, AppStatus, AppTenant
from core.audit.context import ActorType, audit_context
from core.kernel.database import Database
from core.kernel.errors import NotFound
from core.kernel.tenancy import current_tenant_id, tenant_context
from core.webhooks.schemas import Owner

__all__ = ["in_installing_business"]


@asynccontextmanager
async def in_installing_business(
    session: AsyncSession, db: Database, app_id: uuid.UUID, tenant_id: uuid.UUID
) -> AsyncIterator[tuple[AsyncSession, Owner]]:
    """A transaction in ``tenant_id``, a business that installed the current tenant's app
    ``app_id``, and the owner of that installation's deliveries there.

    Raises:
        NotFound: another tenant's app, or a business that has not installed it (or no more).
    """
    installed = await session.scalar(
        select(AppTenant.tenant_ref)
        .join(App, App.id == AppTenant.app_id)
        .where(
            AppTenant.app_id == app_id,
            AppTenant.tenant_ref == tenant_id,
            App.developer_tenant_id == current_tenant_id(),
            App.status != AppStatus.DELETED,
        )
    )
    if installed is None:
        raise NotFound()
    with tenant_context(tenant_id), audit_context(ActorType.APP, app_id):
        async with db.transaction() as theirs:
            installation_id = await theirs.scalar(
                select(AppInstallation.id).where(
                    AppInstallation.app_id == app_id, AppInstallation.uninstalled_at.is_(None)
                )
            )
            if installation_id is None:  # uninstalled since the mirror was read
                raise NotFound()
            yield theirs, Owner.app(installation_id)
