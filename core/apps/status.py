"""Stopping an app everywhere: its developer deletes it, or a platform admin suspends it (and
may resume it later).

Both take effect at once in every business that installed the app, before anything is
written in those businesses: every token check, every OAuth endpoint, the relay's audience
and the apps' webhook handlers read the app's status, a platform row. What must change inside
each business follows in a job per business (``apps.stop_installation``, enqueued in the same
transaction): for a deleted app the installation is uninstalled there (its tokens revoked,
its endpoint disabled, ``apps.uninstalled`` recorded for the business's own webhooks and
plugins); for a suspended one its endpoint is disabled, so the retries of deliveries made
before the suspension end ``dead`` instead of going out. A resumed app's endpoints come back
with its next event (each delivery brings the endpoint in step with the app).

The ``apps`` rows are writable only in their developer's tenant (row-level security), so a
platform admin's change is made in a transaction of that tenant, recorded in the developer's
audit trail with the admin as the actor and in the platform admins' log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.installations import uninstall
from core.apps.models import App, AppInstallation, AppStatus, AppTenant
from core.apps.schemas import DeveloperView, PlatformAppView
from core.apps.service import own_app
from core.audit.context import ActorType, audit_context
from core.jobs.context import JobContext
from core.jobs.registry import job
from core.jobs.service import enqueue
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.database import Database
from core.kernel.errors import Invalid, NotFound, one_of
from core.kernel.models import Tenant
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.tenancy import tenant_context
from core.security.models import PlatformAdminAction
from core.webhooks.schemas import Owner
from core.webhooks.service import disable_owned_endpoints

__all__ = [
    "JOBS",
    "StopInstallation",
    "delete_app",
    "find_app",
    "list_apps",
    "set_status",
    "stop_installation",
    "uninstall_deleted_apps",
]


class StopInstallation(msgspec.Struct, frozen=True):
    app_id: uuid.UUID


@job("apps.stop_installation", StopInstallation)
async def stop_installation(ctx: JobContext, payload: StopInstallation) -> None:
    """Bring this business's installation in step with its app's status (see the module)."""
    session = ctx.session
    app = await session.get(App, payload.app_id)
    installation = await session.scalar(
        select(AppInstallation).where(
            AppInstallation.app_id == payload.app_id, AppInstallation.uninstalled_at.is_(None)
        )
    )
    if app is None or installation is None:
        return
    if app.status == AppStatus.DELETED:
        await uninstall(session, installation.id)
    elif app.status == AppStatus.SUSPENDED:
        await disable_owned_endpoints(session, Owner.app(installation.id))


JOBS = [stop_installation]


async def uninstall_deleted_apps(session: AsyncSession) -> int:
    """Uninstall this business's installations of deleted apps; returns how many. The job a
    deletion enqueues does it at once; this catches the business that installed the app while
    the deletion was committing (it read the installing businesses before that install
    committed), from the periodic clean-up (:mod:`core.apps.jobs`)."""
    installation_ids = (
        await session.scalars(
            select(AppInstallation.id)
            .join(App, App.id == AppInstallation.app_id)
            .where(AppInstallation.uninstalled_at.is_(None), App.status == AppStatus.DELETED)
        )
    ).all()
    for installation_id in installation_ids:
        await uninstall(session, installation_id)
    return len(installation_ids)


async def _stop_everywhere(session: AsyncSession, app_id: uuid.UUID) -> None:
    tenant_ids = (await session.scalars(select(AppTenant.tenant_ref).where(AppTenant.app_id == app_id))).all()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            await enqueue(session, stop_installation, StopInstallation(app_id=app_id))


async def delete_app(
    session: AsyncSession, app_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """The developer deletes their app: it stops at once everywhere and is uninstalled from
    every business; it is gone from their list. Its client id is never given again."""
    app = await own_app(session, app_id, lock=True)
    ensure_version(app, expected_version)
    app.status = AppStatus.DELETED
    app.status_reason = None
    app.status_changed_at = utcnow()
    await session.flush()
    await _stop_everywhere(session, app.id)


async def _views(session: AsyncSession, apps: Sequence[App]) -> list[PlatformAppView]:
    ids = [app.id for app in apps]
    developers = dict(
        (
            await session.execute(
                select(Tenant.id, Tenant.name).where(Tenant.id.in_({a.developer_tenant_id for a in apps}))
            )
        ).all()
    )
    installed = dict(
        (
            await session.execute(
                select(AppTenant.app_id, func.count())
                .where(AppTenant.app_id.in_(ids))
                .group_by(AppTenant.app_id)
            )
        ).all()
    )
    return [
        PlatformAppView(
            id=app.id,
            client_id=app.client_id,
            name=app.name,
            developer=DeveloperView(
                tenant_id=app.developer_tenant_id, name=developers[app.developer_tenant_id]
            ),
            status=app.status,
            status_reason=app.status_reason,
            status_changed_at=app.status_changed_at,
            installations=int(installed.get(app.id, 0)),
            webhook_url=app.webhook_url,
            created_at=app.created_at,
        )
        for app in apps
    ]


async def list_apps(
    session: AsyncSession, page: PageRequest, query: str | None = None, status: str | None = None
) -> Page[PlatformAppView]:
    """Every registered app, for a platform admin: searched by name or client id, by status."""
    stmt = select(App)
    if query and query.strip():
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(App.name).like(pattern), App.client_id.like(pattern)))
    if status:
        stmt = stmt.where(App.status == one_of(status, AppStatus.ALL, "status"))
    found = await paginate(session, stmt, App.id, page, lambda app: app, sortable={"name": App.name})
    return Page(items=await _views(session, found.items), next_cursor=found.next_cursor)


async def find_app(session: AsyncSession, app_id: uuid.UUID) -> PlatformAppView:
    app = await session.get(App, app_id)
    if app is None:
        raise NotFound()
    return (await _views(session, [app]))[0]


async def set_status(
    session: AsyncSession, db: Database, admin_user_id: uuid.UUID, app_id: uuid.UUID, status: str, reason: str
) -> PlatformAppView:
    """A platform admin suspends an app (saying why: its developer and the businesses that
    installed it see the reason) or resumes it. A deleted app cannot be resumed."""
    app = await session.get(App, app_id)
    if app is None:
        raise NotFound()
    if status == AppStatus.SUSPENDED and not reason.strip():
        raise Invalid(
            "Say why the app is suspended; its developer and the businesses using it will see it.",
            field="reason",
            code="required",
        )
    developer = app.developer_tenant_id
    with tenant_context(developer), audit_context(ActorType.PLATFORM_ADMIN, admin_user_id):
        async with db.transaction() as theirs:
            locked = await theirs.get(App, app_id, with_for_update=True)
            if locked is None:
                raise NotFound()
            if locked.status == AppStatus.DELETED:
                raise Invalid("The app was deleted by its developer.", field="app_id", code="app_deleted")
            previous = locked.status
            if previous != status:
                locked.status = status
                locked.status_changed_at = utcnow()
            locked.status_reason = reason.strip() if status == AppStatus.SUSPENDED else None
            theirs.add(
                PlatformAdminAction(
                    admin_user_id=admin_user_id,
                    action=f"app.{'suspend' if status == AppStatus.SUSPENDED else 'resume'}",
                    target_tenant_id=developer,
                    detail={"app_id": str(app_id), "from": previous, "to": status, "reason": reason},
                )
            )
            await theirs.flush()
            if status == AppStatus.SUSPENDED and previous != status:
                await _stop_everywhere(theirs, app_id)
            return (await _views(theirs, [locked]))[0]
