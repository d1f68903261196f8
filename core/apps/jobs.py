"""Periodic clean-up of expired app codes and tokens (tenant-owned, so one job per tenant),
and of installations of apps deleted by their developer that the deletion's own job missed.

Rows are kept a day past their expiry: a code or refresh token replayed late is still
recognised as a replay (and revokes its family) instead of being merely unknown.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from core.apps.models import AppAuthorizationCode, AppToken
from core.apps.status import uninstall_deleted_apps
from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel.clock import utcnow

__all__ = ["GRACE", "JOBS", "PERIODIC"]

GRACE = timedelta(days=1)


@job("apps.purge_expired", NoPayload, platform=True)
async def purge_expired(ctx: JobContext, _: NoPayload) -> None:
    await enqueue_for_each_tenant(ctx.session, purge_expired_tokens, NoPayload())


@job("apps.purge_expired_tokens", NoPayload)
async def purge_expired_tokens(ctx: JobContext, _: NoPayload) -> None:
    """One tenant's app codes and tokens that expired more than :data:`GRACE` ago, and its
    installations of deleted apps."""
    await uninstall_deleted_apps(ctx.session)
    before = utcnow() - GRACE
    await ctx.session.execute(delete(AppAuthorizationCode).where(AppAuthorizationCode.expires_at < before))
    await ctx.session.execute(delete(AppToken).where(AppToken.expires_at < before))


JOBS = [purge_expired, purge_expired_tokens]
PERIODIC = [Periodic(purge_expired, every=timedelta(hours=6))]
