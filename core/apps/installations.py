"""Installed apps, as the installing tenant's admin sees them: list, show, uninstall. An
uninstall revokes every token of the installation at once, voids its unused codes and stops
its webhook deliveries, after one last: ``apps.uninstalled``, if the app chose it
(:mod:`core.apps.webhooks`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.audience import mark_uninstalled
from core.apps.events import AppUninstalled
from core.apps.models import App, AppAuthorizationCode, AppInstallation, AppToken
from core.apps.schemas import DeveloperView, InstallationView
from core.apps.scopes import ScopeCatalogue
from core.apps.tokens import effective_scopes
from core.apps.webhooks import say_uninstalled
from core.events.service import record_event
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import NotFound
from core.kernel.models import Tenant
from core.kernel.pagination import Page, PageRequest, paginate
from core.webhooks.schemas import Owner
from core.webhooks.service import disable_owned_endpoints

__all__ = ["get_installation", "list_installations", "uninstall"]


async def _views(
    session: AsyncSession, catalogue: ScopeCatalogue, installations: Sequence[AppInstallation]
) -> list[InstallationView]:
    app_ids = {i.app_id for i in installations}
    rows = await session.execute(
        select(App, Tenant).join(Tenant, Tenant.id == App.developer_tenant_id).where(App.id.in_(app_ids))
    )
    apps: dict[uuid.UUID, tuple[App, Tenant]] = {row[0].id: (row[0], row[1]) for row in rows}
    views = []
    for installation in installations:
        app, developer = apps[installation.app_id]
        views.append(
            InstallationView(
                id=installation.id,
                tenant_id=installation.tenant_id,
                app_id=app.id,
                client_id=app.client_id,
                app_name=app.name,
                developer=DeveloperView(tenant_id=developer.id, name=developer.name),
                granted_scopes=catalogue.describe(
                    effective_scopes(installation.granted_scopes, installation, app)
                ),
                installed_by=installation.installed_by,
                installed_at=installation.installed_at,
                uninstalled_at=installation.uninstalled_at,
                app_status=app.status,
                app_status_reason=app.status_reason,
                version=installation.version,
            )
        )
    return views


async def list_installations(
    session: AsyncSession, catalogue: ScopeCatalogue, page: PageRequest
) -> Page[InstallationView]:
    """The apps installed in the current tenant (uninstalled ones are left out)."""
    found = await paginate(
        session,
        select(AppInstallation).where(AppInstallation.uninstalled_at.is_(None)),
        AppInstallation.id,
        page,
        lambda installation: installation,
        sortable={"installed_at": AppInstallation.installed_at},
    )
    return Page(items=await _views(session, catalogue, found.items), next_cursor=found.next_cursor)


async def _installation(
    session: AsyncSession, installation_id: uuid.UUID, *, lock: bool = False
) -> AppInstallation:
    stmt = select(AppInstallation).where(AppInstallation.id == installation_id)
    installation = await session.scalar(stmt.with_for_update() if lock else stmt)
    if installation is None:
        raise NotFound()
    return installation


async def get_installation(
    session: AsyncSession, catalogue: ScopeCatalogue, installation_id: uuid.UUID
) -> InstallationView:
    return (await _views(session, catalogue, [await _installation(session, installation_id)]))[0]


async def uninstall(
    session: AsyncSession, installation_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Uninstall: every token of the installation stops working at once. Again: no change."""
    installation = await _installation(session, installation_id, lock=True)
    ensure_version(installation, expected_version)
    if installation.uninstalled_at is not None:
        return
    now = utcnow()
    installation.uninstalled_at = now
    await session.flush()
    await session.execute(
        update(AppToken)
        .where(AppToken.installation_id == installation.id, AppToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(AppAuthorizationCode)
        .where(
            AppAuthorizationCode.installation_id == installation.id, AppAuthorizationCode.used_at.is_(None)
        )
        .execution_options(synchronize_session=False)
    )
    await mark_uninstalled(session, installation.app_id, installation.tenant_id)
    event = AppUninstalled(app_id=installation.app_id, installation_id=installation.id)
    await say_uninstalled(session, installation, await record_event(session, event), event)
    await disable_owned_endpoints(session, Owner.app(installation.id))
