"""Seeded roles keep up with the permission registry.

A tenant's roles are seeded from the templates when it signs up, with the permissions known
then. A permission registered later — a new release of the core, a plugin installed on the
platform afterwards — would otherwise reach no existing tenant: not even its owner would hold
it, and nobody hands out what they do not hold. So a periodic platform job
(``security.sync_role_templates``) compares the registry with the catalogue it last saw
(``permission_catalogue``) and, when permissions were added, fans out one job per tenant
that gives them to the tenant's seeded roles as their declaration says (``templates``), and
to its owner role, which holds every permission.

Only permissions new to the catalogue are given: a permission an admin took away from a role
stays away. The first run records the catalogue and gives the owner roles what they lack.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Job, Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel.clock import utcnow
from core.security.models import PermissionCatalogue, Role
from core.security.rbac import PermissionRegistry, widest
from core.security.roles import OWNER

__all__ = ["SyncRoleTemplates", "role_sync_jobs", "sync_tenant_roles"]

_CATALOGUE = "current"


class SyncRoleTemplates(msgspec.Struct, forbid_unknown_fields=True):
    #: The permissions registered since the catalogue was last saved.
    added: list[str]


async def sync_tenant_roles(session: AsyncSession, registry: PermissionRegistry, added: list[str]) -> int:
    """Give the current tenant's seeded roles the ``added`` permissions their templates
    receive, and its owner role every registered permission; returns how many roles changed."""
    changed = 0
    for role in (await session.scalars(select(Role).where(Role.template.is_not(None)))).all():
        template = role.template or ""
        wanted = registry.template_grants(template)
        offered = wanted if template == OWNER else {n: s for n, s in wanted.items() if n in added}
        grants = dict(role.grants)
        for name, scope in offered.items():
            grants[name] = widest(grants[name], scope) if name in grants else scope
        if grants != role.grants:
            role.grants = grants
            changed += 1
    await session.flush()
    return changed


def role_sync_jobs(registry: PermissionRegistry) -> tuple[list[Job[object]], list[Periodic]]:
    """The jobs, bound to this process's registry (built with the installed plugins)."""

    @job("security.sync_tenant_roles", SyncRoleTemplates)
    async def sync_roles(ctx: JobContext, payload: SyncRoleTemplates) -> None:
        await sync_tenant_roles(ctx.session, registry, payload.added)

    @job("security.sync_role_templates", NoPayload, platform=True)
    async def sync_templates(ctx: JobContext, _: NoPayload) -> None:
        names = registry.names()
        catalogue = await ctx.session.scalar(
            select(PermissionCatalogue).where(PermissionCatalogue.name == _CATALOGUE).with_for_update()
        )
        if catalogue is None:
            catalogue = PermissionCatalogue(name=_CATALOGUE, permissions=[])
            ctx.session.add(catalogue)
            added: list[str] = []  # the first catalogue: nothing is "new" but the owners' due
        else:
            added = sorted(set(names) - set(catalogue.permissions))
            if not added:
                return
        # A process with fewer plugins never forgets what another one registered.
        catalogue.permissions = sorted(set(names) | set(catalogue.permissions))
        catalogue.updated_at = utcnow()
        await enqueue_for_each_tenant(ctx.session, sync_roles, SyncRoleTemplates(added=added))

    jobs: list[Job[object]] = [sync_roles, sync_templates]  # type: ignore[list-item]
    return jobs, [Periodic(sync_templates, every=timedelta(minutes=5))]
